#!/usr/bin/env python3
"""make bench, as Lambda runs the functions: a slice of a core, and TLS on every AWS call.

Each function's release bootstrap runs against a loopback Runtime API (bench.py's), in a CPU
quota of its memory size's share (Lambda gives 1,769 MB one vCPU, so 128 MB gets 128/1769 of
one), with every AWS call going over TLS to a loopback endpoint in front of moto whose CA is
appended to the system bundle (SSL_CERT_FILE). Per memory size (128, 256, 512, 1024 MB, and the
full core):

  cold   spawn -> the first real callback done (ingress: hand-off made and 202; sms: claim,
         limits, publish, record; email; session-status; video-call), median of COLD_RUNS
  warm   the next real callbacks in the same process, median of WARM_RUNS; each is a new
         session and recipient, so every one does the whole work
  own    a warm callback less the time the TLS front waited for moto behind it: the function's
         own time with an endpoint that answers at once (TLS and the front's work stay in it)
  cold CPU  the CPU time of a cold start, median of the runs with no warm callbacks (every
         run but the first): what wall time under the quota is made of, without its jumps

Beside them, in the same run: the floor (the smallest lambda_runtime echo, no TLS), the TLS
floor (the smallest function making one AWS call over the same TLS stack and trust store) and
the Python + boto3 peer of the ingress (scripts/python_peer.py). Then the cost of a million
callbacks per function and size, at Lambda's x86_64 and arm64 prices (a power-tuning table).

The quota needs a writable cgroup (v2 `cpu.max` or v1 `cpu.cfs_quota_us`, as root); without one
the sized columns are skipped and said so. Environment: COLD_RUNS (7), WARM_RUNS (100),
SIZES (128,256,512,1024,full), FUNCTIONS (all), SKIP_BUILD=1 to measure the binaries built last,
BINARIES=DIR to measure DIR/<function> instead (another build, for a before and after),
PEER=0 to leave the Python peer out, BENCH_ENV="NAME=value;NAME=value" to set variables of
the functions' (a setting an older build reads under another name, for a before and after),
CALLGRIND=1 to count each cold start's instructions under valgrind (repeatable, for a before
and after of a few milliseconds; the times are then valgrind's), TRUST_BUNDLE=amazon to trust the five Amazon roots plus the loopback CA instead of the system
bundle plus it (what the default trust store costs against a full bundle).
"""
import datetime
import http.client
import json
import math
import os
import pathlib
import ssl
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "local"))  # the local stand-ins

import bench  # noqa: E402
import lambda_emulator  # noqa: E402

ROOT = bench.ROOT
OUT = ROOT / "target" / "lambda-bench"
COLD_RUNS = int(os.environ.get("COLD_RUNS", "7"))
WARM_RUNS = int(os.environ.get("WARM_RUNS", "100"))
SIZES = os.environ.get("SIZES", "128,256,512,1024,full").split(",")
ONE_VCPU_MB = 1769
PERIOD_US = 20_000
# USD, us-east-1, first pricing tier.
PRICE_PER_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
PRICE_PER_MILLION_REQUESTS = 0.20
FLOOR_TLS = "floor-tls"
PEER = "python-peer"
ALL = bench.FUNCTIONS
FUNCTIONS = [f for f in os.environ.get("FUNCTIONS", ",".join(ALL)).split(",") if f]
BINARIES = os.environ.get("BINARIES")


