#!/usr/bin/env python3
"""Asks Identomat's result/ now, through the stack's reconcile function, and prints what changed.

  .venv/bin/python scripts/tools/reconcile.py --stack NAME --session ID [--region R]
  .venv/bin/python scripts/tools/reconcile.py --stack NAME --open [--region R]
  .venv/bin/python scripts/tools/reconcile.py --function NAME --session ID   (a local stack)

--session asks about one session, --open about every open one (due or not, at most
ReconcileMaxPerRun, one run at a time). The function records each answer as the schedule would
(docs/operations.md, "Reconcile with Identomat"); this prints each session asked, the outcome,
and the result before and after. The stack must have been deployed with IdentomatCompanyKey.

Credentials and region come from the usual AWS environment; AWS_ENDPOINT_URL_LAMBDA points
--function at a local Lambda (make local's).
"""
import argparse
import json
import sys


def request(session: str | None) -> dict:
    return {"action": "session", "sessionId": session} if session else {"action": "open"}


def lines(summary: dict) -> list[str]:
    """What the function's answer says, a line a session."""
    if summary.get("skipped"):
        return ["another run is in progress: nothing asked (try again in a few minutes)"]
    out = [f"asked {summary.get('asked', 0)} session(s)"]
    for report in summary.get("sessions", []):
        what = report["outcome"]
        if what == "changed":
            what += f": {report.get('previousResult') or '(none)'} -> {report['result']}"
        elif what == "same":
            what += f": {report['result']}"
        elif what == "observed":
            what += f": {report['observed']} (kept, not mapped)"
        elif report.get("reason"):
            what += f": {report['reason']}"
        out.append(f"  {report['sessionId']}  {what}  [{report['state']}]")
    return out


def invoke(lambda_client, function: str, payload: dict) -> dict:
    answer = lambda_client.invoke(FunctionName=function, InvocationType="RequestResponse",
                                  Payload=json.dumps(payload).encode())
    body = json.loads(answer["Payload"].read() or b"{}")
    if answer.get("FunctionError"):
        raise RuntimeError(f"the reconcile function failed: {body.get('errorMessage', body)}")
    return body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="the stack's name (sam deploy's stack_name)")
    where.add_argument("--function", help="the reconcile function's name, without a stack")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--session", help="the Identomat session id")
    what.add_argument("--open", action="store_true", help="every open session")
    parser.add_argument("--region", help="the stack's region (default: the AWS environment's)")
    args = parser.parse_args()
    import boto3

    session = boto3.session.Session(region_name=args.region)
    function = args.function
    if args.stack:
        described = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        function = outputs.get("ReconcileFunctionName")
        if not function:
            sys.exit(f"{args.stack} has no reconcile function: deploy it with IdentomatCompanyKey")
    from botocore.config import Config

    # A run may take minutes: wait for it, and never send it twice.
    client = session.client("lambda", config=Config(read_timeout=900, retries={"max_attempts": 0}))
    try:
        summary = invoke(client, function, request(args.session))
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    for line in lines(summary):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
