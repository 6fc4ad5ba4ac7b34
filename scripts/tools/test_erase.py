"""erase.py against moto's DynamoDB, on a table made as template.yaml makes it. `make
deploy-local` also runs it against the deployed stack."""
import json
import os
import pathlib
import urllib.request
import sys
import unittest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "local"))
import template  # noqa: E402
from erase import delete_at_identomat, describe, erase  # noqa: E402

TABLE = "sessions"


def item(session: str, record: str, **more) -> dict:
    # Records as large as real ones may get (a status with its history), so that the query
    # takes more than one page.
    return {"sessionId": {"S": session}, "record": {"S": record},
            "history": {"S": "x" * 20_000}, **more}


@mock_aws
class Erase(unittest.TestCase):
    def setUp(self):
        self.dynamodb = boto3.client("dynamodb")
        template.create_sessions_table(self.dynamodb, TABLE)
        records = ["status"] + [f"video#RM{i}" for i in range(3)] + \
                  [f"delivery#{i:032x}" for i in range(70)] + ["unhandled#2026-11-30T00:00:00.000Z#r1"]
        for record in records:
            self.dynamodb.put_item(TableName=TABLE, Item=item("alice-session", record))
        self.alice = sorted(records)
        for record in ("status", "delivery#" + "f" * 32):
            self.dynamodb.put_item(TableName=TABLE, Item=item("bob-session", record))
        self.dynamodb.put_item(TableName=TABLE, Item=item("ratelimit#sms-budget", "window"))

    def items(self) -> list[dict]:
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=TABLE)
        return [i for page in pages for i in page["Items"]]

    def keys(self, session: str) -> list[str]:
        return sorted(i["record"]["S"] for i in self.items() if i["sessionId"]["S"] == session)

    def test_every_record_of_the_session_goes_and_nothing_else(self):
        self.assertEqual(erase(self.dynamodb, TABLE, "alice-session"), self.alice)
        self.assertEqual(self.keys("alice-session"), [])
        self.assertEqual(len(self.keys("bob-session")), 2)
        self.assertEqual(self.keys("ratelimit#sms-budget"), ["window"])

    def test_a_dry_run_lists_and_deletes_nothing(self):
        self.assertEqual(erase(self.dynamodb, TABLE, "alice-session", dry_run=True), self.alice)
        self.assertEqual(self.keys("alice-session"), self.alice)

    def test_an_unknown_session_deletes_nothing(self):
        self.assertEqual(erase(self.dynamodb, TABLE, "nobody"), [])
        self.assertEqual(len(self.items()), 78)

    def test_records_are_named_without_their_full_key(self):
        self.assertEqual(describe("status"), "status")
        self.assertEqual(describe("video#RM1"), "video#RM1")
        self.assertEqual(describe("delivery#" + "a" * 32), "delivery#aaaaaaaa...")


class AtIdentomat(unittest.TestCase):
    """delete/ against the local Identomat (scripts/local/identomat_api.py), plain and signed."""

    def start(self, secret: str = "") -> str:
        import subprocess

        command = [sys.executable, str(HERE.parent / "local" / "identomat_api.py"), "0",
                   "--company-key", "company-key-local", "--exit-on-stdin-close"]
        if secret:
            command += ["--hmac-secret", secret]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(process.wait)
        self.addCleanup(process.stdin.close)
        port = int(process.stdout.readline().split()[-1])
        base = f"http://127.0.0.1:{port}"
        control = urllib.request.Request(f"{base}/_control/sessions", method="POST",
                                         data=json.dumps({"alice": {"result": "approved"}}).encode())
        urllib.request.urlopen(control).read()
        return f"{base}/external-api/"

    def test_the_session_is_deleted_there_and_the_answer_printed_as_received(self):
        api = self.start()
        status, answer, signature = delete_at_identomat(api, "company-key-local", "", "alice")
        self.assertEqual((status, json.loads(answer), signature), (200, {"deleted": True}, "not signed"))
        # Gone there: asked again, the platform does not know it.
        status, answer, _ = delete_at_identomat(api, "company-key-local", "", "alice")
        self.assertEqual(status, 404)
        self.assertEqual(delete_at_identomat(api, "wrong-key", "", "alice")[0], 401)

    def test_signed_both_ways(self):
        api = self.start(secret="hmac-secret")
        self.assertEqual(delete_at_identomat(api, "company-key-local", "", "alice")[0], 401)
        status, _, signature = delete_at_identomat(api, "company-key-local", "hmac-secret", "alice")
        self.assertEqual((status, signature), (200, "signature valid"))

    def test_plain_http_only_to_loopback(self):
        with self.assertRaises(ValueError):
            delete_at_identomat("http://widget.identomat.com/external-api/", "k", "", "alice")


if __name__ == "__main__":
    unittest.main()