def certificates() -> pathlib.Path:
    """A CA, a certificate for localhost signed by it, and the system bundle with the CA
    appended: what SSL_CERT_FILE points the functions at."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    OUT.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lambda-bench CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (OUT / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (OUT / "leaf.key").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    # The system bundle, as the issue of record measured it; or the five Amazon roots the
    # functions trust by default, to see what the smaller store saves.
    if os.environ.get("TRUST_BUNDLE", "system") == "amazon":
        roots = (ROOT / "shared" / "certs" / "amazon-trust-services.pem").read_bytes()
    else:
        roots = next(p for p in map(pathlib.Path, bench_bundles()) if p.exists()).read_bytes()
    bundle = OUT / "bundle.pem"
    bundle.write_bytes(roots + b"\n" + ca.public_bytes(pem))
    return bundle


def bench_bundles() -> list[str]:
    return ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/cert.pem"]


class TlsFront:
    """HTTPS on loopback in front of moto; Lambda's Invoke API answered 202 at once, as an
    asynchronous invoke is."""

    def __init__(self, moto_url: str):
        upstream = moto_url.removeprefix("http://")
        # Seconds spent waiting for moto, summed: what an endpoint answering at once would save;
        # and the AWS calls made, so each function's share beyond the calls can be told apart.
        self.waited = 0.0
        self.calls = 0
        lock = threading.Lock()
        front = self

        class Handler(lambda_emulator.Quiet):
            def forward(self):
                body = self.body()
                with lock:
                    front.calls += 1
                if "/functions/" in self.path and self.path.endswith("/invocations"):
                    return self.reply(202)
                began = time.perf_counter()
                connection = http.client.HTTPConnection(upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request(self.command, self.path, body, headers)
                response = connection.getresponse()
                answer = response.read()
                connection.close()
                with lock:
                    front.waited += time.perf_counter() - began
                # One write (Quiet.reply): written apart, Nagle's algorithm would hold the body
                # back until the client's delayed ACK, 40 ms per call the functions would be
                # blamed for.
                self.reply(response.status, answer,
                           [(k, v) for k, v in response.getheaders()
                            if k.lower() in ("content-type", "x-amzn-requestid")])

            do_GET = do_POST = do_PUT = do_DELETE = forward

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(OUT / "leaf.pem", OUT / "leaf.key")
        self.server = lambda_emulator.serve(Handler, context)
        self.url = f"https://localhost:{self.server.server_address[1]}"


class Quota:
    """A cgroup whose CPU quota is `mb`'s share of one core, or none for the full core."""

    def __init__(self, mb: str):
        self.mb = mb
        self.procs = None
        if mb == "full":
            return
        share = int(PERIOD_US * int(mb) / ONE_VCPU_MB)
        if cgroup_v2():
            group = pathlib.Path(f"/sys/fs/cgroup/lambda-bench-{mb}")
            group.mkdir(exist_ok=True)
            (group / "cpu.max").write_text(f"{share} {PERIOD_US}")
        else:
            group = pathlib.Path(f"/sys/fs/cgroup/cpu/lambda-bench-{mb}")
            group.mkdir(exist_ok=True)
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(share))
        self.procs = group / "cgroup.procs"

    def enter(self):
        """For Popen's preexec_fn: the child joins the group before it runs anything."""
        if self.procs is not None:
            self.procs.write_text(str(os.getpid()))


def cgroup_v2() -> bool:
    """Whether the machine has the unified hierarchy with the cpu controller."""
    controllers = pathlib.Path("/sys/fs/cgroup/cgroup.controllers")
    return controllers.exists() and "cpu" in controllers.read_text()


def writable_cgroup() -> str | None:
    try:
        Quota("128")
    except OSError:
        return None
    return "cgroup v2 cpu.max" if cgroup_v2() else "cgroup v1 cpu.cfs_quota_us"


counter = iter(range(10**9))
# AWS calls per warm callback, by function (the last one counted), and the mean CPU time of a
# warm callback by function and size: unlike wall time under a quota, CPU time does not jump
# by a whole CFS period when a callback needs a little more than what is left of one.
CALLS: dict[str, int] = {}
CPU_MS: dict[tuple[str, str], float] = {}
# The median CPU time of a cold start (spawn to the first callback done) by function and size,
# from the kernel's accounting of the whole process (wait4), precise to the microsecond where
# wall time under a quota moves in whole CFS periods: at 128 MB, 1 ms of CPU is about 14 ms
# of wall time, so this is the figure that tells a few milliseconds of cold start apart.
COLD_CPU_MS: dict[tuple[str, str], float] = {}
# CALLGRIND=1: each process runs under valgrind's callgrind, and a cold start is also counted in
# instructions (spawn to the first callback done, and the next poll): the same count for the
# same binary, inputs and environment whatever else the machine does, where CPU time varies by
# a few milliseconds from run to run. Times under it are valgrind's, not the function's.
CALLGRIND = os.environ.get("CALLGRIND") == "1"
COLD_INSTRUCTIONS: dict[tuple[str, str], list[int]] = {}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (/proc/PID/stat)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def event(name: str) -> bytes:
    """A real callback of `name`'s, never seen before (bench.py's, for the peer the
    ingress's and for the TLS floor the floor's)."""
    stand_in = {PEER: "ingress", FLOOR_TLS: bench.FLOOR}.get(name, name)
    return bench.work_event(stand_in, next(counter) + 10_000)


