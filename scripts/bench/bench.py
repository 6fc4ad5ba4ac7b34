#!/usr/bin/env python3
"""make bench: cold start, memory and size of every function's release binary, in one table.

Each function runs as it does in Lambda, against a loopback fake of the Lambda Runtime API:
  cold start  spawn -> GET next -> the handler's answer posted, median of RUNS starts, beside
              the floor (a minimal lambda_runtime echo function built with the same profile)
  memory      peak resident set over INVOCATIONS invocations of one process, and its growth
              from the first invocation to the last (a leak shows as growth)
  size        the stripped bootstrap and its zip

The key comes from the environment and region and credentials are static: nothing goes to the
network during init. The cold-start events need no network either (a wrong key for the
ingress; an envelope of another family for the families, answered with an error at once). The
memory runs do the real work against a moto server on loopback.

Environment: RUNS (21), INVOCATIONS (1000). Built for the host's architecture.
"""
import http.server
import io
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import threading
import time
import zipfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "local"))  # the local stand-ins

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
RUNS = int(os.environ.get("RUNS", "21"))
INVOCATIONS = int(os.environ.get("INVOCATIONS", "1000"))
# The host's architecture: cross-building for the other needs Zig and its Rust target.
TARGET = f"{os.uname().machine}-unknown-linux-gnu"
FUNCTIONS = ["ingress", "sms", "email", "session-status", "video-call", "notify", "receipts"]
EVENT_BUS = "bench-callbacks"
FLOOR = "floor-echo"
SAMPLES = ROOT / "events"
KEY = "apikey123"
(ROOT / "target").mkdir(exist_ok=True)
LOG = open(ROOT / "target" / "bench-functions.log", "w")


class RuntimeApi:
    """The Lambda Runtime API, enough of it: next, response, error, init error. Also answers
    the Lambda Invoke API with 202, for the ingress's hand-off."""

    def __init__(self):
        self.events: list[bytes] = []
        # close() starts a new generation, which wakes a `next` still waiting for a killed
        # process so that the server can shut down.
        self.generation = 0
        self.answered = threading.Condition()
        self.answers: list[tuple[float, str]] = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                # One request per connection: no pooled connection of a killed process, or
                # one the server dropped, is ever reused.
                self.send_header("Connection", "close")
                self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self.reply(404)
                with api.answered:
                    generation = api.generation
                    while not api.events and generation == api.generation:
                        api.answered.wait()
                    if generation != api.generation:
                        self.close_connection = True
                        return
                    event = api.events.pop(0)
                request_id = f"bench-{time.monotonic_ns()}"
                self.reply(200, event, [
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000)),
                    ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench"),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                    ("Content-Type", "application/json"),
                ])

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if "/functions/" in self.path and self.path.endswith("/invocations"):
                    return self.reply(202)
                kind = "error" if self.path.endswith("/error") else "response"
                self.reply(202, b"{}")
                with api.answered:
                    api.answers.append((time.perf_counter(), kind))
                    api.answered.notify_all()

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a killed function's connection: expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def push(self, event: bytes):
        with self.answered:
            self.events.append(event)
            self.answered.notify_all()

    def wait_answers(self, count: int, timeout: float = 60):
        deadline = time.time() + timeout
        with self.answered:
            while len(self.answers) < count:
                left = deadline - time.time()
                if left <= 0:
                    raise SystemExit(f"the function answered {len(self.answers)} of {count} invocations")
                self.answered.wait(left)

    def close(self):
        with self.answered:
            self.generation += 1
            self.answered.notify_all()
        self.server.shutdown()
        self.server.server_close()


