"""reconcile.py's request and printout, against the answers the reconcile function gives."""
import io
import json
import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from reconcile import invoke, lines, request  # noqa: E402


class FakeLambda:
    def __init__(self, body: dict, error: bool = False):
        self.body, self.error, self.calls = body, error, []

    def invoke(self, **kwargs):
        self.calls.append(kwargs)
        answer = {"Payload": io.BytesIO(json.dumps(self.body).encode())}
        if self.error:
            answer["FunctionError"] = "Unhandled"
        return answer


class Reconcile(unittest.TestCase):
    def test_the_request_names_the_session_or_every_open_one(self):
        self.assertEqual(request("abc"), {"action": "session", "sessionId": "abc"})
        self.assertEqual(request(None), {"action": "open"})

    def test_each_outcome_is_printed_with_what_changed(self):
        summary = {"asked": 4, "sessions": [
            {"sessionId": "s1", "outcome": "changed", "previousResult": "MANUAL_CHECK",
             "result": "APPROVED", "state": "closed"},
            {"sessionId": "s2", "outcome": "changed", "result": "REJECTED", "state": "closed"},
            {"sessionId": "s3", "outcome": "observed", "observed": "in_progress", "state": "open"},
            {"sessionId": "s4", "outcome": "error", "reason": "http-5xx", "state": "open"},
        ]}
        self.assertEqual(lines(summary), [
            "asked 4 session(s)",
            "  s1  changed: MANUAL_CHECK -> APPROVED  [closed]",
            "  s2  changed: (none) -> REJECTED  [closed]",
            "  s3  observed: in_progress (kept, not mapped)  [open]",
            "  s4  error: http-5xx  [open]",
        ])
        self.assertIn("another run", lines({"skipped": True, "asked": 0, "sessions": []})[0])

    def test_the_function_is_invoked_synchronously_and_its_failure_is_an_error(self):
        fake = FakeLambda({"asked": 0, "sessions": []})
        self.assertEqual(invoke(fake, "reconcile", request(None))["asked"], 0)
        self.assertEqual(fake.calls[0]["InvocationType"], "RequestResponse")
        self.assertEqual(json.loads(fake.calls[0]["Payload"]), {"action": "open"})
        with self.assertRaises(RuntimeError):
            invoke(FakeLambda({"errorMessage": "boom"}, error=True), "reconcile", request("s"))


if __name__ == "__main__":
    unittest.main()
