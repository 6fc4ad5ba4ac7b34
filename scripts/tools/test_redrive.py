"""redrive.py against moto's SQS, with Lambda's Invoke stubbed (moto runs Lambda only in Docker)."""
import json
import os
import pathlib
import sys
import unittest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

import boto3  # noqa: E402
from botocore.stub import Stubber  # noqa: E402
from moto import mock_aws  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "local"))
import template  # noqa: E402
from redrive import redrive  # noqa: E402
from stream_mapping import lambda_record, passes  # noqa: E402

ARN = "arn:aws:lambda:us-east-1:123456789012:function:stack-SmsFunction-abc:$LATEST"


def failure_record(request_id: str) -> str:
    return json.dumps({
        "version": "1.0",
        "requestContext": {"requestId": "inv-1", "functionArn": ARN,
                           "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": {"requestId": request_id, "receivedAt": "2026-11-27T19:49:15.123Z",
                           "callback": {"type": "session-change", "sessionId": "abc",
                                        "result": "APPROVED", "sessionType": "kyc"}},
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
    })


@mock_aws
class RedriveTest(unittest.TestCase):
    def setUp(self):
        self.sqs = boto3.client("sqs")
        self.queue = self.sqs.create_queue(QueueName="dlq")["QueueUrl"]
        self.lam = boto3.client("lambda")

    def remaining(self) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["All"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def test_each_envelope_goes_back_to_its_function_and_leaves_the_queue(self):
        for request_id in ("r1", "r2"):
            self.sqs.send_message(QueueUrl=self.queue, MessageBody=failure_record(request_id))
        self.sqs.send_message(QueueUrl=self.queue, MessageBody="not json")
        with Stubber(self.lam) as stub:
            for request_id in ("r1", "r2"):
                payload = json.loads(failure_record(request_id))["requestPayload"]
                stub.add_response(
                    "invoke", {"StatusCode": 202},
                    {"FunctionName": ARN, "InvocationType": "Event",
                     "Payload": json.dumps(payload).encode()},
                )
            counts = redrive(self.sqs, self.lam, self.queue, 100, dry_run=False)
            stub.assert_no_pending_responses()
        self.assertEqual(counts, {"redriven": 2, "skipped": 1, "failed": 0})
        self.assertEqual(self.remaining(), 1)  # the unreadable one stays for a person

    def test_a_failed_invoke_keeps_the_message(self):
        self.sqs.send_message(QueueUrl=self.queue, MessageBody=failure_record("r1"))
        with Stubber(self.lam) as stub:
            stub.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
            counts = redrive(self.sqs, self.lam, self.queue, 100, dry_run=False)
        self.assertEqual(counts["failed"], 1)
        self.assertEqual(self.remaining(), 1)

    def test_dry_run_changes_nothing(self):
        self.sqs.send_message(QueueUrl=self.queue, MessageBody=failure_record("r1"))
        with Stubber(self.lam):
            counts = redrive(self.sqs, self.lam, self.queue, 100, dry_run=True)
        self.assertEqual(counts["redriven"], 1)
        self.assertEqual(self.remaining(), 1)


    def stream_of_a_real_table(self):
        """A table as the template makes it, written as the functions write it: each status
        change among the rate-limit windows and delivery claims the same requests touch."""
        dynamodb = boto3.client("dynamodb")
        template.create_sessions_table(dynamodb, "sessions")
        arn = dynamodb.describe_table(TableName="sessions")["Table"]["LatestStreamArn"]

        def status(result):
            dynamodb.put_item(TableName="sessions", Item={
                "sessionId": {"S": "abc"}, "record": {"S": "status"}, "result": {"S": result},
                "requestId": {"S": f"req-{result}"}})

        def window(minute):
            dynamodb.update_item(
                TableName="sessions", Key={"sessionId": {"S": "ratelimit#sms-budget"},
                                           "record": {"S": "window"}},
                UpdateExpression="ADD #m :one", ExpressionAttributeNames={"#m": f"m{minute}"},
                ExpressionAttributeValues={":one": {"N": "1"}})

        def delivery(key, state):
            dynamodb.put_item(TableName="sessions", Item={
                "sessionId": {"S": "abc"}, "record": {"S": f"delivery#{key}"},
                "state": {"S": state}, "channel": {"S": "sms"}, "kind": {"S": "otp"}})

        status("PENDING")
        window(1), delivery("a", "pending"), delivery("a", "sent")
        status("MANUAL_CHECK")                      # the failed batch's first record
        window(2), delivery("b", "pending"), window(2), delivery("b", "sent")
        status("APPROVED")
        delivery("c", "pending"), window(3)
        delivery("c", "suppressed")                 # the failed batch's last record
        window(4), delivery("d", "pending")
        status("REJECTED")
        streams = boto3.client("dynamodbstreams")
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator)["Records"]
        return streams, arn, shard, records

    def failed_batch(self, arn, shard, first, last, size):
        notify = "arn:aws:lambda:us-east-1:123456789012:function:stack-NotifyFunction-abc"
        self.sqs.send_message(QueueUrl=self.queue, MessageBody=json.dumps({
            "requestContext": {"functionArn": notify, "condition": "RetryAttemptsExhausted"},
            "DDBStreamBatchInfo": {"shardId": shard, "streamArn": arn, "batchSize": size,
                                   "startSequenceNumber": first, "endSequenceNumber": last}}))
        return notify

    def test_a_failed_stream_batch_is_read_again_through_the_mappings_filter(self):
        streams, arn, shard, records = self.stream_of_a_real_table()
        self.assertGreater(len(records), 15)
        filters = [json.loads(f["Pattern"]) for f in FILTERS]
        handed = [r for r in records if passes(filters, lambda_record(r, arn))]
        # What the mapping handed notify: statuses and the suppressed delivery, nothing between.
        self.assertEqual(len(handed), 5)
        first, last = handed[1]["dynamodb"]["SequenceNumber"], handed[3]["dynamodb"]["SequenceNumber"]
        notify = self.failed_batch(arn, shard, first, last, size=3)
        sent = []
        counts = redrive(self.sqs, FakeLambda(sent), self.queue, 100, dry_run=False,
                         streams=streams)
        self.assertEqual(counts, {"redriven": 1, "skipped": 0, "failed": 0})
        self.assertEqual(len(sent), 1)
        function, kind, payload = sent[0]
        self.assertEqual((function, kind), (notify, "RequestResponse"))
        got = [(r["dynamodb"]["Keys"]["record"]["S"], r["dynamodb"]["SequenceNumber"])
               for r in payload["Records"]]
        self.assertEqual(got, [("status", first), ("status", handed[2]["dynamodb"]["SequenceNumber"]),
                               ("delivery#c", last)])
        self.assertEqual(payload["Records"][0]["eventSourceARN"], arn)
        self.assertEqual(self.remaining(), 0)

    def test_a_batch_the_stream_no_longer_matches_stays_in_the_queue(self):
        streams, arn, shard, records = self.stream_of_a_real_table()
        filters = [json.loads(f["Pattern"]) for f in FILTERS]
        handed = [r for r in records if passes(filters, lambda_record(r, arn))]
        first, last = handed[1]["dynamodb"]["SequenceNumber"], handed[3]["dynamodb"]["SequenceNumber"]
        # A size the records between the ends do not make (the filter changed, say).
        self.failed_batch(arn, shard, first, last, size=4)
        sent = []
        counts = redrive(self.sqs, FakeLambda(sent), self.queue, 100, dry_run=False,
                         streams=streams)
        self.assertEqual(counts, {"redriven": 0, "skipped": 0, "failed": 1})
        self.assertEqual(sent, [])
        self.assertEqual(self.remaining(), 1)


# The stream mapping's filter, as the template declares it and Lambda holds it.
FILTERS = template.load()["Resources"]["NotifyFunction"]["Properties"]["Events"]["TableChanges"][
    "Properties"]["FilterCriteria"]["Filters"]


class FakeLambda:
    """Lambda's Invoke (moto runs functions only in Docker) and the mapping the stack holds."""

    def __init__(self, sent):
        self.sent = sent

    def invoke(self, FunctionName, InvocationType, Payload):
        import io
        self.sent.append((FunctionName, InvocationType, json.loads(Payload)))
        return {"StatusCode": 200, "Payload": io.BytesIO(b'{"batchItemFailures": []}')}

    def get_paginator(self, operation):
        assert operation == "list_event_source_mappings"

        class Pages:
            def paginate(self, FunctionName, EventSourceArn):
                return [{"EventSourceMappings": [{"FilterCriteria": {"Filters": FILTERS}}]}]

        return Pages()

if __name__ == "__main__":
    unittest.main()
