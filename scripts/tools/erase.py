#!/usr/bin/env python3
"""Erases one person's verification session from the stack's table, on their request.

  .venv/bin/python scripts/tools/erase.py --stack NAME --session ID [--region R] [--dry-run]
                                         [--at-identomat [--company-key-env NAME]]

Deletes every record the stack holds under the session id (its status and history, its video
rooms, its SMS and e-mail deliveries, callbacks of unknown types it carried) and says what it
deleted. The session itself lives on at Identomat: --at-identomat also asks Identomat's
delete/ to erase it there (with the company key from the stack's IdentomatKeySecretArn secret,
or the environment variable --company-key-env names), and prints the answer as received: the
platform documents no response format. What else held it, and for how long, is printed at the
end (docs/operations.md, "Erasing a person's data").

Credentials and region come from the usual AWS environment (AWS_PROFILE, AWS_REGION, ...).
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

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


# The most of delete/'s answer printed.
ANSWER_MAX = 2000


def delete_at_identomat(api_url: str, company_key: str, hmac_secret: str, session: str,
                        timeout: float = 10) -> tuple[int, str, str]:
    """POSTs delete/ for `session` (form encoded, signed when `hmac_secret` is set): the HTTP
    status, the answer's text as received (cut to ANSWER_MAX), and what its signature says."""
    if not api_url.endswith("/"):
        api_url += "/"
    scheme = urllib.parse.urlsplit(api_url)
    if scheme.scheme != "https" and scheme.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the company API must be https (plain http only to a loopback address)")
    body = urllib.parse.urlencode({"company_key": company_key, "session_token": session}).encode()
    headers = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
    if hmac_secret:
        digest = hmac.new(hmac_secret.encode(), body, hashlib.sha256).digest()
        headers["authorization"] = f'signature="{base64.b64encode(digest).decode()}"'
    request = urllib.request.Request(urllib.parse.urljoin(api_url, "delete/"), data=body,
                                     method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, answer, header = response.status, response.read(), response.headers.get("authorization")
    except urllib.error.HTTPError as e:
        status, answer, header = e.code, e.read(), None
    signature = "not signed"
    if hmac_secret and 200 <= status < 300:
        expected = base64.b64encode(hmac.new(hmac_secret.encode(), answer, hashlib.sha256).digest()).decode()
        presented = (header or "").strip().removeprefix("signature=").strip('"')
        signature = ("signature valid" if hmac.compare_digest(presented, expected)
                     else "signature MISSING OR WRONG: do not trust this answer")
    return status, answer[:ANSWER_MAX].decode("utf-8", "replace"), signature


def identomat_credentials(session, outputs: dict, key_env: str | None) -> tuple[str, str]:
    """The company key and HMAC secret: from the environment variable named, else the stack's
    secret."""
    import os

    if key_env:
        key = os.environ.get(key_env, "")
        if not key:
            sys.exit(f"{key_env} is empty")
        return key, os.environ.get("IDENTOMAT_HMAC_SECRET", "")
    arn = outputs.get("IdentomatKeySecretArn")
    if not arn:
        sys.exit("the stack has no Identomat company key: pass --company-key-env NAME")
    secret = json.loads(session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
    return secret["companyKey"], secret.get("hmacSecret", "")


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
    parser.add_argument("--at-identomat", action="store_true",
                        help="also delete the session at Identomat (its delete/ method)")
    parser.add_argument("--company-key-env", metavar="NAME",
                        help="with --at-identomat: the environment variable holding the company key "
                             "(default: the stack's IdentomatKeySecretArn secret)")
    parser.add_argument("--identomat-api-url", default="https://widget.identomat.com/external-api/",
                        help="with --at-identomat: the company API")
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
    identomat = None
    if args.at_identomat:
        if args.dry_run:
            print(f"would ask Identomat's delete/ ({args.identomat_api_url}) to erase the session")
        else:
            key, secret = identomat_credentials(session, outputs, args.company_key_env)
            status, answer, signature = delete_at_identomat(args.identomat_api_url, key, secret,
                                                            args.session)
            identomat = status
            print(f"\nIdentomat's delete/ answered HTTP {status} ({signature}):\n  {answer}")
            print("  Identomat documents no response format, status codes or whether deletion is "
                  "immediate: read the answer above, and check in the Manage platform.")
    print("\nStill to do, or to know:")
    for line in ELSEWHERE:
        if args.at_identomat and line.startswith("Identomat:"):
            continue
        print(f"  - {line}")
    print(json.dumps({"session_records": len(records), "dry_run": args.dry_run,
                      "identomat_status": identomat}))
    return 0 if identomat is None or 200 <= identomat < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
