"""A local Lambda service for given bootstraps, as deploy_local.py runs what a stack holds.

- the Runtime API each function's process polls (one process per function, started on its
  first invocation and again after it dies or overruns its timeout, as a new execution
  environment is);
- the Invoke API: `RequestResponse` answers with the function's result; `Event` answers 202
  and runs the invocation later, retried after a failure as the function's event-invoke
  configuration says (MaximumRetryAttempts; Lambda waits about 1 and 2 minutes, here 1 and 2
  seconds), and sent to its OnFailure SQS queue as Lambda's failure record once retries or
  MaximumEventAgeInSeconds run out;
- an HTTP API front (payload format 2.0) that turns `POST /callbacks` into the ingress's event;
- a recording proxy per function in front of moto (and of this Invoke API), which every AWS
  call of that function goes through: which actions it called on which resources, for the
  least-privilege check.
"""
import http.client
import http.server
import json
import collections
import re
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid

ACCOUNT = "123456789012"
RETRY_DELAYS = [1.0, 2.0]


class Invocation:
    def __init__(self, payload: bytes):
        self.payload = payload
        self.request_id = str(uuid.uuid4())
        self.done = threading.Event()
        self.error: bytes | None = None
        self.result = b""


class Function:
    def __init__(self, name: str, command: list[str], env: dict, timeout: float, log,
                 region: str, event_config: dict | None = None):
        self.name = name
        self.arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"
        self.command = command
        self.env = env
        self.timeout = timeout
        self.log = log
        self.event_config = event_config or {}
        self.pending: collections.deque[Invocation] = collections.deque()
        self.current: Invocation | None = None
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()
        self.ready = threading.Condition()
        self.cold_starts = 0
        # Each process gets a Runtime API of its own: a request still waiting for `next` from
        # a process that died must not take an invocation meant for the next one.
        self.generation = 0
        self.api: http.server.ThreadingHTTPServer | None = None
        self.stopped = False
        threading.Thread(target=self._watch, daemon=True).start()

    def invoke(self, payload: bytes) -> Invocation:
        """Runs one invocation to its end (a result, an error, or a timeout)."""
        invocation = Invocation(payload)
        self._ensure_process()
        with self.ready:
            self.pending.append(invocation)
            self.ready.notify_all()
        invocation.done.wait()
        return invocation

    def _ensure_process(self) -> None:
        with self.lock:
            if self.stopped or (self.process and self.process.poll() is None):
                return
            with self.ready:
                self.generation += 1
                self.ready.notify_all()
            if self.api is not None:
                self.api.shutdown()
            self.api = serve(_runtime_handler(self, self.generation))
            env = dict(self.env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{self.api.server_address[1]}",
                       AWS_LAMBDA_FUNCTION_NAME=self.name, AWS_LAMBDA_FUNCTION_VERSION="$LATEST")
            self.process = subprocess.Popen(self.command, env=env, stdout=self.log,
                                            stderr=subprocess.STDOUT)
            self.cold_starts += 1

    def _watch(self) -> None:
        """Fails the invocation in flight when its process dies or overruns the timeout."""
        while not self.stopped:
            time.sleep(0.05)
            with self.lock:
                current, process = self.current, self.process
            if current is None or current.done.is_set():
                continue
            dead = process is not None and process.poll() is not None
            late = time.monotonic() > current.deadline
            if dead or late:
                if process is not None and process.poll() is None:
                    process.kill()
                reason = "Task timed out" if late else "Runtime exited"
                self._finish(current, error=json.dumps({"errorType": reason}).encode())
                self._ensure_process()

    def _finish(self, invocation: Invocation, result: bytes = b"", error: bytes | None = None):
        with self.lock:
            if invocation.done.is_set():
                return
            invocation.result, invocation.error = result, error
            if self.current is invocation:
                self.current = None
            invocation.done.set()

    def stop(self) -> None:
        self.stopped = True
        with self.lock:
            if self.process and self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        with self.ready:
            self.generation += 1
            self.ready.notify_all()
        if self.api is not None:
            self.api.shutdown()


def _runtime_handler(function: Function, generation: int):
    class Handler(Quiet):
        def do_GET(self):
            if not self.path.endswith("/runtime/invocation/next"):
                return self.reply(404)
            with function.ready:
                while generation == function.generation and not function.pending:
                    function.ready.wait()
                if generation != function.generation:
                    self.close_connection = True
                    return
                invocation = function.pending.popleft()
            invocation.deadline = time.monotonic() + function.timeout
            with function.lock:
                function.current = invocation
            deadline_ms = int(time.time() * 1000 + function.timeout * 1000)
            self.reply(200, invocation.payload, [
                ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
                ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                ("Lambda-Runtime-Invoked-Function-Arn", function.arn),
                ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                ("Content-Type", "application/json"),
            ])

        def do_POST(self):
            body = self.body()
            match = re.search(r"/runtime/invocation/([^/]+)/(response|error)$", self.path)
            current = function.current
            if match and current is not None and current.request_id == match.group(1):
                if match.group(2) == "response":
                    function._finish(current, result=body)
                else:
                    function._finish(current, error=body or b'{"errorType":"Unhandled"}')
            self.reply(202, b"{}")

    return Handler


