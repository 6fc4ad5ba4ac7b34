#!/usr/bin/env python3
"""Checks a deployed stack end to end, as Identomat will use it.

  .venv/bin/python scripts/tools/smoke.py --stack NAME [--region R] [--callback-url URL] [--keep]

Reads the stack's outputs and its key secret, posts one `session-change` for a fresh test
session (`smoke-<random>`, result `SMOKE_TEST`) with the current key, waits until its status
record is in the sessions table, posts the same callback with a wrong key (which must get 401),
and deletes the test record again (unless --keep). Then whether delivery receipts can arrive:
SNS's account-wide DeliveryStatusIAMRole must be the stack's SmsDeliveryStatusRoleArn (else it
prints the SmsDeliveryStatusCommand output to run), and when the last SMS receipt was logged.
Nothing is sent to anyone; the stack's bus
gets one `Session Status Changed` event with result `SMOKE_TEST`, which a rule matching real
results (`APPROVED`, ...) ignores.

Credentials and region come from the usual AWS environment (AWS_PROFILE, AWS_REGION, ...);
--callback-url replaces the stack's CallbackUrl output (the local stand-in of `make
deploy-local`, which has no HTTP API). Exit 0 only when every step passed.
"""
import argparse
import json
import secrets
import sys
import time
import urllib.error
import urllib.request


def stack_outputs(cloudformation, stack: str) -> dict:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def post(url: str, body: dict) -> tuple[int, str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def smoke(outputs: dict, key: str, dynamodb, callback_url: str, keep: bool = False,
          wait_seconds: float = 60) -> list[tuple[str, bool, str]]:
    """The steps, each (what, passed, detail)."""
    table = outputs["SessionsTableName"]
    session = f"smoke-{secrets.token_hex(12)}"
    callback = {"callbackApiKey": key, "type": "session-change", "sessionId": session,
                "result": "SMOKE_TEST"}
    steps = []
    status, answer = post(callback_url, callback)
    steps.append(("a session-change with the current key is accepted (202)", status == 202,
                  f"{status} {answer}"))
    record = None
    if status == 202:
        deadline = time.time() + wait_seconds
        while record is None and time.time() < deadline:
            record = dynamodb.get_item(
                TableName=table, Key={"sessionId": {"S": session}, "record": {"S": "status"}},
                ConsistentRead=True).get("Item")
            if record is None:
                time.sleep(1)
    stored = record is not None and record.get("result", {}).get("S") == "SMOKE_TEST"
    steps.append((f"its status record is in {table}", stored,
                  "" if stored else f"not there within {wait_seconds:.0f} s: see the "
                                    "session-status function's log and the dead-letter queue"))
    wrong = dict(callback, callbackApiKey="smoke-wrong-" + secrets.token_hex(16))
    status, answer = post(callback_url, wrong)
    steps.append(("the same callback with a wrong key is refused (401)", status == 401,
                  f"{status} {answer}"))
    if stored and not keep:
        dynamodb.delete_item(TableName=table,
                             Key={"sessionId": {"S": session}, "record": {"S": "status"}})
    return steps


def receipt_steps(outputs: dict, sns, logs, region: str,
                  now: float | None = None) -> tuple[list[tuple[str, bool, str]], list[str]]:
    """Whether SMS delivery receipts can arrive (a step) and when the last one did (a note:
    a stack that sent no SMS yet has none, and that is no failure)."""
    role = outputs.get("SmsDeliveryStatusRoleArn", "")
    held = sns.get_sms_attributes(attributes=["DeliveryStatusIAMRole"]).get(
        "attributes", {}).get("DeliveryStatusIAMRole", "")
    steps = [("SNS logs SMS delivery receipts with the stack's role (DeliveryStatusIAMRole)",
              bool(role) and held == role,
              f"it is {held or 'unset'}: run the SmsDeliveryStatusCommand output, "
              f"{outputs.get('SmsDeliveryStatusCommand', '(no such output: an older stack)')}")]
    notes = []
    account = role.split(":")[4] if role.count(":") >= 5 else ""
    now = time.time() if now is None else now
    for suffix, what in (("", "delivered"), ("/Failure", "failed")):
        group = f"sns/{region}/{account}/DirectPublishToPhoneNumber{suffix}"
        try:
            streams = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime",
                                                descending=True, limit=1)["logStreams"]
        except logs.exceptions.ResourceNotFoundException:
            streams = []
        last = max((s.get("lastEventTimestamp", 0) for s in streams), default=0) / 1000
        notes.append(f"last SMS receipt ({what}): " + (
            f"{(now - last) / 3600:.1f} h ago" if last else "none yet (no SMS sent since the "
            "setting above, or it is missing)"))
    return steps, notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the stack's name (sam deploy's stack_name)")
    parser.add_argument("--region", help="the stack's region (default: the AWS environment's)")
    parser.add_argument("--callback-url", help="post here instead of the CallbackUrl output")
    parser.add_argument("--keep", action="store_true", help="keep the test session's record")
    args = parser.parse_args()
    import boto3

    session = boto3.session.Session(region_name=args.region)
    outputs = stack_outputs(session.client("cloudformation"), args.stack)
    secret = session.client("secretsmanager").get_secret_value(
        SecretId=outputs["CallbackKeySecretArn"])["SecretString"]
    key = json.loads(secret)["current"]
    url = args.callback_url or outputs["CallbackUrl"]
    print(f"stack {args.stack}, version {outputs.get('Version', '?')}, Callback URL {url}")
    steps = smoke(outputs, key, session.client("dynamodb"), url, args.keep)
    receipts, notes = receipt_steps(outputs, session.client("sns"), session.client("logs"),
                                    session.region_name)
    steps += receipts
    for what, passed, detail in steps:
        print(f"  {'ok ' if passed else 'NO '} {what}" + (f": {detail}" if detail and not passed else ""))
    for note in notes:
        print(f"  --  {note}")
    failed = [what for what, passed, _ in steps if not passed]
    print("every step passed" if not failed else f"{len(failed)} step(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
