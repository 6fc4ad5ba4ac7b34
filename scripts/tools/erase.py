#!/usr/bin/env python3
"""Erases one person's verification session from the stack's table, on their request.

  .venv/bin/python scripts/tools/erase.py --stack NAME --session ID [--region R] [--dry-run]

Deletes every record the stack holds under the session id (its status and history, its video
rooms, its SMS and e-mail deliveries, callbacks of unknown types it carried) and says what it
deleted. The session itself lives on at Identomat: delete it there too. What else held it, and
for how long, is printed at the end (docs/operations.md, "Erasing a person's data").

Credentials and region come from the usual AWS environment (AWS_PROFILE, AWS_REGION, ...).
"""
import argparse
import json
import sys

# What else may hold the session, with how long: said after every erasure.
ELSEWHERE = [
    "Identomat: delete the session there too (the Manage platform, or its API).",
    "Point-in-time recovery keeps the deleted records restorable for up to 35 days.",
    "The table's stream holds the deletions (and the records before them) for 24 hours.",
    "The dead-letter queue may hold an envelope of this session until its retention ends: "
    "look with scripts/tools/redrive.py --dry-run.",
    "Logs hold no session id (a fingerprint) and no recipient in clear.",
]


def records_of(dynamodb, table: str, session: str) -> list[dict]:
    """Every record's key under `session`, all pages."""
    keys, start = [], None
    while True:
        page = dynamodb.query(
            TableName=table, ConsistentRead=True,
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "sessionId", "#r": "record"},
            ExpressionAttributeValues={":s": {"S": session}},
            ProjectionExpression="#s, #r",
            **({"ExclusiveStartKey": start} if start else {}))
        keys.extend(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return keys


def erase(dynamodb, table: str, session: str, dry_run: bool = False) -> list[str]:
    """Deletes every record of `session`; the records' names, sorted."""
    keys = records_of(dynamodb, table, session)
    if not dry_run:
        for start in range(0, len(keys), 25):
            requests = {table: [{"DeleteRequest": {"Key": k}} for k in keys[start:start + 25]]}
            # BatchWriteItem hands back what it did not do under load: do it again.
            while requests:
                requests = dynamodb.batch_write_item(RequestItems=requests).get(
                    "UnprocessedItems") or {}
        left = records_of(dynamodb, table, session)
        if left:
            raise RuntimeError(f"{len(left)} record(s) of the session are still there")
    return sorted(k["record"]["S"] for k in keys)


def describe(record: str) -> str:
    """A record's name as the operator reads it: its kind, the delivery's key shortened."""
    kind, _, rest = record.partition("#")
    return record if kind in ("status", "video") or not rest else f"{kind}#{rest[:8]}..."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the stack's name (sam deploy's stack_name)")
    parser.add_argument("--session", required=True, help="the Identomat session id")
    parser.add_argument("--region", help="the stack's region (default: the AWS environment's)")
    parser.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    args = parser.parse_args()
    import boto3

    session = boto3.session.Session(region_name=args.region)
    described = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    table = outputs["SessionsTableName"]
    records = erase(session.client("dynamodb"), table, args.session, args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {len(records)} record(s) of the session from {table}")
    for record in records:
        print(f"  {describe(record)}")
    print("\nStill to do, or to know:")
    for line in ELSEWHERE:
        print(f"  - {line}")
    print(json.dumps({"session_records": len(records), "dry_run": args.dry_run}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
