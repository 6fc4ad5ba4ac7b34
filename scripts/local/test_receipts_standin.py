"""receipts_standin.py: each message moto recorded becomes AWS's receipt for it, once."""
import base64
import gzip
import json
import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import receipts_standin  # noqa: E402

DATA = {
    "sns": {"SMS": [
        {"message_id": "m1", "phone_number": "+995512345678", "message": "Your code is 1"},
        {"message_id": "m2", "phone_number": receipts_standin.FAILING_PREFIX + "42", "message": "x"},
    ]},
    "ses": {"Message": [
        {"id": "e1", "source": "no-reply@verify.example.com", "subject": "s", "body": "b",
         "destinations": {"ToAddresses": ["a@example.com"], "CcAddresses": ["b@bounce.example"]}},
    ]},
}


def batch(payload: dict) -> dict:
    return json.loads(gzip.decompress(base64.b64decode(payload["awslogs"]["data"])))


class StandIn(unittest.TestCase):
    def setUp(self):
        self.standin = receipts_standin.StandIn("123456789012", "us-east-1", "the-set")

    def test_sms_are_log_batches_by_group_and_the_reserved_range_fails(self):
        payloads = self.standin.new_receipts(DATA)
        logs = [batch(p) for p in payloads if "awslogs" in p]
        groups = {b["logGroup"]: [json.loads(e["message"]) for e in b["logEvents"]] for b in logs}
        ok = groups["sns/us-east-1/123456789012/DirectPublishToPhoneNumber"]
        failed = groups["sns/us-east-1/123456789012/DirectPublishToPhoneNumber/Failure"]
        self.assertEqual([(l["notification"]["messageId"], l["status"]) for l in ok], [("m1", "SUCCESS")])
        self.assertEqual([(l["notification"]["messageId"], l["status"]) for l in failed], [("m2", "FAILURE")])
        self.assertTrue(all(b["messageType"] == "DATA_MESSAGE" for b in logs))
        self.assertEqual(ok[0]["delivery"]["priceInUSD"], receipts_standin.SMS_PRICE_USD)

    def test_an_email_with_a_bouncing_recipient_gets_both_events_tagged_with_the_set(self):
        events = [p for p in self.standin.new_receipts(DATA) if p.get("source") == "aws.ses"]
        kinds = {e["detail-type"]: e["detail"] for e in events}
        self.assertEqual(sorted(kinds), ["Email Bounced", "Email Delivered"])
        self.assertEqual(kinds["Email Bounced"]["bounce"]["bounceType"], "Permanent")
        self.assertEqual(kinds["Email Bounced"]["mail"]["messageId"], "e1")
        self.assertEqual(kinds["Email Delivered"]["delivery"]["recipients"], ["a@example.com"])
        for detail in kinds.values():
            self.assertEqual(detail["mail"]["tags"]["ses:configuration-set"], ["the-set"])

    def test_each_message_gets_its_receipts_once(self):
        self.assertEqual(len(self.standin.new_receipts(DATA)), 4)
        self.assertEqual(self.standin.new_receipts(DATA), [])

    def test_the_reserved_range_and_domain_are_exact(self):
        self.assertTrue(receipts_standin.fails(receipts_standin.FAILING_PREFIX + "00"))
        self.assertFalse(receipts_standin.fails(receipts_standin.FAILING_PREFIX + "100"))
        self.assertFalse(receipts_standin.fails("+995599001000"))
        self.assertTrue(receipts_standin.bounces("Someone@Bounce.Example"))
        self.assertFalse(receipts_standin.bounces("a@notbounce.example"))


if __name__ == "__main__":
    unittest.main()
