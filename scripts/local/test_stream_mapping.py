"""The local event source mapping (stream_mapping.py) against the template's own settings: its
filter keeps exactly the records that can be events, a failed item is retried from there, a
batch that keeps failing is bisected and dead-lettered with its stream position; and the
event schemas accept what notify writes and refuse what it must not."""
import json
import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import local_stack  # noqa: E402
import stream_mapping  # noqa: E402
import template  # noqa: E402

MAPPING = template.load_tagged()["Resources"]["NotifyFunction"]["Properties"]["Events"][
    "TableChanges"]["Properties"]
FILTERS = [json.loads(f["Pattern"]) for f in MAPPING["FilterCriteria"]["Filters"]]


def record(name: str, session: str, record_key: str, sequence: int, **new) -> dict:
    image = {"sessionId": {"S": session}, "record": {"S": record_key},
             **{k: {"S": v} for k, v in new.items()}}
    return {"eventName": name, "dynamodb": {
        "Keys": {"sessionId": {"S": session}, "record": {"S": record_key}},
        "NewImage": image if name != "REMOVE" else {},
        "SequenceNumber": str(sequence)}}


class Filter(unittest.TestCase):
    def keeps(self, r: dict) -> bool:
        return stream_mapping.passes(FILTERS, r)

    def test_what_can_be_an_event_passes(self):
        self.assertTrue(self.keeps(record("INSERT", "s", "status", 1, result="APPROVED")))
        self.assertTrue(self.keeps(record("MODIFY", "s", "status", 2, result="REJECTED")))
        self.assertTrue(self.keeps(record("MODIFY", "s", "video#RM1", 3, roomStatus="ended")))
        self.assertTrue(self.keeps(record("INSERT", "s", "unhandled#t#r", 4, type="x")))
        self.assertTrue(self.keeps(record("INSERT", "s", "delivery#k", 5, state="suppressed")))
        self.assertTrue(self.keeps(record("MODIFY", "s", "delivery#k", 6, state="failed")))
        self.assertTrue(self.keeps(record("INSERT", "unknown", "rejected#t#r", 7, field="x")))
        repeat = record("MODIFY", "s", "delivery#k", 8, state="sent")
        repeat["dynamodb"]["NewImage"]["duplicates"] = {"N": "1"}
        self.assertTrue(self.keeps(repeat))

    def test_lambda_takes_five_filters_at_most(self):
        self.assertLessEqual(len(FILTERS), 5)

    def test_what_cannot_is_dropped_before_the_function(self):
        self.assertFalse(self.keeps(record("REMOVE", "s", "status", 1)))
        self.assertFalse(self.keeps(record("MODIFY", "ratelimit#sms-budget", "window", 2)))
        self.assertFalse(self.keeps(record("INSERT", "s", "delivery#k", 3, state="pending")))
        self.assertFalse(self.keeps(record("MODIFY", "s", "delivery#k", 4, state="sent")))
        self.assertFalse(self.keeps(record("MODIFY", "s", "unhandled#t#r", 5, type="x")))
        self.assertFalse(self.keeps(record("MODIFY", "s", "rejected#t#r", 6, field="x")))


class FakeSqs:
    def __init__(self):
        self.sent = []

    def get_queue_url(self, QueueName):
        return {"QueueUrl": f"https://queue/{QueueName}"}

    def send_message(self, QueueUrl, MessageBody):
        self.sent.append(json.loads(MessageBody))


class Delivery(unittest.TestCase):
    def mapping(self, invoke) -> tuple[stream_mapping.StreamMapping, FakeSqs]:
        sqs = FakeSqs()
        config = dict(MAPPING, DestinationConfig={"OnFailure": {"Destination":
                                                                "arn:aws:sqs:us-east-1:1:dlq"}})
        mapping = stream_mapping.StreamMapping(None, sqs, "arn:stream", "arn:notify", invoke,
                                               config)
        return mapping, sqs

    batch = [record("MODIFY", "s", "status", n, result="R") for n in range(1, 7)]

    def test_the_template_sets_retries_bisect_and_item_failures(self):
        self.assertEqual(MAPPING["ParallelizationFactor"], 1)
        self.assertIn("ReportBatchItemFailures", MAPPING["FunctionResponseTypes"])
        self.assertTrue(MAPPING["BisectBatchOnFunctionError"])

    def test_a_failed_item_is_retried_from_there(self):
        calls = []

        def invoke(payload):
            sequences = [r["dynamodb"]["SequenceNumber"] for r in json.loads(payload)["Records"]]
            calls.append(sequences)
            if len(calls) == 1:
                return False, json.dumps({"batchItemFailures": [{"itemIdentifier": "4"}]}).encode()
            return False, b'{"batchItemFailures": []}'

        mapping, sqs = self.mapping(invoke)
        mapping._deliver("shard-1", self.batch)
        self.assertEqual(calls, [["1", "2", "3", "4", "5", "6"], ["4", "5", "6"]])
        self.assertEqual(mapping.delivered, 6)
        self.assertEqual(sqs.sent, [])

    def test_a_batch_that_keeps_failing_is_bisected_then_dead_lettered_with_its_position(self):
        def invoke(payload):
            sequences = [r["dynamodb"]["SequenceNumber"] for r in json.loads(payload)["Records"]]
            if "5" in sequences:
                return True, b'{"errorType": "PutEvents failed"}'
            return False, b"{}"

        mapping, sqs = self.mapping(invoke)
        mapping._deliver("shard-1", self.batch)
        self.assertEqual(len(sqs.sent), 1)
        info = sqs.sent[0]["DDBStreamBatchInfo"]
        self.assertEqual((info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"]),
                         ("shard-1", "5", "5"))
        self.assertEqual(sqs.sent[0]["requestContext"]["condition"], "RetryAttemptsExhausted")
        self.assertEqual(sqs.sent[0]["requestContext"]["approximateInvokeCount"],
                         MAPPING["MaximumRetryAttempts"] + 1)
        self.assertEqual(mapping.delivered, 5)


class Schemas(unittest.TestCase):
    def event(self, detail_type: str, **detail) -> dict:
        base = {"id": "r1:status", "receivedAt": "2026-11-27T19:49:15.123Z", "requestId": "r1"}
        return {"detail-type": detail_type, "detail": {**base, **detail}}

    def test_notify_details_match(self):
        self.assertTrue(local_stack.matches_schema(self.event(
            "Session Status Changed", sessionId="abc", result="APPROVED", sessionType="kyc")))
        self.assertTrue(local_stack.matches_schema(self.event(
            "Message Suppressed", sessionId="abc", channel="sms", kind="otp",
            recipient="+9955*****78", reason="rate-limited")))

    def test_a_missing_field_an_extra_one_or_an_unknown_type_does_not(self):
        self.assertFalse(local_stack.matches_schema(self.event(
            "Session Status Changed", sessionId="abc", sessionType="kyc")))
        self.assertFalse(local_stack.matches_schema(self.event(
            "Message Suppressed", sessionId="abc", channel="sms", kind="otp",
            recipient="+9955*****78", reason="rate-limited", message="Your code is 1234")))
        self.assertFalse(local_stack.matches_schema(self.event("Session Deleted", sessionId="a")))


if __name__ == "__main__":
    unittest.main()