def command(name: str) -> list[str]:
    if CALLGRIND and name != PEER:
        return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={OUT}/callgrind.%p",
                *command_of(name)]
    return command_of(name)


def command_of(name: str) -> list[str]:
    if name == PEER:
        return [str(bench.VENV_BIN / "python"), str(ROOT / "scripts" / "bench" / "python_peer.py")]
    if BINARIES:
        return [str(pathlib.Path(BINARIES) / name)]
    return [str(bench.binary(name))]


def run(name: str, quota: Quota, env: dict, warm: int,
        front: TlsFront) -> tuple[float, list[float], list[float], float]:
    """One process: its cold start to the first callback done, then `warm` more callbacks,
    each also less the time the front waited for moto during it; and the CPU time the
    process used in all (with no warm callbacks: its cold start's, and its next poll's)."""
    api = bench.RuntimeApi()
    api.push(event(name))
    start = time.perf_counter()
    process = subprocess.Popen(command(name), env=dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{api.port}"),
                               stdout=subprocess.DEVNULL, stderr=bench.LOG, preexec_fn=quota.enter)
    try:
        api.wait_answers(1, timeout=120)
        cold = (api.answers[0][0] - start) * 1000
        warms, owns = [], []
        cpu_before = cpu_seconds(process.pid)
        for n in range(warm):
            waited, calls = front.waited, front.calls
            api.push(event(name))
            sent = time.perf_counter()
            api.wait_answers(n + 2, timeout=60)
            warms.append((api.answers[n + 1][0] - sent) * 1000)
            owns.append(warms[-1] - (front.waited - waited) * 1000)
            CALLS[name] = front.calls - calls
        if warm:
            CPU_MS[(name, quota.mb)] = (cpu_seconds(process.pid) - cpu_before) * 1000 / warm
        errors = [kind for _, kind in api.answers if kind == "error"]
        if errors:
            raise SystemExit(f"{name} answered {len(errors)} invocations with an error: "
                             f"see target/bench-functions.log")
    finally:
        if CALLGRIND and name != PEER:
            # Callgrind writes its counts when the program ends on a signal it can see.
            process.terminate()
        else:
            process.kill()
        _, _, usage = os.wait4(process.pid, 0)
        process.returncode = -9
        api.close()
    if CALLGRIND and name != PEER and not warm:
        out = OUT / f"callgrind.{process.pid}"
        totals = [line for line in out.read_text().splitlines() if line.startswith("totals:")]
        COLD_INSTRUCTIONS.setdefault((name, quota.mb), []).append(int(totals[0].split()[1]))
        out.unlink()
    return cold, warms, owns, (usage.ru_utime + usage.ru_stime) * 1000


def measure(name: str, mb: str, env: dict, front: TlsFront) -> tuple[float, float, float]:
    quota = Quota(mb)
    colds, warms, owns, cold_cpus = [], [], [], []
    for r in range(COLD_RUNS):
        cold, w, o, cpu = run(name, quota, env, WARM_RUNS if r == 0 else 0, front)
        colds.append(cold)
        warms += w
        owns += o
        if r > 0 or not WARM_RUNS:
            cold_cpus.append(cpu)
    nan = float("nan")
    COLD_CPU_MS[(name, mb)] = statistics.median(cold_cpus) if cold_cpus else nan
    return (statistics.median(colds), statistics.median(warms) if warms else nan,
            statistics.median(owns) if owns else nan)


def usd_per_million(mb: str, warm_ms: float, arch: str) -> float:
    if math.isnan(warm_ms):
        return float("nan")
    memory = ONE_VCPU_MB if mb == "full" else int(mb)
    billed_seconds = math.ceil(warm_ms) / 1000
    return PRICE_PER_MILLION_REQUESTS + 1e6 * billed_seconds * memory / 1024 * PRICE_PER_GB_SECOND[arch]


