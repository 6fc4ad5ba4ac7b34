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
from redrive import redrive  # noqa: E402

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


    def test_a_failed_stream_batch_is_read_again_from_the_stream_and_handed_to_notify(self):
        dynamodb = boto3.client("dynamodb")
        table = dynamodb.create_table(
            TableName="sessions", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "sessionId", "AttributeType": "S"},
                                  {"AttributeName": "record", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "sessionId", "KeyType": "HASH"},
                       {"AttributeName": "record", "KeyType": "RANGE"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        for result in ("PENDING", "MANUAL_CHECK", "APPROVED", "REJECTED"):
            dynamodb.put_item(TableName="sessions", Item={
                "sessionId": {"S": "abc"}, "record": {"S": "status"}, "result": {"S": result}})
        streams = boto3.client("dynamodbstreams")
        arn = table["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        sequences = [r["dynamodb"]["SequenceNumber"]
                     for r in streams.get_records(ShardIterator=iterator)["Records"]]
        notify = "arn:aws:lambda:us-east-1:123456789012:function:stack-NotifyFunction-abc"
        # The 2nd and 3rd changes failed every retry.
        self.sqs.send_message(QueueUrl=self.queue, MessageBody=json.dumps({
            "requestContext": {"functionArn": notify, "condition": "RetryAttemptsExhausted"},
            "DDBStreamBatchInfo": {"shardId": shard, "streamArn": arn, "batchSize": 2,
                                   "startSequenceNumber": sequences[1],
                                   "endSequenceNumber": sequences[2]}}))
        sent = []

        class Lambda:
            def invoke(self, FunctionName, InvocationType, Payload):
                sent.append((FunctionName, InvocationType, json.loads(Payload)))
                import io
                return {"StatusCode": 200, "Payload": io.BytesIO(b'{"batchItemFailures": []}')}

        counts = redrive(self.sqs, Lambda(), self.queue, 100, dry_run=False, streams=streams)
        self.assertEqual(counts, {"redriven": 1, "skipped": 0, "failed": 0})
        self.assertEqual(len(sent), 1)
        function, kind, payload = sent[0]
        self.assertEqual((function, kind), (notify, "RequestResponse"))
        results = [r["dynamodb"]["NewImage"]["result"]["S"] for r in payload["Records"]]
        self.assertEqual(results, ["MANUAL_CHECK", "APPROVED"])
        self.assertEqual(payload["Records"][0]["eventSourceARN"], arn)
        self.assertEqual(self.remaining(), 0)


if __name__ == "__main__":
    unittest.main()
