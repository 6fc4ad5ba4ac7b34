#!/usr/bin/env python3
"""Sends the envelopes in the dead-letter queue back to the function that failed them.

Lambda puts an asynchronous invocation that failed every retry into the queue as a record with
`requestContext.functionArn` and `requestPayload` (the envelope). Each is invoked again
asynchronously and deleted from the queue once Lambda accepted it. Re-processing is safe: the
delivery records make an SMS or e-mail that was already sent a no-op, and status records keep
the newest state whatever the order.

  python3 scripts/redrive.py --queue-url URL [--max N] [--dry-run]

Credentials and region come from the usual AWS environment (AWS_PROFILE, AWS_REGION, ...).
"""
import argparse
import json
import sys


def redrive(sqs, lambda_client, queue_url: str, max_messages: int, dry_run: bool) -> dict:
    counts = {"redriven": 0, "skipped": 0, "failed": 0}
    seen = 0
    while seen < max_messages:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, max_messages - seen),
            WaitTimeSeconds=1,
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            seen += 1
            try:
                record = json.loads(message["Body"])
                function = record["requestContext"]["functionArn"]
                payload = record["requestPayload"]
            except (ValueError, KeyError, TypeError):
                print(f"skipped {message['MessageId']}: not a Lambda failure record", file=sys.stderr)
                counts["skipped"] += 1
                continue
            request_id = payload.get("requestId", "?") if isinstance(payload, dict) else "?"
            if dry_run:
                print(f"would redrive {request_id} to {function}")
                counts["redriven"] += 1
                continue
            try:
                response = lambda_client.invoke(
                    FunctionName=function, InvocationType="Event", Payload=json.dumps(payload).encode()
                )
                accepted = 200 <= response["StatusCode"] < 300
            except Exception as e:  # noqa: BLE001 - any failure leaves the message for later
                print(f"failed {request_id}: {e}", file=sys.stderr)
                accepted = False
            if accepted:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                print(f"redriven {request_id} to {function}")
                counts["redriven"] += 1
            else:
                counts["failed"] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue-url", required=True, help="the stack's DeadLetterQueueUrl output")
    parser.add_argument("--max", type=int, default=1000, help="at most this many messages")
    parser.add_argument("--dry-run", action="store_true", help="list, change nothing")
    args = parser.parse_args()
    import boto3

    counts = redrive(boto3.client("sqs"), boto3.client("lambda"), args.queue_url, args.max, args.dry_run)
    print(json.dumps(counts))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
