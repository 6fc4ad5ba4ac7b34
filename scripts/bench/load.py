#!/usr/bin/env python3
"""make load: callbacks per second and latency through the local stack, and nothing lost.

Starts the local stack (moto and every function under `cargo lambda watch`, see
local_stack.py), posts LOAD_CALLBACKS callbacks from LOAD_CLIENTS concurrent senders to the
Callback URL, then waits until the families have stored and sent all of them. The mix: 80%
session changes over LOAD_SESSIONS sessions, 10% OTP SMS (each to its own number), 10%
video-call updates (each its own room). Prints one table; exits 1 if a callback was not
answered 202 or anything accepted was not stored or sent. Everything is on loopback and stops
by itself.

Environment: LOAD_CALLBACKS (2000), LOAD_CLIENTS (8), LOAD_SESSIONS (200), LOAD_CONCURRENCY
(instances per function, 4), and local_stack.py's MOTO_PORT, LAMBDA_PORT.
"""

import concurrent.futures
import json
import os
import statistics
import sys
import pathlib
import time
import urllib.request

import boto3

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "local"))  # the local stand-ins

import local_stack  # noqa: E402
from local_stack import TABLE, Stack, say  # noqa: E402

CALLBACKS = int(os.environ.get("LOAD_CALLBACKS", "2000"))
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "8"))
SESSIONS = int(os.environ.get("LOAD_SESSIONS", "200"))
CONCURRENCY = int(os.environ.get("LOAD_CONCURRENCY", "4"))
RESULTS = ["APPROVED", "REJECTED", "MANUAL_CHECK", "ADDITIONAL_INFORMATION_REQUESTED"]


def callback(i: int, key: str) -> tuple[str, dict]:
    """The i-th callback: its kind and body."""
    if i % 10 == 1:
        return "sms", {"callbackApiKey": key, "type": "one-time-password-request",
                       "sessionId": f"load-otp-{i:06d}", "text": f"Your code is {i % 10000:04d}",
                       "phoneNumber": f"+99559{i:07d}"}
    if i % 10 == 2:
        return "video", {"callbackApiKey": key, "type": "video-call-status-update",
                         "sessionId": f"load-video-{i:06d}", "roomId": f"RM{i:032x}",
                         "roomStatus": "ended", "compositionStatus": "available",
                         "videoFileStatus": "available",
                         "videoFileId": f"file-{i}"}
    return "status", {"callbackApiKey": key, "type": "session-change",
                      "sessionId": f"load-session-{i % SESSIONS:04d}",
                      "result": RESULTS[i % len(RESULTS)]}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def observed(stack: Stack) -> dict:
    """What the families stored and sent so far."""
    data = json.loads(urllib.request.urlopen(f"{stack.moto_url}/moto-api/data.json").read())
    sms = sum(1 for m in data.get("sns", {}).get("SMS", [])
              if m["phone_number"].startswith("+99559"))
    dynamodb = boto3.client("dynamodb", **stack.aws)
    history, rooms = 0, 0
    for page in dynamodb.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True):
        for item in page["Items"]:
            record, session = item["record"]["S"], item["sessionId"]["S"]
            if record == "status" and session.startswith("load-session-"):
                history += int(item["historyCount"]["N"])
            elif record.startswith("video#") and session.startswith("load-video-"):
                rooms += 1
    return {"status": history, "sms": sms, "video": rooms}


def main() -> int:
    # Load is not pumping: every OTP of the run is sent, so the SMS budget must not cut it.
    os.environ.setdefault("SMS_MAX_PER_HOUR", str(max(CALLBACKS, 200)))
    stack = Stack(
        moto_port=int(os.environ.get("MOTO_PORT") or 5055),
        lambda_port=int(os.environ.get("LAMBDA_PORT") or 9055),
        concurrency=CONCURRENCY,
    )
    local_stack.stop_on_signals()
    try:
        stack.start()
        stack.mapping.stop()
        bodies = [callback(i, stack.key) for i in range(CALLBACKS)]
        expected = {"status": 0, "sms": 0, "video": 0}
        for kind, _ in bodies:
            expected[kind] += 1

        def post(item: tuple[str, dict]) -> tuple[int, float]:
            started = time.perf_counter()
            status, _ = stack.post(json.dumps(item[1]).encode())
            return status, (time.perf_counter() - started) * 1000

        # Warm every instance first: cold starts are `make bench`'s subject, not this one's.
        say(f"warming up, then posting {CALLBACKS} callbacks from {CLIENTS} senders")
        warm = [callback(i, stack.key) for i in range(10 * CONCURRENCY)]
        for _, body in warm:
            body["sessionId"] = body["sessionId"].replace("load-", "warm-")
            if "phoneNumber" in body:
                body["phoneNumber"] = body["phoneNumber"].replace("+99559", "+99558")
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(post, warm))
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(pool.map(post, bodies))
        posted = time.perf_counter() - started

        say("waiting until every accepted callback is stored or sent")
        deadline = time.time() + max(120, CALLBACKS / 10)
        while True:
            now = observed(stack)
            done = now
            if done == expected or time.time() > deadline:
                break
            time.sleep(0.5)
        finished = time.perf_counter() - started

        # The stream's mapping was held back during the run: its backlog, drained now, measures
        # notify's own throughput rather than the rate callbacks arrived at.
        say("draining the table's stream through notify onto the bus")
        drain_started = time.perf_counter()
        stack.mapping.poll()
        drained = time.perf_counter() - drain_started
        records = stack.mapping.delivered
        stack.mapping.settle(quiet=0.5)
        events = len(local_stack.received_events(stack.aws, stack.events_queue_url))
    except KeyboardInterrupt:
        return 1
    finally:
        stack.stop()
        say("stopped moto and cargo lambda")

    latencies = [ms for _, ms in answers]
    accepted = sum(1 for status, _ in answers if status == 202)
    lost = {k: expected[k] - done[k] for k in expected}
    rows = [
        ("callbacks posted", f"{CALLBACKS} from {CLIENTS} senders, {CONCURRENCY} instances per function"),
        ("answered 202", f"{accepted}"),
        ("ingress rate", f"{CALLBACKS / posted:.0f} callbacks/s"),
        ("ingress latency", f"p50 {statistics.median(latencies):.1f} ms, "
                            f"p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms"),
        ("stored and sent", f"{done['status']} status entries, {done['sms']} SMS, "
                            f"{done['video']} video rooms in {finished:.1f} s "
                            f"({CALLBACKS / finished:.0f} callbacks/s end to end)"),
        ("events on the bus", f"{events} from a backlog of {records} stream records (after the "
                              f"filter), drained in {drained:.1f} s: {events / drained:.0f} events/s, "
                              f"{records / drained:.0f} records/s"),
        ("lost", f"{sum(lost.values())} {lost}"),
    ]
    print(f"\n| measure | {os.cpu_count()} cores, local stack (debug builds, moto) |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0 if accepted == CALLBACKS and not any(lost.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
