"""Lambda's event source mapping for a DynamoDB stream, as the local stacks run it.

It reads each shard of the stream from the start, drops the records no filter pattern matches
(the mapping's FilterCriteria, EventBridge's pattern syntax: exact values, `prefix`,
`exists`), and
invokes the function with batches of up to BatchSize records in `aws_lambda_events`' shape,
one batch of a shard at a time. With ReportBatchItemFailures the batch is retried from the
first item the function names; a function error retries the whole batch, halved first when
BisectBatchOnFunctionError is set. After MaximumRetryAttempts the batch is skipped and Lambda's
failure record (`DDBStreamBatchInfo`: shard, first and last sequence number) is sent to the
OnFailure queue, from which `scripts/tools/redrive.py` replays it.
"""
import datetime
import json
import threading
import time


def matches(pattern, value) -> bool:
    """Whether `value` (a record as JSON) matches one EventBridge-style pattern."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(matches(inner, value[key]) if key in value else absent_matches(inner)
                   for key, inner in pattern.items())
    # A list of alternatives: exact values, {"prefix": ...} or {"exists": true}.
    for alternative in pattern:
        if isinstance(alternative, dict) and "prefix" in alternative:
            if isinstance(value, str) and value.startswith(alternative["prefix"]):
                return True
        elif isinstance(alternative, dict) and "exists" in alternative:
            if alternative["exists"] is True:
                return True
        elif alternative == value:
            return True
    return False


def absent_matches(pattern) -> bool:
    """A missing leaf matches only `{"exists": false}`."""
    return isinstance(pattern, list) and any(
        isinstance(a, dict) and a.get("exists") is False for a in pattern)


def passes(filters: list[dict], record: dict) -> bool:
    return not filters or any(matches(f, record) for f in filters)


def lambda_record(record: dict, stream_arn: str) -> dict:
    """A record of DynamoDB Streams' GetRecords as Lambda hands it to a function."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime.datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    change.setdefault("Keys", {})
    return {
        "eventID": record.get("eventID", ""),
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", "us-east-1"),
        "eventSourceARN": stream_arn,
        "dynamodb": change,
    }


class StreamMapping:
    """One mapping: `invoke(payload: bytes) -> (error: bool, answer: bytes)` runs the function."""

    def __init__(self, streams, sqs, stream_arn: str, function_arn: str, invoke, config: dict):
        self.streams = streams
        self.sqs = sqs
        self.stream_arn = stream_arn
        self.function_arn = function_arn
        self.invoke = invoke
        self.batch_size = int(config.get("BatchSize", 100))
        self.filters = [json.loads(f["Pattern"]) for f in
                        config.get("FilterCriteria", {}).get("Filters", [])]
        self.retries = int(config.get("MaximumRetryAttempts", -1))
        self.bisect = bool(config.get("BisectBatchOnFunctionError", False))
        self.item_failures = "ReportBatchItemFailures" in config.get("FunctionResponseTypes", [])
        self.on_failure = (config.get("DestinationConfig", {}).get("OnFailure", {})
                           .get("Destination"))
        self.iterators: dict[str, str | None] = {}
        self.invocations = 0
        self.failure_records = 0
        self.delivered = 0
        self.stop_event = threading.Event()
        self.lock = threading.Lock()

    def poll(self) -> int:
        """Reads what the stream holds now and hands it on; the records read."""
        with self.lock:
            description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
            read = 0
            for shard in description.get("Shards", []):
                shard_id = shard["ShardId"]
                if shard_id not in self.iterators:
                    self.iterators[shard_id] = self.streams.get_shard_iterator(
                        StreamArn=self.stream_arn, ShardId=shard_id,
                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                while self.iterators[shard_id]:
                    page = self.streams.get_records(ShardIterator=self.iterators[shard_id],
                                                    Limit=1000)
                    records = page.get("Records", [])
                    if not records:
                        break
                    self.iterators[shard_id] = page.get("NextShardIterator")
                    read += len(records)
                    kept = [lambda_record(r, self.stream_arn) for r in records]
                    kept = [r for r in kept if passes(self.filters, r)]
                    for start in range(0, len(kept), self.batch_size):
                        self._deliver(shard_id, kept[start:start + self.batch_size])
            return read

    def _deliver(self, shard_id: str, batch: list[dict]) -> None:
        attempts = 0
        while batch:
            attempts += 1
            self.invocations += 1
            error, answer = self.invoke(json.dumps({"Records": batch}).encode())
            if not error:
                failed = self._first_failed(answer, batch)
                if failed is None:
                    self.delivered += len(batch)
                    return
                self.delivered += failed
                batch = batch[failed:]
            elif self.bisect and len(batch) > 1:
                half = len(batch) // 2
                self._deliver(shard_id, batch[:half])
                self._deliver(shard_id, batch[half:])
                return
            if self.retries >= 0 and attempts > self.retries:
                self._dead_letter(shard_id, batch, attempts)
                return
            time.sleep(min(0.1 * attempts, 1.0))

    def _first_failed(self, answer: bytes, batch: list[dict]) -> int | None:
        if not self.item_failures:
            return None
        try:
            failures = json.loads(answer or b"{}").get("batchItemFailures") or []
        except (ValueError, AttributeError):
            return None
        sequences = [r["dynamodb"].get("SequenceNumber") for r in batch]
        named = [f.get("itemIdentifier") for f in failures]
        positions = [sequences.index(s) for s in named if s in sequences]
        return min(positions) if positions else None

    def _dead_letter(self, shard_id: str, batch: list[dict], attempts: int) -> None:
        if not self.on_failure:
            return
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        record = {
            "requestContext": {"requestId": f"local-{time.time_ns()}",
                               "functionArn": self.function_arn,
                               "condition": "RetryAttemptsExhausted",
                               "approximateInvokeCount": attempts},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": now,
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": now,
                "approximateArrivalOfLastRecord": now,
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        queue_url = self.sqs.get_queue_url(QueueName=self.on_failure.split(":")[-1])["QueueUrl"]
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))
        self.failure_records += 1

    def start(self, interval: float = 0.5) -> None:
        """Polls in the background until `stop()`, as the mapping does."""
        def loop():
            while not self.stop_event.is_set():
                try:
                    self.poll()
                except Exception as e:  # noqa: BLE001 - a poll that failed is tried again
                    print(f"stream mapping: {e}", flush=True)
                self.stop_event.wait(interval)

        threading.Thread(target=loop, daemon=True).start()

    def settle(self, quiet: float = 1.5, timeout: float = 60) -> None:
        """Returns once a poll found nothing new after `quiet` seconds of waiting."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            time.sleep(quiet)
            if self.poll() == 0:
                return

    def stop(self) -> None:
        self.stop_event.set()