def environment(api_port: int, aws_endpoint: str | None) -> dict:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api_port}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SESSIONS_TABLE": "bench-sessions",
        "CALLBACK_API_KEY": KEY,
        "SMS_FUNCTION_NAME": "sms",
        "EMAIL_FUNCTION_NAME": "email",
        "SESSION_STATUS_FUNCTION_NAME": "session-status",
        "VIDEO_CALL_FUNCTION_NAME": "video-call",
        "EMAIL_FROM_ADDRESS": "no-reply@verify.example.com",
        "SMS_ALLOWED_COUNTRIES": "*",
        "EVENT_BUS_NAME": EVENT_BUS,
        "RUST_LOG": "off",
    }
    if aws_endpoint:
        env["AWS_ENDPOINT_URL"] = aws_endpoint
        env["AWS_ENDPOINT_URL_LAMBDA"] = f"http://127.0.0.1:{api_port}"
    return env


def apigw(body: dict) -> bytes:
    event = json.loads((SAMPLES / "ingress" / "session-change.json").read_text())
    event["body"] = json.dumps(body)
    return json.dumps(event).encode()


def envelope(callback: dict, i: int) -> bytes:
    received = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    return json.dumps({"requestId": f"bench-{i}", "receivedAt": received, "callback": callback}).encode()


def sample(name: str) -> dict:
    return json.loads((SAMPLES / "callbacks" / f"{name}.json").read_text())


def cold_event(function: str) -> bytes:
    """An event each function answers without the network."""
    if function == "ingress":
        body = sample("session-change")
        body["callbackApiKey"] = "not-the-key"
        return apigw(body)
    if function == FLOOR:
        return b'{"hello":"world"}'
    if function == "receipts":
        # An SES event of a kind not recorded (an open): ignored without a call.
        event = json.loads((SAMPLES / "receipts" / "email-delivered.json").read_text())
        event["detail"]["eventType"] = "Open"
        return json.dumps(event).encode()
    if function == "notify":
        # A removal (TTL) is no event: answered without a call.
        batch = stream_batch(0)
        batch["Records"] = [dict(batch["Records"][0], eventName="REMOVE")]
        return json.dumps(batch).encode()
    other = "video-call-status-update-empty" if function != "video-call" else "session-change"
    callback = {k: v for k, v in sample(other).items() if k != "callbackApiKey"}
    return envelope(callback, 0)


def work_event(function: str, i: int) -> bytes:
    """Real work: a different callback each time, so nothing is deduplicated away."""
    if function == "ingress":
        body = sample("session-change")
        body["sessionId"] = f"bench{i}"
        return apigw(body)
    if function == FLOOR:
        return json.dumps({"i": i}).encode()
    if function == "notify":
        return json.dumps(stream_batch(i)).encode()
    if function == "receipts":
        # SES's Delivery receipt of a message id the table does not hold: the Query that finds
        # a record, without the UpdateItem that moves one (the bench's table holds none).
        event = json.loads((SAMPLES / "receipts" / "email-delivered.json").read_text())
        event["detail"]["mail"]["messageId"] = f"bench-{i}"
        return json.dumps(event).encode()
    name = {
        "sms": "one-time-password-request",
        "email": "email-one-time-password-request",
        "session-status": "session-change",
        "video-call": "video-call-status-update-available",
    }[function]
    callback = {k: v for k, v in sample(name).items() if k != "callbackApiKey"}
    callback["sessionId"] = f"bench{i}"
    # Another recipient each time, as in life: the hourly limit counts per recipient.
    if function == "sms":
        callback["text"] = f"Your code is {i}"
        callback["phoneNumber"] = f"+9955990{i:05d}"
    if function == "email":
        callback["content"] = f"Your code is {i}"
        callback["address"] = f"user{i}@example.com"
    return envelope(callback, i)


def stream_batch(i: int) -> dict:
    """events/notify/'s batch (a first status, a video file becoming available: three events,
    one PutEvents) as session `bench{i}`'s, so each is new."""
    text = (SAMPLES / "notify" / "table-changes.json").read_text()
    for session in ("ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp", "ypsgyus3eh0c6b7aavzcmw9yhk3dhn8uyvq0p9vj"):
        text = text.replace(session, f"bench{i}{session[:8]}")
    return json.loads(text.replace('"sample-0', f'"bench{i}-'))


def binary(name: str) -> pathlib.Path:
    return ROOT / "target" / "lambda" / name / "bootstrap"