def main() -> int:
    cgroup = writable_cgroup()
    sizes = SIZES if cgroup else [s for s in SIZES if s == "full"]
    print(f"==> CPU quota: {cgroup or 'no writable cgroup: only the full-core column'}", flush=True)
    env_build = dict(os.environ, PATH=f"{bench.VENV_BIN}:{os.environ.get('PATH', '')}")
    bins = [a for n in FUNCTIONS + [bench.FLOOR, FLOOR_TLS] for a in ("--bin", n)]
    if os.environ.get("SKIP_BUILD") != "1" and not BINARIES:
        print("==> building release binaries (cargo lambda build --release)", flush=True)
        if subprocess.run(["cargo", "lambda", "build", "--release", *bins], cwd=ROOT,
                          env=env_build).returncode != 0:
            return 1
    bundle = certificates()
    moto, moto_url = bench.start_moto()
    try:
        front = TlsFront(moto_url)
        env = bench.environment(0, None)
        env.update({
            "AWS_ENDPOINT_URL": front.url, "AWS_ENDPOINT_URL_LAMBDA": front.url,
            "SSL_CERT_FILE": str(bundle), "AWS_CA_BUNDLE": str(bundle),
            "SMS_MAX_PER_HOUR": "100000", "SMS_PER_SESSION_PER_HOUR": "100",
            "AWS_DEFAULT_REGION": "us-east-1",
        })
        env.update(pair.split("=", 1) for pair in os.environ.get("BENCH_ENV", "").split(";")
                   if "=" in pair)
        names = [bench.FLOOR, FLOOR_TLS] + FUNCTIONS
        if os.environ.get("PEER", "1") != "0":
            names.append(PEER)
        results: dict[tuple[str, str], tuple[float, float, float]] = {}
        for mb in sizes:
            for name in names:
                results[(name, mb)] = measure(name, mb, env, front)
                cold, warm, own = results[(name, mb)]
                print(f"  {mb:>5} MB  {name:16} cold {cold:8.1f} ms  warm {warm:7.2f} ms  "
                      f"own {own:7.2f} ms  cold CPU {COLD_CPU_MS[(name, mb)]:6.2f} ms", flush=True)
                if (name, mb) in COLD_INSTRUCTIONS:
                    counts = COLD_INSTRUCTIONS[(name, mb)]
                    print(f"  {mb:>5} MB  {name:16} cold instructions {statistics.median(counts):,.0f}"
                          f" (median of {len(counts)}, {min(counts):,} to {max(counts):,})",
                          flush=True)
        report(names, sizes, results)
    finally:
        moto.kill()
        moto.wait()
    return 0


def report(names: list[str], sizes: list[str], results: dict) -> None:
    print()
    for mb in sizes:
        label = "full core (1,769 MB and up)" if mb == "full" else f"{mb} MB ({int(mb) / ONE_VCPU_MB:.1%} of a core)"
        print(f"### {label}\n")
        # Beyond the floors: the runtime's own round trip (floor-echo) and, per AWS call, what
        # one call costs the TLS floor over floor-echo (TLS, the front, the SDK's request).
        echo_own = results[(bench.FLOOR, mb)][2]
        per_call = results[(FLOOR_TLS, mb)][2] - echo_own
        print("| function | cold, median | warm, median | own (endpoint at once), median "
              "| AWS calls | own beyond the floors | CPU per warm callback | CPU per cold start "
              "| cold x TLS floor |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        tls_floor = results[(FLOOR_TLS, mb)][0]
        for name in names:
            cold, warm, own = results[(name, mb)]
            calls = CALLS.get(name, 0)
            beyond = own - echo_own - calls * per_call
            cpu = CPU_MS.get((name, mb), float("nan"))
            print(f"| {name} | {cold:.1f} ms | {warm:.2f} ms | {own:.2f} ms | {calls} | "
                  f"{beyond:.2f} ms | {cpu:.2f} ms | {COLD_CPU_MS.get((name, mb), float('nan')):.2f} ms "
                  f"| {cold / tls_floor:.2f} |")
        print()
    print("### USD per million callbacks (warm, billed by the millisecond, plus requests)\n")
    print("| function | " + " | ".join(f"{mb} MB x86 / arm" for mb in sizes) + " |")
    print("| --- |" + " --- |" * len(sizes))
    for name in FUNCTIONS:
        cells = []
        for mb in sizes:
            warm = results[(name, mb)][1]
            cells.append(f"{usd_per_million(mb, warm, 'x86_64'):.2f} / {usd_per_million(mb, warm, 'arm64'):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    (OUT / "results.json").write_text(json.dumps({f"{n}@{m}": v for (n, m), v in results.items()}))


if __name__ == "__main__":
    sys.exit(main())
