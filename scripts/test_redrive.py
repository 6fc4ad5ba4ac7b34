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

sys.path.insert(0, str(pathlib.Path(__file__).parent))
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


if __name__ == "__main__":
    unittest.main()