def cold_starts(name: str) -> float:
    times = []
    for _ in range(RUNS):
        # A Runtime API of its own for each process: nothing of a killed one can interfere.
        api = RuntimeApi()
        api.push(cold_event(name))
        start = time.perf_counter()
        process = subprocess.Popen([binary(name)], env=environment(api.port, None),
                                   stdout=subprocess.DEVNULL, stderr=LOG)
        api.wait_answers(1)
        times.append((api.answers[0][0] - start) * 1000)
        process.kill()
        process.wait()
        api.close()
    return statistics.median(times)


def rss_kib(pid: int, field: str) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def memory(name: str, moto_url: str) -> tuple[float, float, int]:
    api = RuntimeApi()
    process = subprocess.Popen([binary(name)], env=environment(api.port, moto_url),
                               stdout=subprocess.DEVNULL, stderr=LOG)
    api.push(work_event(name, 0))
    api.wait_answers(1)
    first = rss_kib(process.pid, "VmRSS")
    for i in range(1, INVOCATIONS):
        api.push(work_event(name, i))
        api.wait_answers(i + 1)
    last = rss_kib(process.pid, "VmRSS")
    peak = rss_kib(process.pid, "VmHWM")
    errors = sum(1 for _, kind in api.answers if kind == "error")
    process.kill()
    process.wait()
    api.close()
    return peak / 1024, (last - first) / 1024, errors


def zipped_size(path: pathlib.Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    return len(buffer.getvalue())


def start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The same single-threaded launcher as the tests and the local stack.
    moto = subprocess.Popen([str(VENV_BIN / "python"), str(ROOT / "scripts" / "local" / "moto_server.py"),
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import boto3

    import template
    kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
              aws_secret_access_key="testing")
    for _ in range(100):
        try:
            template.create_sessions_table(boto3.client("dynamodb", **kw), "bench-sessions")
            break
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    boto3.client("ses", **kw).verify_email_identity(EmailAddress="no-reply@verify.example.com")
    boto3.client("events", **kw).create_event_bus(Name=EVENT_BUS)
    return moto, url


def main() -> int:
    print(f"==> building release binaries for {TARGET} (cargo lambda build --release)", flush=True)
    env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    bins = [arg for name in FUNCTIONS + [FLOOR] for arg in ("--bin", name)]
    build = subprocess.run(["cargo", "lambda", "build", "--release", *bins], cwd=ROOT, env=env)
    if build.returncode != 0:
        return 1
    moto, moto_url = start_moto()
    rows = []
    try:
        print(f"==> {RUNS} cold starts and {INVOCATIONS} invocations per function", flush=True)
        floor = cold_starts(FLOOR)
        for name in [FLOOR] + FUNCTIONS:
            print(f"    {name} ({time.strftime('%X')})", flush=True)
            cold = floor if name == FLOOR else cold_starts(name)
            peak, growth, errors = memory(name, moto_url)
            size = binary(name).stat().st_size
            rows.append((name, cold, cold / floor, peak, growth, errors, size, zipped_size(binary(name))))
    finally:
        moto.kill()
        moto.wait()

    head = ["function", "cold start ms", "x floor", "peak RSS MB", "RSS growth MB",
            f"errors/{INVOCATIONS}", "bootstrap MB", "zip MB"]
    print()
    print(" | ".join(head))
    print("|".join("---" for _ in head))
    ok = True
    for name, cold, ratio, peak, growth, errors, size, zsize in rows:
        print(f"{name} | {cold:.1f} | {ratio:.2f} | {peak:.1f} | {growth:+.2f} | {errors} | "
              f"{size / 1e6:.2f} | {zsize / 1e6:.2f}")
        if name != FLOOR:
            ok &= ratio <= 2 and peak <= 20 and size <= 6e6 and errors == 0
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"\n{os.cpu_count()} cores, {cpu}, {TARGET}; targets: cold start <= 2x floor, "
          f"peak RSS <= 20 MB, bootstrap <= 6 MB, no errors")
    print("all on target" if ok else "NOT all on target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
