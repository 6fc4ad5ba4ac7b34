"""smoke.py's receipts step: the account's SMS setting against the stack's role."""
import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import smoke  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/stack-SmsDeliveryStatusRole-X"
OUTPUTS = {"SmsDeliveryStatusRoleArn": ROLE, "SmsDeliveryStatusCommand": "aws sns set-sms-attributes ..."}


class Sns:
    def __init__(self, role):
        self.role = role

    def get_sms_attributes(self, attributes):
        return {"attributes": {"DeliveryStatusIAMRole": self.role} if self.role else {}}


class Logs:
    class exceptions:
        class ResourceNotFoundException(Exception):
            pass

    def __init__(self, last_ms):
        self.last_ms = last_ms

    def describe_log_streams(self, logGroupName, **_):
        if self.last_ms is None:
            raise self.exceptions.ResourceNotFoundException()
        return {"logStreams": [{"lastEventTimestamp": self.last_ms}]}


class ReceiptSteps(unittest.TestCase):
    def test_the_stacks_role_set_passes_and_the_last_receipt_is_told(self):
        steps, notes = smoke.receipt_steps(OUTPUTS, Sns(ROLE), Logs(3_600_000), "us-east-1", now=7200)
        self.assertEqual([passed for _, passed, _ in steps], [True])
        self.assertIn("1.0 h ago", notes[0])

    def test_another_role_or_none_fails_and_names_the_command(self):
        for held in ("", "arn:aws:iam::123456789012:role/other"):
            steps, notes = smoke.receipt_steps(OUTPUTS, Sns(held), Logs(None), "us-east-1")
            self.assertFalse(steps[0][1])
            self.assertIn("SmsDeliveryStatusCommand", steps[0][2])
            self.assertIn("none yet", notes[0])

    def test_an_older_stack_without_the_output_fails(self):
        steps, _ = smoke.receipt_steps({}, Sns(""), Logs(None), "us-east-1")
        self.assertFalse(steps[0][1])


if __name__ == "__main__":
    unittest.main()