class Service:
    """The Invoke API and the HTTP API front over a set of functions."""

    def __init__(self, functions: dict[str, Function], ingress: str, sqs):
        self.functions = functions
        self.ingress = ingress
        self.sqs = sqs
        self.async_invocations = 0
        self.failure_records = 0
        self.in_flight = 0
        self.idle = threading.Condition()
        self.server = serve(self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.callback_url = f"{self.url}/callbacks"

    def find(self, name_or_arn: str) -> Function | None:
        name = urllib.parse.unquote(name_or_arn).split(":function:")[-1].split(":")[0]
        return self.functions.get(name)

    def invoke_async(self, function: Function, payload: bytes) -> None:
        with self.idle:
            self.async_invocations += 1
            self.in_flight += 1
        threading.Thread(target=self._run_async, args=(function, payload), daemon=True).start()

    def wait_idle(self, timeout: float) -> bool:
        """Waits until every asynchronous invocation has finished (retries included)."""
        with self.idle:
            return self.idle.wait_for(lambda: self.in_flight == 0, timeout)

    def _run_async(self, function: Function, payload: bytes) -> None:
        try:
            self._attempts(function, payload)
        finally:
            with self.idle:
                self.in_flight -= 1
                self.idle.notify_all()

    def _attempts(self, function: Function, payload: bytes) -> None:
        config = function.event_config
        retries = int(config.get("MaximumRetryAttempts", 2))
        max_age = float(config.get("MaximumEventAgeInSeconds", 21600))
        queued = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            invocation = function.invoke(payload)
            if invocation.error is None:
                return
            if attempt > retries or time.monotonic() - queued > max_age:
                break
            time.sleep(RETRY_DELAYS[min(attempt - 1, len(RETRY_DELAYS) - 1)])
        destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if not destination:
            return
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {
                "requestId": invocation.request_id, "functionArn": f"{function.arn}:$LATEST",
                "condition": "RetriesExhausted", "approximateInvokeCount": attempt,
            },
            "requestPayload": json.loads(payload),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                "functionError": "Unhandled"},
            "responsePayload": _json_or_text(invocation.error),
        }
        queue_name = destination.split(":")[-1]
        queue_url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))
        self.failure_records += 1

    def _handler(self):
        service = self

        class Handler(Quiet):
            def do_POST(self):
                body = self.body()
                match = re.match(r"^/2015-03-31/functions/([^/]+)/invocations", self.path)
                if match:
                    function = service.find(match.group(1))
                    if function is None:
                        return self.reply(404, json.dumps(
                            {"Type": "User", "message": "Function not found"}).encode(),
                            [("x-amzn-ErrorType", "ResourceNotFoundException")])
                    kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
                    if kind == "Event":
                        service.invoke_async(function, body)
                        return self.reply(202)
                    invocation = function.invoke(body)
                    if invocation.error is not None:
                        return self.reply(200, invocation.error,
                                          [("X-Amz-Function-Error", "Unhandled")])
                    return self.reply(200, invocation.result)
                if urllib.parse.urlsplit(self.path).path == "/callbacks":
                    return self.callback(body)
                self.reply(404)

            def callback(self, body: bytes):
                event = _http_api_event(self, body)
                invocation = service.functions[service.ingress].invoke(json.dumps(event).encode())
                if invocation.error is not None:
                    return self.reply(500, b'{"message":"Internal Server Error"}')
                answer = json.loads(invocation.result)
                headers = list((answer.get("headers") or {}).items())
                text = answer.get("body") or ""
                self.reply(int(answer.get("statusCode", 200)), text.encode(), headers)

        return Handler

    def stop(self) -> None:
        self.server.shutdown()
        for function in self.functions.values():
            function.stop()


class RecordingProxy:
    """Forwards a function's AWS calls to moto (Lambda's Invoke API to the Service) and
    records each as (action, resource ARN), as IAM would authorise it."""

    def __init__(self, moto: str, service: Service, region: str):
        self.calls: set[tuple[str, str]] = set()
        # The DynamoDB item calls again with the partition key each named (IAM's
        # dynamodb:LeadingKeys), for the roles' conditions.
        self.keyed: set[tuple[str, str, str]] = set()
        proxy = self

        class Handler(Quiet):
            def forward(self):
                body = self.body()
                upstream = moto
                if "/2015-03-31/functions/" in self.path:
                    upstream = service.url
                action, resource = _action(self.headers, self.path, body, region)
                proxy.calls.add((action, resource))
                key = _leading_key(action, body)
                if key is not None:
                    proxy.keyed.add((action, resource, key))
                target = urllib.parse.urlsplit(upstream)
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request(self.command, self.path, body, headers)
                response = connection.getresponse()
                answer = response.read()
                self.reply(response.status, answer,
                           [(k, v) for k, v in response.getheaders()
                            if k.lower() not in ("content-length", "connection", "transfer-encoding",
                                                 "server", "date")])
                connection.close()

            do_GET = do_POST = do_PUT = do_DELETE = forward

        self.server = serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()


