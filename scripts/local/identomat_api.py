#!/usr/bin/env python3
"""A local Identomat company API: `result/` and `delete/` as far as the platform documents them,
on loopback, for the reconcile function's tests and the local stack.

  identomat_api.py [PORT] --company-key KEY [--hmac-secret SECRET] [--fixture FILE]
                   [--host 127.0.0.1] [--tls-cert PEM --tls-key PEM] [--exit-on-stdin-close]

Prints `listening on <port>` once it listens (PORT 0 picks a free one); with --tls-cert and
--tls-key it serves HTTPS, as the platform does (make deploy-local, whose template takes https
only).

The contract (../shared/reference/identomat-api.md in the project's notes, docs/operations.md):
POST <base>/external-api/result/ and .../delete/ with `company_key` and `session_token`, in the
query string, a form (URL-encoded or multipart) or a JSON body. With a secret, a request must be
signed (`Authorization: signature="<base64 HMAC-SHA-256>"` over the body; a multipart body part
by part, text parts first, each step keyed with the previous step's digest) and a successful
answer is signed over its body.

What the platform does not document, this stand-in decides, and says so: a wrong company key
or signature is 401 `{"argumentError": ...}`, an unknown session 404, `delete/` answers 200
`{"deleted": true}`.

Sessions come from the fixture (`{"<token>": {"result": "approved", "person": {...}, ...}}`),
answered as stored, personal data included, as the platform's would be. An entry's `fault`
replaces its answer: `5xx` (503), `slow` (answers after `seconds`, 15 by default), `bad-signature`,
`no-signature`, `oversize` (5 MiB), `not-json`.

Control, for tests: POST /_control/sessions (a JSON object of entries, merged), GET
/_control/requests (what was asked: path, session token, body type, whether signed), POST
/_control/reset (sessions and requests emptied).
"""
import argparse
import base64
import email.parser
import email.policy
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OVERSIZE_BYTES = 5 * 1024 * 1024


def sign(secret: bytes, body: bytes) -> str:
    """`signature="<base64>"` over a plain body."""
    digest = hmac.new(secret, body, hashlib.sha256).digest()
    return f'signature="{base64.b64encode(digest).decode()}"'


def sign_parts(secret: bytes, parts: list[bytes]) -> str:
    """A multipart body's signature: each text part in turn, keyed with the previous digest."""
    key = secret
    for part in parts:
        key = hmac.new(key, part, hashlib.sha256).digest()
    return f'signature="{base64.b64encode(key).decode()}"'


def presented(header: str | None) -> bytes | None:
    if not header or not header.strip().startswith("signature="):
        return None
    try:
        return base64.b64decode(header.strip()[len("signature="):].strip('"'), validate=True)
    except ValueError:
        return None


def read_fields(content_type: str, body: bytes, query: str) -> tuple[dict, str, list[bytes] | None]:
    """The request's fields, what kind of body carried them, and a multipart body's text parts
    in order (for its signature)."""
    fields = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        fields.update({k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()})
        return fields, "form", None
    if kind == "application/json":
        try:
            value = json.loads(body or b"{}")
        except ValueError:
            return fields, "json", None
        if isinstance(value, dict):
            fields.update({k: str(v) for k, v in value.items()})
        return fields, "json", None
    if kind == "multipart/form-data":
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        parts = []
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename() is None and name:
                value = part.get_payload(decode=True) or b""
                parts.append(value)
                fields[name] = value.decode("utf-8", "replace")
        return fields, "multipart", parts
    return fields, "query" if fields else "none", None


class State:
    def __init__(self, company_key: str, secret: str, sessions: dict):
        self.company_key = company_key
        self.secret = secret.encode() if secret else None
        self.sessions = dict(sessions)
        self.requests: list[dict] = []
        self.lock = threading.Lock()


def handler_for(state: State):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def answer(self, status: int, body: bytes, signed: bool = False, kind="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if signed and state.secret:
                self.send_header("Authorization", sign(state.secret, body))
            self.end_headers()
            self.wfile.write(body)

        def json_answer(self, status: int, value, signed: bool = False):
            self.answer(status, json.dumps(value).encode(), signed)

        def do_GET(self):
            if self.path == "/_control/requests":
                with state.lock:
                    return self.json_answer(200, state.requests)
            self.json_answer(404, {"error": "not found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/_control/sessions":
                with state.lock:
                    state.sessions.update(json.loads(body))
                return self.json_answer(200, {"sessions": len(state.sessions)})
            if url.path == "/_control/reset":
                with state.lock:
                    state.sessions.clear()
                    state.requests.clear()
                return self.json_answer(200, {})
            method = url.path.rstrip("/").rsplit("/", 1)[-1]
            if not url.path.startswith("/external-api/") or method not in ("result", "delete"):
                return self.json_answer(404, {"argumentError": "method"})
            fields, kind, parts = read_fields(self.headers.get("Content-Type", ""), body, url.query)
            token = fields.get("session_token", "")
            signature = presented(self.headers.get("Authorization"))
            with state.lock:
                state.requests.append({"method": method, "session_token": token, "body": kind,
                                       "signed": signature is not None})
                entry = state.sessions.get(token)
            if not hmac.compare_digest(fields.get("company_key", "").encode(), state.company_key.encode()):
                return self.json_answer(401, {"argumentError": "company_key"})
            if state.secret:
                expected = (sign_parts(state.secret, parts) if parts is not None
                            else sign(state.secret, body))
                if signature is None or not hmac.compare_digest(presented(expected), signature):
                    return self.json_answer(401, {"argumentError": "signature"})
            if entry is None:
                return self.json_answer(404, {"argumentError": "session_token"})
            if method == "delete":
                with state.lock:
                    state.sessions.pop(token, None)
                return self.json_answer(200, {"deleted": True}, signed=True)
            fault = entry.get("fault")
            answer = {k: v for k, v in entry.items() if k not in ("fault", "seconds")}
            if fault == "5xx":
                return self.json_answer(503, {"error": "unavailable"})
            if fault == "slow":
                time.sleep(float(entry.get("seconds", 15)))
            if fault == "oversize":
                answer["padding"] = "x" * OVERSIZE_BYTES
            if fault == "not-json":
                return self.answer(200, b"<html>maintenance</html>", signed=True, kind="text/html")
            payload = json.dumps(answer).encode()
            if fault == "bad-signature" and state.secret:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Authorization", sign(state.secret, payload + b" "))
                self.end_headers()
                return self.wfile.write(payload)
            self.answer(200, payload, signed=fault != "no-signature")

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("port", nargs="?", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--company-key", required=True)
    parser.add_argument("--hmac-secret", default="")
    parser.add_argument("--fixture")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--exit-on-stdin-close", action="store_true")
    args = parser.parse_args()
    sessions = {}
    if args.fixture:
        with open(args.fixture) as f:
            sessions = json.load(f)
    state = State(args.company_key, args.hmac_secret, sessions)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(state))
    server.daemon_threads = True
    if args.tls_cert:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening on {server.server_address[1]}", flush=True)
    if args.exit_on_stdin_close:
        def watch():
            sys.stdin.read()
            server.shutdown()
        threading.Thread(target=watch, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
