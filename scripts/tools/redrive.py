#!/usr/bin/env python3
"""Sends the envelopes in the dead-letter queue back to the function that failed them.

Lambda puts an asynchronous invocation that failed every retry into the queue as a record with
`requestContext.functionArn` and `requestPayload` (the envelope). Each is invoked again
asynchronously and deleted from the queue once Lambda accepted it. Re-processing is safe: the
delivery records make an SMS or e-mail that was already sent a no-op, and status records keep
the newest state whatever the order.

A batch of the table's stream that notify failed every retry is in the queue as its position
only (`DDBStreamBatchInfo`: stream, shard, first and last sequence number, size). Its records
are read again from the stream (which keeps them 24 hours), those the mapping's filter lets
through kept (what lay between them never reached notify), checked against the batch's size
and sequence numbers, and handed to notify synchronously, as the event source mapping does; the
message is deleted once notify took the whole batch. Events put twice keep their `detail.id`.

  .venv/bin/python scripts/tools/redrive.py --queue-url URL [--max N] [--dry-run]

Credentials and region come from the usual AWS environment (AWS_PROFILE, AWS_REGION, ...):
the stack's DeadLetterRedriveRoleArn is the role that may read the queue (docs/operations.md).
"""
import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "local"))  # the local stand-ins

from stream_mapping import lambda_record, passes  # noqa: E402


def mapping_filters(lambda_client, function: str, stream_arn: str) -> list[dict]:
    """The FilterCriteria patterns of `function`'s mapping on `stream_arn`: the batch notify was
    handed held only the records that passed them."""
    pages = lambda_client.get_paginator("list_event_source_mappings").paginate(
        FunctionName=function, EventSourceArn=stream_arn)
    for page in pages:
        for mapping in page.get("EventSourceMappings", []):
            return [json.loads(f["Pattern"]) for f in
                    (mapping.get("FilterCriteria") or {}).get("Filters", [])]
    return []


def stream_batch(streams, info: dict, filters: list[dict]) -> list[dict]:
    """The records of a failed stream batch, as the event source mapping handed them over: the
    shard's records from the first sequence number to the last that pass the mapping's
    filter (the others between them, rate-limit windows and pending deliveries, never
    reached notify)."""
    first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    iterator = streams.get_shard_iterator(
        StreamArn=info["streamArn"], ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    batch = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        records = page.get("Records", [])
        if not records:
            break
        for record in records:
            sequence = int(record["dynamodb"]["SequenceNumber"])
            if sequence > last:
                return batch
            handed = lambda_record(record, info["streamArn"])
            if sequence >= first and passes(filters, handed):
                batch.append(handed)
        iterator = page.get("NextShardIterator")
    return batch


def replay_stream_batch(streams, lambda_client, function: str, info: dict) -> str | None:
    """Hands a failed stream batch to `function` again; None when it took all of it, else why."""
    batch = stream_batch(streams, info, mapping_filters(lambda_client, function, info["streamArn"]))
    sequences = [r["dynamodb"]["SequenceNumber"] for r in batch]
    expected = int(info.get("batchSize", len(batch)))
    if not batch or len(batch) != expected or \
            (sequences[0], sequences[-1]) != (info["startSequenceNumber"], info["endSequenceNumber"]):
        return (f"the stream holds {len(batch)} of the batch's {expected} records "
                f"({sequences[:1]}..{sequences[-1:]}, the batch "
                f"{info['startSequenceNumber']}..{info['endSequenceNumber']}): past the stream's "
                "24 hours, or the mapping's filter changed since")
    response = lambda_client.invoke(
        FunctionName=function, InvocationType="RequestResponse",
        Payload=json.dumps({"Records": batch}).encode(),
    )
    answer = response["Payload"].read()
    if response.get("FunctionError"):
        return f"the function failed: {answer[:200]!r}"
    failures = (json.loads(answer or b"{}") or {}).get("batchItemFailures") or []
    if failures:
        return f"the function reported {len(failures)} failed item(s) from {failures[0]}"
    return None


def redrive(sqs, lambda_client, queue_url: str, max_messages: int, dry_run: bool,
            streams=None) -> dict:
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
                payload = record.get("requestPayload")
                stream = record.get("DDBStreamBatchInfo")
                if payload is None and stream is None:
                    raise KeyError("requestPayload")
            except (ValueError, KeyError, TypeError, AttributeError):
                print(f"skipped {message['MessageId']}: not a Lambda failure record", file=sys.stderr)
                counts["skipped"] += 1
                continue
            if stream is not None:
                what = (f"stream batch {stream['startSequenceNumber']}..{stream['endSequenceNumber']}"
                        f" of {stream['shardId']}")
                if dry_run:
                    print(f"would replay {what} to {function}")
                    counts["redriven"] += 1
                    continue
                try:
                    problem = replay_stream_batch(streams, lambda_client, function, stream)
                except Exception as e:  # noqa: BLE001 - any failure leaves the message for later
                    problem = str(e)
                if problem is None:
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                    print(f"replayed {what} to {function}")
                    counts["redriven"] += 1
                else:
                    print(f"failed {what}: {problem}", file=sys.stderr)
                    counts["failed"] += 1
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

    counts = redrive(boto3.client("sqs"), boto3.client("lambda"), args.queue_url, args.max,
                     args.dry_run, boto3.client("dynamodbstreams"))
    print(json.dumps(counts))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