def _leading_key(action: str, body: bytes) -> str | None:
    """The partition key (`sessionId`) a DynamoDB item request names: its Key or Item."""
    if action not in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                      "dynamodb:DeleteItem"):
        return None
    params = json.loads(body or b"{}")
    value = (params.get("Key") or params.get("Item") or {}).get("sessionId", {})
    return value.get("S")


def _action(headers, path: str, body: bytes, region: str) -> tuple[str, str]:
    """The IAM action and resource of one signed AWS request."""
    scope = re.search(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/", headers.get("Authorization", ""))
    service = scope.group(2) if scope else "unknown"
    region = scope.group(1) if scope else region
    target = headers.get("X-Amz-Target")
    params: dict = {}
    if target:
        action = target.split(".")[-1]
        params = json.loads(body or b"{}")
    elif "/2015-03-31/functions/" in path:
        action = "InvokeFunction"
        name = urllib.parse.unquote(path.split("/functions/")[1].split("/")[0])
        params = {"FunctionName": name.split(":function:")[-1].split(":")[0]}
    else:
        form = urllib.parse.parse_qs(body.decode())
        action = form.get("Action", ["?"])[0]
        params = {k: v[0] for k, v in form.items()}
    arn = f"arn:aws:{service}:{region}:{ACCOUNT}"
    if service == "dynamodb" and "TableName" in params:
        resource = f"{arn}:table/{params['TableName']}"
        # A Query or Scan of an index is authorised on the index's ARN, not the table's.
        if params.get("IndexName"):
            resource += f"/index/{params['IndexName']}"
    elif service == "secretsmanager":
        secret = params.get("SecretId", "")
        resource = secret if secret.startswith("arn:") else f"{arn}:secret:{secret}"
    elif service == "lambda":
        resource = f"{arn}:function:{params['FunctionName']}"
    elif service == "ses":
        # SES authorises the sending identity: the address, or its domain when only that is
        # verified; the check accepts either.
        source = re.sub(r".*<(.*)>.*", r"\1", params.get("Source", ""))
        resource = f"{arn}:identity/{source}"
    elif service == "events":
        entries = params.get("Entries") or [{}]
        bus = entries[0].get("EventBusName") or "default"
        resource = bus if bus.startswith("arn:") else f"{arn}:event-bus/{bus}"
    elif service == "sns":
        resource = params.get("TopicArn") or params.get("TargetArn") or "*"
    else:
        resource = "*"
    return f"{service}:{action}", resource


def _http_api_event(request, body: bytes) -> dict:
    """API Gateway's HTTP API event (payload format 2.0) for one request."""
    split = urllib.parse.urlsplit(request.path)
    now = time.time()
    request_id = uuid.uuid4().hex[:16]
    return {
        "version": "2.0",
        "routeKey": f"{request.command} {split.path}",
        "rawPath": split.path,
        "rawQueryString": split.query,
        "headers": {k.lower(): v for k, v in request.headers.items()},
        "requestContext": {
            "accountId": ACCOUNT, "apiId": "local", "domainName": "localhost",
            "domainPrefix": "local",
            "http": {"method": request.command, "path": split.path, "protocol": "HTTP/1.1",
                     "sourceIp": request.client_address[0],
                     "userAgent": request.headers.get("User-Agent", "")},
            "requestId": request_id, "routeKey": f"{request.command} {split.path}",
            "stage": "$default", "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": body.decode(errors="replace"),
        "isBase64Encoded": False,
    }


def _json_or_text(value: bytes):
    try:
        return json.loads(value)
    except ValueError:
        return value.decode(errors="replace")


class Quiet(http.server.BaseHTTPRequestHandler):
    """A handler that logs nothing and answers in one write."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status: int, body: bytes = b"", headers=()):
        # Status line, headers and body in one write: apart, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every call.
        self.send_response_only(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.append(b"\r\n")
        self.wfile.write(b"".join(self._headers_buffer) + body)
        self._headers_buffer = []


def serve(handler, context=None) -> http.server.ThreadingHTTPServer:
    """`handler` on a loopback port in a background thread; TLS when `context` is given (an
    ssl.SSLContext for the server side)."""
    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a killed function's connection: expected

        def get_request(self):
            connection, address = super().get_request()
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return connection, address

    server = Server(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
