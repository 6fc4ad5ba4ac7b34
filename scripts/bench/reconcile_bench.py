#!/usr/bin/env python3
"""make bench-reconcile: what one session reconciled costs, as Lambda runs the reconcile function.

The release bootstrap runs against a loopback Runtime API in a CPU quota of its memory size's
share (lambda_bench.py's cgroup; 128 MB gets 128/1769 of a core), with every call over TLS to a
loopback front: AWS (moto, the key read from its Secrets Manager as deployed) on one host and
the local Identomat (scripts/local/identomat_api.py) on another, trusted through SSL_CERT_FILE.
SESSIONS open sessions are due; one scheduled run (`{"action": "due"}`) asks them all, half
answering `approved` (a status changed) and half `in_progress` (observed). Per memory size:

  cold run   spawn -> the run's answer: the cold start, the secret, and SESSIONS questions
  warm run   the next run in the same process, over the same number of sessions due again
  per session  the warm run's wall and CPU time divided by SESSIONS, and the same less what the
             fronts waited for moto and the stand-in (the function's own time)
  calls      AWS requests and Identomat requests per session, counted at the fronts

Then what a thousand sessions reconciled cost at that size: Lambda's GB-seconds and requests,
DynamoDB's on-demand requests, at us-east-1 prices.

Environment: SESSIONS (100), SIZES (128,full), SKIP_BUILD=1 to measure the binary built last.
"""
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "local"))

import bench  # noqa: E402
import lambda_bench  # noqa: E402

ROOT = bench.ROOT
SESSIONS = int(os.environ.get("SESSIONS", "100"))
SIZES = os.environ.get("SIZES", "128,full").split(",")
COMPANY_KEY = "company-key-bench"
TABLE = "bench-sessions"
# USD, us-east-1, on demand: DynamoDB per million write and read request units (the prices of
# November 2024), Lambda per million requests; GB-seconds from lambda_bench.
DYNAMODB_WRITE = 0.625
DYNAMODB_READ = 0.125
LAMBDA_REQUESTS = 0.20
# Request units per session of the run's mix, read from the code's requests: a changed one
# reads the status and the reconcile record (2 consistent reads, under 4 KB each) and writes
# both (a status of a short history and the reconcile record, under 1 KB each), and its index
# entry leaves (1 index write); an observed one reads and writes the reconcile record, and its
# index entry moves to the next due time (2 index writes: a key change is a delete and a put).
READS = (2 + 1) / 2
WRITES = (2 + 1 + 1 + 2) / 2


def open_sessions(dynamodb, prefix: str) -> list[str]:
    """SESSIONS reconcile records opened two hours ago, due now, as the stream leaves them."""
    opened = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 7200))
    due = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 3600))
    ids = [f"{prefix}-{i:04d}" for i in range(SESSIONS)]
    for session in ids:
        dynamodb.put_item(TableName=TABLE, Item={
            "sessionId": {"S": session}, "record": {"S": "reconcile"}, "state": {"S": "open"},
            "openedAt": {"S": opened}, "openedBy": {"S": "delivery"}, "step": {"N": "0"},
            "attempts": {"N": "0"}, "version": {"N": "1"},
            "reconcileQueue": {"S": "open"}, "reconcileDueAt": {"S": due}})
    return ids


def answers(ids: list[str]) -> dict:
    return {s: {"result": "approved" if i % 2 == 0 else "in_progress",
                "person": {"first_name": "Bench", "personal_number": f"{i:011d}"}}
            for i, s in enumerate(ids)}


