"""The local Identomat: every documented way of passing the fields, the company key, the HMAC
signature both ways (plain and multipart), delete/, and each fault."""
import base64
import hashlib
import hmac
import json
import pathlib
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from identomat_api import sign, sign_parts  # noqa: E402

KEY = "company-key-local"
SESSIONS = {
    "s1": {"result": "approved", "person": {"first_name": "Nino"}},
    "s2": {"result": "in_progress"},
    "slow": {"result": "approved", "fault": "slow", "seconds": 1},
    "down": {"result": "approved", "fault": "5xx"},
    "big": {"result": "approved", "fault": "oversize"},
    "html": {"result": "approved", "fault": "not-json"},
    "badsig": {"result": "approved", "fault": "bad-signature"},
    "nosig": {"result": "approved", "fault": "no-signature"},
}


def multipart(fields: dict) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Server:
    def __init__(self, secret: str = ""):
        command = [sys.executable, str(HERE / "identomat_api.py"), "0", "--company-key", KEY,
                   "--exit-on-stdin-close"]
        if secret:
            command += ["--hmac-secret", secret]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self.base = f"http://127.0.0.1:{int(self.process.stdout.readline().split()[-1])}"
        self.post("/_control/sessions", json.dumps(SESSIONS).encode(), "application/json")

    def post(self, path: str, body: bytes, kind: str, headers: dict | None = None):
        request = urllib.request.Request(self.base + path, data=body, method="POST",
                                         headers={"content-type": kind, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, r.read(), r.headers.get("authorization")
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.get("authorization")

    def result(self, session: str, key: str = KEY, secret: str = ""):
        body = urllib.parse.urlencode({"company_key": key, "session_token": session}).encode()
        headers = {"authorization": sign(secret.encode(), body)} if secret else {}
        return self.post("/external-api/result/", body, "application/x-www-form-urlencoded", headers)

    def stop(self):
        self.process.stdin.close()
        self.process.wait()



class Plain(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_form_json_multipart_and_query_are_all_read(self):
        fields = {"company_key": KEY, "session_token": "s1"}
        answers = [
            self.server.post("/external-api/result/", urllib.parse.urlencode(fields).encode(),
                             "application/x-www-form-urlencoded"),
            self.server.post("/external-api/result/", json.dumps(fields).encode(), "application/json"),
            self.server.post("/external-api/result/", *multipart(fields)),
            self.server.post("/external-api/result/?" + urllib.parse.urlencode(fields), b"", "text/plain"),
        ]
        for status, body, _ in answers:
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["result"], "approved")
            self.assertIn("person", json.loads(body), "answers hold personal data as the platform's")
        with urllib.request.urlopen(self.server.base + "/_control/requests") as r:
            kinds = [q["body"] for q in json.loads(r.read()) if q["session_token"] == "s1"]
        self.assertEqual(kinds[:4], ["form", "json", "multipart", "query"])

    def test_the_company_key_and_the_session_are_checked(self):
        self.assertEqual(self.server.result("s1", key="wrong")[0], 401)
        self.assertEqual(self.server.result("nobody")[0], 404)
        self.assertEqual(json.loads(self.server.result("s2")[1])["result"], "in_progress")

    def test_each_fault(self):
        self.assertEqual(self.server.result("down")[0], 503)
        started = time.monotonic()
        self.assertEqual(self.server.result("slow")[0], 200)
        self.assertGreaterEqual(time.monotonic() - started, 1)
        status, body, _ = self.server.result("big")
        self.assertEqual(status, 200)
        self.assertGreater(len(body), 5 * 1024 * 1024)
        status, body, _ = self.server.result("html")
        self.assertEqual((status, body[:6]), (200, b"<html>"))

    def test_delete_erases_the_session(self):
        self.server.post("/_control/sessions", json.dumps({"gone": {"result": "approved"}}).encode(),
                         "application/json")
        body = urllib.parse.urlencode({"company_key": KEY, "session_token": "gone"}).encode()
        status, answer, _ = self.server.post("/external-api/delete/", body,
                                             "application/x-www-form-urlencoded")
        self.assertEqual((status, json.loads(answer)), (200, {"deleted": True}))
        self.assertEqual(self.server.result("gone")[0], 404)


class Signed(unittest.TestCase):
    SECRET = "hmac-secret-local"

    @classmethod
    def setUpClass(cls):
        cls.server = Server(cls.SECRET)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_a_signed_request_gets_a_signed_answer(self):
        status, body, header = self.server.result("s1", secret=self.SECRET)
        self.assertEqual(status, 200)
        self.assertEqual(header, sign(self.SECRET.encode(), body))

    def test_an_unsigned_or_wrongly_signed_request_is_refused_unsigned(self):
        for secret in ("", "another-secret"):
            status, _, header = self.server.result("s1", secret=secret)
            self.assertEqual((status, header), (401, None))

    def test_a_multipart_request_is_signed_part_by_part(self):
        fields = {"company_key": KEY, "session_token": "s1"}
        body, kind = multipart(fields)
        chained = sign_parts(self.SECRET.encode(), [KEY.encode(), b"s1"])
        # By hand: each step keyed with the previous step's binary digest.
        step = hmac.new(self.SECRET.encode(), KEY.encode(), hashlib.sha256).digest()
        step = hmac.new(step, b"s1", hashlib.sha256).digest()
        self.assertEqual(chained, f'signature="{base64.b64encode(step).decode()}"')
        self.assertEqual(self.server.post("/external-api/result/", body, kind,
                                          {"authorization": chained})[0], 200)
        self.assertEqual(self.server.post("/external-api/result/", body, kind,
                                          {"authorization": sign(self.SECRET.encode(), body)})[0], 401)

    def test_signature_faults(self):
        status, body, header = self.server.result("badsig", secret=self.SECRET)
        self.assertEqual(status, 200)
        self.assertNotEqual(header, sign(self.SECRET.encode(), body))
        status, _, header = self.server.result("nosig", secret=self.SECRET)
        self.assertEqual((status, header), (200, None))


if __name__ == "__main__":
    unittest.main()
