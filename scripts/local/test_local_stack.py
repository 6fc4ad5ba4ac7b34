"""The local stack never outlives its caller: however `make local` ends, every process it
started stops and both of its ports are free again.

Each case starts the real stack (`make local` on free ports) the way a script drives it, with
its output piped to a parent, and then ends it one way."""
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
READY = "Callback API key:"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def children() -> dict[int, int]:
    """Every process's parent, from /proc."""
    parents = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command may hold spaces and parentheses: the fields follow the last ')'.
        parents[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    return parents


def descendants(root: int) -> set[int]:
    parents = children()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# A parent as a script is one: it starts `make local` with the output piped to itself, reads
# until the stack is up, says so, and waits. Told "stop", it does what was seen twice: it stops
# reading (the pipe closes), sends SIGTERM to its process group, itself and the stack included,
# and exits.
PARENT = f"""
import os, signal, subprocess, sys
stack = subprocess.Popen(["make", "--no-print-directory", "local"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
print(stack.pid, flush=True)
for line in stack.stdout:
    if line.startswith({READY!r}):
        print("ready", flush=True)
        break
if sys.stdin.readline().strip() == "stop":
    stack.stdout.close()
    os.killpg(0, signal.SIGTERM)
"""


class TheStackNeverOutlivesItsCaller(unittest.TestCase):
    def start(self):
        moto_port, lambda_port = free_port(), free_port()
        env = dict(os.environ, MOTO_PORT=str(moto_port), LAMBDA_PORT=str(lambda_port))
        # A session of its own, so that "its process group" is the parent's and make's.
        parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, env=env, text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  start_new_session=True)
        make = int(parent.stdout.readline())
        ready = parent.stdout.readline().strip()
        started = descendants(parent.pid)
        self.addCleanup(self.force_stop, parent, started)
        self.assertEqual(ready, "ready", "make local did not come up (target/local-stack/)")
        self.assertFalse(port_free(moto_port) or port_free(lambda_port))
        return parent, make, started, (moto_port, lambda_port)

    @staticmethod
    def force_stop(parent, started):
        parent.stdout.close()
        if parent.stdin and not parent.stdin.closed:
            parent.stdin.close()
        for pid in started | {parent.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        parent.wait()

    def assert_all_stopped(self, started, ports, within=30):
        deadline = time.time() + within
        while time.time() < deadline:
            left = sorted(pid for pid in started if alive(pid))
            if not left and all(port_free(p) for p in ports):
                return
            time.sleep(0.5)
        commands = {pid: pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()[:80] for pid in left
                    if alive(pid)}
        self.fail(f"still running after {within} s: {commands}; ports free: "
                  f"{[port_free(p) for p in ports]}")

    def test_sigterm_to_the_group_after_the_pipe_closed(self):
        parent, _, started, ports = self.start()
        parent.stdin.write("stop\n")
        parent.stdin.close()
        self.assertEqual(parent.wait(10), -signal.SIGTERM)
        self.assertGreater(len(started), 4, "make, the stack, moto, cargo lambda, the reaper")
        self.assert_all_stopped(started, ports)

    def test_the_parent_gone_without_a_word(self):
        parent, _, started, ports = self.start()
        # No signal reaches the stack: only its output pipe loses its reader.
        parent.kill()
        parent.wait()
        self.assert_all_stopped(started, ports)

    def test_the_stack_itself_killed_outright(self):
        parent, make, started, ports = self.start()
        stack = [pid for pid in descendants(make) if b"local_stack.py" in
                 pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()]
        self.assertEqual(len(stack), 1)
        os.kill(stack[0], signal.SIGKILL)
        self.assert_all_stopped(started, ports)
        parent.kill()
        parent.wait()


if __name__ == "__main__":
    unittest.main()