def main() -> int:
    import boto3

    if os.environ.get("SKIP_BUILD") != "1":
        print("==> building the reconcile bootstrap (cargo lambda build --release)", flush=True)
        env = dict(os.environ, PATH=f"{bench.VENV_BIN}:{os.environ.get('PATH', '')}")
        if subprocess.run(["cargo", "lambda", "build", "--release", "--bin", "reconcile"],
                          cwd=ROOT, env=env).returncode != 0:
            return 1
    cgroup = lambda_bench.writable_cgroup()
    sizes = SIZES if cgroup else [s for s in SIZES if s == "full"]
    print(f"==> CPU quota: {cgroup or 'no writable cgroup: only the full-core column'}", flush=True)
    bundle = lambda_bench.certificates()
    moto, moto_url = bench.start_moto()
    platform = subprocess.Popen(
        [str(bench.VENV_BIN / "python"), str(ROOT / "scripts" / "local" / "identomat_api.py"), "0",
         "--company-key", COMPANY_KEY, "--exit-on-stdin-close"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    platform_url = f"http://127.0.0.1:{int(platform.stdout.readline().split()[-1])}"
    try:
        aws = lambda_bench.TlsFront(moto_url)
        identomat = lambda_bench.TlsFront(platform_url)
        kw = dict(endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="testing",
                  aws_secret_access_key="testing")
        dynamodb = boto3.client("dynamodb", **kw)
        secret = boto3.client("secretsmanager", **kw).create_secret(
            Name="bench/identomat", SecretString=json.dumps({"companyKey": COMPANY_KEY,
                                                             "hmacSecret": ""}))["ARN"]
        env = bench.environment(0, None)
        env.update({
            "AWS_ENDPOINT_URL": aws.url, "SSL_CERT_FILE": str(bundle), "AWS_CA_BUNDLE": str(bundle),
            "AWS_DEFAULT_REGION": "us-east-1", "IDENTOMAT_SECRET_ARN": secret,
            "IDENTOMAT_API_URL": f"{identomat.url}/external-api/",
            "RECONCILE_MAX_PER_RUN": str(SESSIONS), "RUST_LOG": "info",
        })
        rows = []
        for mb in sizes:
            quota = lambda_bench.Quota(mb)
            runs = []
            api = bench.RuntimeApi()
            process = None
            for n in range(2):
                ids = open_sessions(dynamodb, f"bench-{mb}-{n}")
                request = urllib_post(f"{platform_url}/_control/sessions", answers(ids))
                assert request == 200
                calls, waited = (aws.calls, identomat.calls), aws.waited + identomat.waited
                api.push(json.dumps({"action": "due"}).encode())
                started = time.perf_counter()
                if process is None:
                    process = subprocess.Popen(
                        [str(bench.binary("reconcile"))],
                        env=dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{api.port}",
                                 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(128 if mb == "full" else mb)),
                        stdout=bench.LOG, stderr=bench.LOG, preexec_fn=quota.enter)
                cpu_before = lambda_bench.cpu_seconds(process.pid) if n else 0.0
                api.wait_answers(n + 1, timeout=600)
                wall = (api.answers[n][0] - started) * 1000
                cpu = (lambda_bench.cpu_seconds(process.pid) - cpu_before) * 1000
                front_wait = (aws.waited + identomat.waited - waited) * 1000
                runs.append(dict(wall=wall, cpu=cpu, own=wall - front_wait,
                                 aws=aws.calls - calls[0], identomat=identomat.calls - calls[1]))
                if api.answers[n][1] == "error":
                    raise SystemExit("the reconcile function answered with an error: "
                                     "see target/bench-functions.log")
            process.kill()
            process.wait()
            api.close()
            rows.append((mb, runs))
            cold, warm = runs
            print(f"  {mb:>5} MB  cold run {cold['wall']:8.1f} ms  warm run {warm['wall']:8.1f} ms  "
                  f"per session {warm['wall'] / SESSIONS:6.2f} ms wall, {warm['own'] / SESSIONS:6.2f} ms own, "
                  f"{warm['cpu'] / SESSIONS:5.2f} ms CPU", flush=True)
        report(rows, dynamodb)
    finally:
        platform.stdin.close()
        platform.wait()
        moto.kill()
        moto.wait()
    return 0


def urllib_post(url: str, value) -> int:
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(value).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def report(rows, dynamodb) -> None:
    print(f"\n{SESSIONS} sessions due per run, half a changed status, half observed.")
    print("| memory | cold run (ms) | warm run (ms) | per session: wall / own / CPU (ms) | "
          "AWS requests per session | Identomat requests per session | USD per 1,000 sessions, arm64 (Lambda + DynamoDB) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for mb, (cold, warm) in rows:
        memory = lambda_bench.ONE_VCPU_MB if mb == "full" else int(mb)
        gb_seconds = memory / 1024 * (warm["wall"] / 1000) / SESSIONS * 1000
        # One invocation a run of SESSIONS sessions.
        lambda_usd = (gb_seconds * lambda_bench.PRICE_PER_GB_SECOND["arm64"]
                      + LAMBDA_REQUESTS * (1000 / SESSIONS) / 1e6)
        per_session = warm["aws"] / SESSIONS
        dynamodb_usd = 1000 * (READS * DYNAMODB_READ + WRITES * DYNAMODB_WRITE) / 1e6
        print(f"| {mb} | {cold['wall']:.0f} | {warm['wall']:.0f} | {warm['wall'] / SESSIONS:.2f} / "
              f"{warm['own'] / SESSIONS:.2f} / {warm['cpu'] / SESSIONS:.2f} | {per_session:.2f} | "
              f"{warm['identomat'] / SESSIONS:.2f} | {lambda_usd + dynamodb_usd:.5f} "
              f"({lambda_usd:.5f} + {dynamodb_usd:.5f}) |")

if __name__ == "__main__":
    sys.exit(main())
