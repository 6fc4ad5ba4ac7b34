#!/usr/bin/env python3
"""The whole system on this machine, without Docker or an AWS account.

moto server stands in for SNS, SES, DynamoDB (with its stream), Secrets Manager, EventBridge
and SQS; `cargo lambda watch` runs every function behind a local function URL and the Lambda
Invoke API, so the ingress hands off to the families exactly as in AWS; stream_mapping.py feeds
the table's stream to notify as the event source mapping does.

  local_stack.py demo   start, replay the reference samples, print what was sent and stored,
                        stop; exit 0 only when every expected outcome was seen
  local_stack.py local  start and keep running until Ctrl-C or SIGTERM

Each function's environment is what template.yaml gives it, resolved with the parameters of
samconfig.toml's `local` environment (the ones `make deploy-local` deploys with), with the local
table, secret and function names in place of the stack's. cargo lambda watch gives every
function one environment, so theirs are merged, and a variable two functions would see with
different values stops the start.

The reconcile function runs against a local Identomat (identomat_api.py, its sessions from
events/identomat/sessions.json), unless IDENTOMAT_API_URL names another implementation of the
same contract; IDENTOMAT_COMPANY_KEY and IDENTOMAT_HMAC_SECRET are its credentials,
RECONCILE_EVERY_SECONDS (60) how often the schedule runs, RECONCILE_AFTER_SECONDS the first
delay (the later steps scale with it).

Environment: CALLBACK_API_KEY and SMS_MAX_PER_HOUR override the parameters CallbackApiKey and
SmsMaxPerHour; MOTO_PORT (5055), LAMBDA_PORT (9055).
"""

import functools
import json
import os
import pathlib
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import boto3

import receipts_standin
import stream_mapping
import template

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
SAMPLES = ROOT / "events" / "callbacks"
TABLE = "identomat-sessions"
EVENT_BUS = "identomat-local-callbacks"
EVENTS_QUEUE = "identomat-local-events"
DEAD_LETTERS = "identomat-local-dead-letters"
SECRET = "identomat/callback-key"
IDENTOMAT_SECRET = "identomat/company-key"
CONFIGURATION_SET = "identomat-local-email"
LOCAL_COMPANY_KEY = "company-key-local-only"
IDENTOMAT_SESSIONS = ROOT / "events" / "identomat" / "sessions.json"
REGION = "us-east-1"
ACCOUNT = "123456789012"
SAMCONFIG_ENV = "local"


def parameters() -> dict:
    """The stack parameters the local stack runs with: samconfig.toml's `local` environment,
    and the environment's overrides."""
    values = template.samconfig_parameters(SAMCONFIG_ENV)
    values["IdentomatCompanyKey"] = LOCAL_COMPANY_KEY
    for variable, parameter in (("CALLBACK_API_KEY", "CallbackApiKey"),
                                ("SMS_MAX_PER_HOUR", "SmsMaxPerHour"),
                                ("IDENTOMAT_COMPANY_KEY", "IdentomatCompanyKey"),
                                ("IDENTOMAT_HMAC_SECRET", "IdentomatHmacSecret")):
        if os.environ.get(variable):
            values[parameter] = os.environ[variable]
    return values


def subscribe(aws: dict, bus: str, source: str) -> str:
    """What a company does to receive the events (see the README): a rule on the bus sending
    every event of `source` to an SQS queue. The queue's URL."""
    sqs = boto3.client("sqs", **aws)
    events = boto3.client("events", **aws)
    url = sqs.create_queue(QueueName=EVENTS_QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all-callback-events", EventBusName=bus,
                    EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule="all-callback-events", EventBusName=bus,
                       Targets=[{"Id": "queue", "Arn": arn}])
    return url


@functools.cache
def schemas() -> dict:
    """schemas/, read once: each event `detail` schema by its `detail-type` (the title)."""
    found = {}
    for path in (ROOT / "schemas").glob("*.json"):
        schema = json.loads(path.read_text())
        found[schema["title"]] = schema
    return found


def matches_schema(event: dict) -> bool:
    """Whether an event's `detail` is what schemas/ documents for its `detail-type`."""
    from jsonschema import Draft202012Validator

    schema = schemas().get(event["detail-type"])
    return schema is not None and Draft202012Validator(schema).is_valid(event["detail"])


def received_events(aws: dict, queue_url: str) -> list[dict]:
    """Every event in the queue so far (and the queue emptied), oldest first."""
    sqs = boto3.client("sqs", **aws)
    found = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def resolver(values: dict, secret_arn: str, identomat_arn: str = "") -> template.Resolver:
    """The template's intrinsics with the local names: each function is its binary's name
    (what cargo lambda's Invoke API knows it by), the table and secret the local ones."""
    tpl = template.load_tagged()
    refs = {**template.functions(tpl), "SessionsTable": TABLE, "CallbackKeySecret": secret_arn,
            "EventBus": EVENT_BUS, "IdentomatKeySecret": identomat_arn,
            "EmailConfigurationSet": CONFIGURATION_SET}
    attributes = {
        ("SessionsTable", "Arn"): f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}",
        ("DeadLetterQueue", "Arn"): f"arn:aws:sqs:{REGION}:{ACCOUNT}:{DEAD_LETTERS}",
        ("EventBus", "Arn"): f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{EVENT_BUS}",
    }
    pseudo = {"AWS::StackName": template.samconfig_stack_name(SAMCONFIG_ENV), "AWS::Region": REGION,
              "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
    return template.Resolver(tpl, values, refs, attributes, pseudo)


def merged_environment(resolve: template.Resolver) -> dict:
    """Every function's variables in one environment, refusing a variable two functions
    would read differently."""
    tpl = template.load_tagged()
    merged: dict = {}
    for function in template.functions(tpl, resolve):
        for name, value in template.environment(tpl, function, resolve).items():
            if merged.setdefault(name, value) != value:
                sys.exit(f"{name} differs between functions ({merged[name]!r}, {value!r}): "
                         "cargo lambda watch cannot give them different values")
    return merged


def say(message: str) -> None:
    show(f"==> {message}")


def show(text: str = "", file=None) -> None:
    """Prints, unless nobody reads any more: a stack whose caller went away still stops
    cleanly, so nothing on the way out may depend on being able to print."""
    file = file or sys.stdout
    try:
        print(text, file=file, flush=True)
    except (BrokenPipeError, ValueError):
        # Nobody reads: send the rest (and the interpreter's own last flush) nowhere.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), file.fileno())
        except (OSError, ValueError):
            pass


# What stops a stack: SIGINT, SIGTERM, SIGHUP (each raises KeyboardInterrupt in the main
# thread), its parent going away, or nobody left reading its output (the watch below).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def stop_on_signals() -> None:
    """Every stop signal ends the caller's main loop with KeyboardInterrupt, also when the
    stack was started with SIGINT ignored (a background job of a script)."""
    def on_signal(_signum, _frame):
        raise KeyboardInterrupt

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)


# The guard against the stack itself being killed outright (SIGKILL, a crash): a process of its
# own session, deaf to the stop signals, that reads the process groups the stack started from
# a pipe and kills them once the pipe closes, which happens however the stack ends; then runs
# the commands it was given ("run <json argv>": what removes the stack's containers). "-"
# means "all stopped already".
REAPER = """
import json, os, signal, subprocess, sys
for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(signum, signal.SIG_IGN)
groups, commands = set(), []
for line in sys.stdin:
    line = line.strip()
    if line == "-":
        groups.clear()
        commands.clear()
    elif line.startswith("run "):
        commands.append(json.loads(line[4:]))
    elif line:
        groups.add(int(line))
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
for command in commands:
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) != 0


class Stack:
    def __init__(self, moto_port: int, lambda_port: int, concurrency: int = 1,
                 moto_host: str = "127.0.0.1") -> None:
        self.parameters = parameters()
        self.key = self.parameters["CallbackApiKey"]
        self.concurrency = concurrency
        self.moto_port = moto_port
        self.lambda_port = lambda_port
        self.moto_host = moto_host
        self.moto_url = f"http://{moto_host}:{moto_port}"
        self.lambda_url = f"http://127.0.0.1:{lambda_port}"
        self.callback_url = f"{self.lambda_url}/lambda-url/ingress/callbacks"
        self.processes: list[subprocess.Popen] = []
        # What asks each process to stop, before SIGKILL 10 s later.
        self.stop_signal = signal.SIGTERM
        self.reaper: subprocess.Popen | None = None
        self.watching = threading.Event()
        self.mapping = None
        self.reconcile_mapping = None
        self.identomat_url = os.environ.get("IDENTOMAT_API_URL", "")
        self.events_queue_url = ""
        self.standin = receipts_standin.StandIn(ACCOUNT, REGION, CONFIGURATION_SET)
        self.receipts_lock = threading.Lock()
        self.logs = ROOT / "target" / "local-stack"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.aws = dict(
            endpoint_url=self.moto_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def guard(self, line: str) -> None:
        """Tells the reaper (started on first use) a process group to kill, or a command to run,
        should the stack end without stopping them."""
        if self.reaper is None:
            self.reaper = subprocess.Popen(
                [sys.executable, "-c", REAPER], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True, text=True)
            self.watch_caller()
        self.reaper.stdin.write(f"{line}\n")
        self.reaper.stdin.flush()

    def spawn(self, name: str, command: list[str], env: dict | None = None) -> None:
        log = open(self.logs / f"{name}.log", "w")
        # A process group of its own, so stopping it stops what it started (cargo run, ...).
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )
        self.processes.append(process)
        self.guard(str(process.pid))

    def watch_caller(self) -> None:
        """Stops the stack (SIGTERM to itself) once its parent is gone or its output is a pipe
        nobody reads: a caller that went away sends no signal."""
        parent = os.getppid()
        poller = select.poll()
        try:
            # POLLERR and POLLHUP are reported whatever the mask: a pipe without a reader.
            poller.register(sys.stdout.fileno(), 0)
        except (OSError, ValueError):
            poller = None

        def watch() -> None:
            while not self.watching.wait(1):
                unread = poller is not None and any(
                    events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
                if os.getppid() != parent or unread:
                    os.kill(os.getpid(), signal.SIGTERM)
                    return

        threading.Thread(target=watch, daemon=True).start()

    def stop(self) -> None:
        """Stops every process the stack started, and what they started. Prints nothing. A
        second stop signal (Ctrl-C pressed twice, a signal sent to the process and its parent)
        does not cut the stopping short."""
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                signal.signal(signum, signal.SIG_IGN)
        self.watching.set()
        for mapping in (self.mapping, self.reconcile_mapping):
            if mapping is not None:
                mapping.stop()
        for process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, self.stop_signal)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 10
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
        # A group outlives its leader while any member lives (a function cargo lambda started).
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        self.processes.clear()
        if self.reaper is not None:
            try:
                self.reaper.stdin.write("-\n")
                self.reaper.stdin.close()
            except OSError:
                pass
            self.reaper.wait()
            self.reaper = None

    def start(self) -> None:
        for port in (self.moto_port, self.lambda_port):
            if not port_free(port):
                sys.exit(f"port {port} is in use: set MOTO_PORT / LAMBDA_PORT to free ones")
        self.start_aws()
        self.start_functions()

    def start_aws(self) -> None:
        """moto, and in it what the stack would create: the table, a verified sender, the key
        secret as the template writes it, the bus with a subscriber's queue, the dead-letter
        queue. Leaves `self.resolve`, the template's intrinsics with these names."""
        self.start_moto()
        self.start_identomat()
        self.create_resources()

    def start_moto(self) -> None:
        say(f"starting moto server on {self.moto_url}")
        # One request at a time, as in the tests (see moto_server.py).
        self.spawn("moto", [str(VENV_BIN / "python"), str(ROOT / "scripts" / "local" / "moto_server.py"),
                            str(self.moto_port), "--host", self.moto_host])
        wait_for(lambda: http_status("GET", f"{self.moto_url}/moto-api/") == 200, 30, "moto server",
                 self.processes)

    @property
    def reconciles(self) -> bool:
        return bool(self.parameters.get("IdentomatCompanyKey"))

    def start_identomat(self) -> None:
        """The local Identomat the reconcile function asks, unless IDENTOMAT_API_URL names one."""
        if not self.reconciles or self.identomat_url:
            return
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        say(f"starting a local Identomat (result/, delete/) on 127.0.0.1:{port}")
        command = [str(VENV_BIN / "python"), str(ROOT / "scripts" / "local" / "identomat_api.py"),
                   str(port), "--company-key", self.parameters["IdentomatCompanyKey"],
                   "--fixture", str(IDENTOMAT_SESSIONS)]
        if self.parameters.get("IdentomatHmacSecret"):
            command += ["--hmac-secret", self.parameters["IdentomatHmacSecret"]]
        self.spawn("identomat", command)
        self.identomat_url = f"http://127.0.0.1:{port}/external-api/"
        wait_for(lambda: http_status("GET", f"http://127.0.0.1:{port}/_control/requests") == 200, 30,
                 "the local Identomat", self.processes)

    def create_resources(self) -> None:
        """What the stack would create, in a running moto."""
        say(f"creating the sessions table, a verified SES sender and the callback-key secret")
        template.create_sessions_table(boto3.client("dynamodb", **self.aws), TABLE)
        # An operator's step before the first deployment: SES sends only from a verified identity.
        sender = self.parameters["EmailFromAddress"]
        boto3.client("ses", **self.aws).verify_email_identity(EmailAddress=sender)
        # The stack's configuration set; its receipts come from receipts_standin.py.
        boto3.client("ses", **self.aws).create_configuration_set(
            ConfigurationSet={"Name": CONFIGURATION_SET})
        secrets = boto3.client("secretsmanager", **self.aws)
        arn = secrets.create_secret(Name=SECRET, SecretString="pending")["ARN"]
        identomat_arn = ""
        if self.reconciles:
            identomat_arn = secrets.create_secret(Name=IDENTOMAT_SECRET, SecretString="pending")["ARN"]
        resolve = resolver(self.parameters, arn, identomat_arn)
        # The secrets as the template writes them, from the same parameters.
        resources = template.load_tagged()["Resources"]
        secret = resources["CallbackKeySecret"]["Properties"]
        secrets.put_secret_value(SecretId=arn, SecretString=resolve.resolve(secret["SecretString"]))
        if identomat_arn:
            secret = resources["IdentomatKeySecret"]["Properties"]
            secrets.put_secret_value(SecretId=identomat_arn,
                                     SecretString=resolve.resolve(secret["SecretString"]))

        # The events' way out: the bus (the stack's own), a subscriber's queue, and the
        # dead-letter queue the stream's failed batches go to.
        boto3.client("events", **self.aws).create_event_bus(Name=EVENT_BUS)
        self.events_queue_url = subscribe(self.aws, EVENT_BUS, "identomat.callbacks")
        boto3.client("sqs", **self.aws).create_queue(QueueName=DEAD_LETTERS)
        self.resolve = resolve
        described = boto3.client("dynamodb", **self.aws).describe_table(TableName=TABLE)["Table"]
        resolve.attributes[("SessionsTable", "StreamArn")] = described["LatestStreamArn"]

    def start_functions(self) -> None:
        """Every function under cargo lambda watch, and the stream's mapping to notify."""
        env = merged_environment(self.resolve)
        env.update({
            "AWS_ENDPOINT_URL": self.moto_url,
            # The ingress's hand-off goes to the emulator's Invoke API, as in AWS.
            "AWS_ENDPOINT_URL_LAMBDA": self.lambda_url,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        })
        if self.reconciles:
            env["IDENTOMAT_API_URL"] = self.identomat_url
            if os.environ.get("RECONCILE_AFTER_SECONDS"):
                env["RECONCILE_AFTER_SECONDS"] = os.environ["RECONCILE_AFTER_SECONDS"]
        env_file = self.logs / "functions.env"
        env_file.write_text("".join(f"{k}={json.dumps(v)}\n" for k, v in env.items()))

        say("compiling the functions (the first time takes a few minutes on 2 cores)")
        build = subprocess.run(["cargo", "build", "--workspace", "--bins"], cwd=ROOT)
        if build.returncode != 0:
            sys.exit("the functions did not compile")

        say(f"starting cargo lambda watch on {self.lambda_url}")
        env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
        self.spawn(
            "cargo-lambda",
            [str(VENV_BIN / "cargo-lambda"), "lambda", "watch", "--ignore-changes",
             "-A", "127.0.0.1", "-P", str(self.lambda_port), "--env-file", str(env_file),
             "--concurrency", str(self.concurrency)],
            env=env,
        )
        say("waiting until the ingress answers (it starts on its first request)")
        wait_for(lambda: http_status("POST", self.callback_url, b"{}") == 401, 300, "the ingress",
                 self.processes)

        say("polling the table's stream for notify, as the template's event source mapping does")
        tpl = template.load_tagged()
        config = self.resolve.resolve(
            tpl["Resources"]["NotifyFunction"]["Properties"]["Events"]["TableChanges"]["Properties"])
        self.mapping = stream_mapping.StreamMapping(
            boto3.client("dynamodbstreams", **self.aws), boto3.client("sqs", **self.aws),
            config["Stream"], f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:notify",
            self.invoke_notify, config)
        self.mapping.start()
        if self.reconciles:
            say("polling the stream for reconcile too, and running its schedule")
            config = self.resolve.resolve(
                tpl["Resources"]["ReconcileFunction"]["Properties"]["Events"]["TableChanges"]["Properties"])
            self.reconcile_mapping = stream_mapping.StreamMapping(
                boto3.client("dynamodbstreams", **self.aws), boto3.client("sqs", **self.aws),
                config["Stream"], f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:reconcile",
                lambda payload: self.invoke("reconcile", payload), config)
            self.reconcile_mapping.start()
            every = float(os.environ.get("RECONCILE_EVERY_SECONDS") or 60)
            threading.Thread(target=self.schedule, args=(every,), daemon=True).start()


    def deliver_receipts(self) -> int:
        """The receipts AWS would send for every message moto recorded since the last call,
        through the receipts function; how many invocations that took."""
        def invoke(payload: bytes) -> str | None:
            failed, answer = self.invoke("receipts", payload)
            return answer.decode(errors="replace") if failed else None

        with self.receipts_lock:
            delivered, errors = self.standin.deliver(self.moto_url, invoke)
        for error in errors:
            say(f"the receipts function failed: {error[:300]!r}")
        return delivered

    def receipts_every(self, every: float) -> None:
        """`make local`: receipts arrive a moment after each send, as from AWS."""
        while not self.watching.wait(every):
            try:
                self.deliver_receipts()
            except OSError:
                pass

    def schedule(self, every: float) -> None:
        """The template's schedule: `{"action": "due"}` every `every` seconds."""
        while not self.watching.wait(every):
            self.invoke("reconcile", json.dumps({"action": "due"}).encode())

    def invoke_notify(self, payload: bytes) -> tuple[bool, bytes]:
        return self.invoke("notify", payload)

    def invoke(self, function: str, payload: bytes) -> tuple[bool, bytes]:
        """A synchronous invoke through cargo lambda's Invoke API."""
        request = urllib.request.Request(
            f"{self.lambda_url}/2015-03-31/functions/{function}/invocations", data=payload,
            method="POST", headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=900) as response:
                return bool(response.headers.get("X-Amz-Function-Error")), response.read()
        except urllib.error.HTTPError as e:
            return True, e.read()
        except OSError as e:
            return True, str(e).encode()

    def reconcile_open(self) -> dict:
        """What `scripts/tools/reconcile.py --open` does: every open session asked now."""
        self.reconcile_mapping.settle()
        failed, answer = self.invoke("reconcile", json.dumps({"action": "open"}).encode())
        if failed:
            raise SystemExit(f"the reconcile function failed: {answer[:500]!r}")
        return json.loads(answer)

    def post(self, body: bytes) -> tuple[int, str]:
        return post_json(self.callback_url, body)


def post_json(url: str, body: bytes) -> tuple[int, str]:
    """POSTs a callback's body; the status and the answer, whatever the status."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def http_status(method: str, url: str, body: bytes | None = None) -> int | None:
    try:
        request = urllib.request.Request(url, data=body, method=method)
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def wait_for(ready, seconds: float, what: str, processes=()) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if ready():
            return
        if any(p.poll() is not None for p in processes):
            raise SystemExit(f"{what} stopped while starting (logs in target/local-stack/)")
        time.sleep(0.5)
    raise SystemExit(f"{what} did not come up within {seconds:.0f} s (logs in target/local-stack/)")


def samples() -> list[str]:
    """The reference samples' names: every file of events/callbacks/."""
    return sorted(path.stem for path in SAMPLES.glob("*.json"))


def short(session_id: str) -> str:
    return session_id[:8] + "..." if len(session_id) > 11 else session_id


def plain(value: dict):
    """A DynamoDB attribute value as plain JSON."""
    (kind, inner), = value.items()
    if kind == "M":
        return {k: plain(v) for k, v in inner.items()}
    if kind == "L":
        return [plain(v) for v in inner]
    if kind == "NULL":
        return "null"
    return inner


def demo(stack, table: str = TABLE) -> int:
    """Replays the reference samples through `stack` (anything with `key`, `post`, `moto_url`
    and `aws`), prints what was sent and stored, and checks the expected outcomes."""
    requests = []
    for name in samples():
        body = json.loads((SAMPLES / f"{name}.json").read_text())
        requests.append((name, body, 202))
    wrong = json.loads((SAMPLES / "session-change.json").read_text())
    wrong["callbackApiKey"] = "not-the-key"
    requests.append(("wrong key", wrong, 401))
    invalid = json.loads((SAMPLES / "one-time-password-request.json").read_text())
    invalid["phoneNumber"] = "995 512 345 678"
    requests.append(("invalid phone number", invalid, 422))
    unknown = {"callbackApiKey": stack.key, "type": "document-expired",
               "sessionId": "wwb83rh1se22wd81z0tx8bqlerljq5kgf6rxem1q"}
    requests.append(("unknown type", unknown, 202))
    # Two messages whose receipts are not good news (receipts_standin.py): an address at
    # bounce.example, a number of the range the carrier fails.
    bouncing = json.loads((SAMPLES / "email-one-time-password-request.json").read_text())
    bouncing.update(address="nobody@" + receipts_standin.BOUNCE_DOMAIN,
                    sessionId="receiptdemo0bounce00000000000000000000000")
    requests.append(("e-mail OTP to bounce.example", bouncing, 202))
    failing = json.loads((SAMPLES / "one-time-password-request.json").read_text())
    failing.update(phoneNumber=receipts_standin.FAILING_PREFIX + "01",
                   sessionId="receiptdemo0carrier0fails0000000000000000")
    requests.append(("SMS OTP to a failing number", failing, 202))

    failures = []
    print("\nRequests posted to the Callback URL")
    for name, body, expected in requests:
        # The samples carry the reference's key; a custom CALLBACK_API_KEY replaces it.
        if body.get("callbackApiKey") == "apikey123":
            body["callbackApiKey"] = stack.key
        status, answer = stack.post(json.dumps(body).encode())
        mark = "ok " if status == expected else "NO "
        print(f"  {mark} {status}  {name:38} {answer}")
        if status != expected:
            failures.append(f"{name}: {status}, expected {expected}")

    # A stack that runs asynchronous invocations in the background finishes them first.
    getattr(stack, "settle", lambda: None)()
    reconciled = None
    if getattr(stack, "reconcile_mapping", None) is not None:
        # The sample whose session-change is never posted: the e-mail OTP's and link's session.
        reconciled = stack.reconcile_open()
        print("\nReconcile with the local Identomat (result/), as reconcile.py --open does")
        for report in reconciled.get("sessions", []):
            what = report["outcome"]
            if report.get("result"):
                what += f": {report.get('previousResult') or '(no status)'} -> {report['result']}"
            if report.get("observed"):
                what += f": {report['observed']} (kept, not mapped)"
            print(f"  {short(report['sessionId']):12} {what}  [{report['state']}]")
    receipts = getattr(stack, "deliver_receipts", None)
    if receipts is not None:
        # What AWS reports after the sends, as the stand-in makes it: through the receipts
        # function, and from the table's stream to notify.
        invocations = receipts()
        print(f"\nDelivery receipts (receipts_standin.py): {invocations} invocation(s) of the receipts function")
    data = json.loads(urllib.request.urlopen(f"{stack.moto_url}/moto-api/data.json").read())
    sms = data.get("sns", {}).get("SMS", [])
    emails = data.get("ses", {}).get("Message", [])
    dynamodb = boto3.client("dynamodb", **stack.aws)
    items = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    records = [{k: plain(v) for k, v in item.items()} for item in items]
    # Recipients as the functions masked them in their delivery records, found by the
    # provider's message id: the printout never masks (or unmasks) anything itself.
    masked = {r["providerMessageId"]: r["recipient"] for r in records if "providerMessageId" in r}
    states = {r["providerMessageId"]: r["state"] for r in records if "providerMessageId" in r}

    print("\nSMS sent through SNS (as moto recorded them), [their final state]")
    for m in sms:
        text = m["message"].replace("\n", " | ")
        print(f"  to {masked.get(m['message_id'], '?')}: {text}  [{states.get(m['message_id'], '?')}]")
    print("\nE-mails sent through SES (as moto recorded them), [their final state]")
    for m in emails:
        cc = len(m["destinations"].get("CcAddresses", []))
        print(f"  from {m['source']} to {masked.get(m['id'], '?')}" + (f" cc {cc} more" if cc else "")
              + f": {m['subject']!r}  [{states.get(m['id'], '?')}]")
    mapping = getattr(stack, "mapping", None)
    events = []
    if mapping is not None:
        mapping.settle()
        events = received_events(stack.aws, stack.events_queue_url)
        print("\nEvents on the bus (EventBridge, read from the subscriber's SQS queue)")
        for event in events:
            detail = event["detail"]
            what = " ".join(f"{k}={json.dumps(detail[k]).strip(chr(34))}" for k in
                            ("result", "previousResult", "roomStatus", "videoFileStatus",
                             "videoFileId", "channel", "kind", "recipient", "reason", "bounceType",
                             "priceUsd", "type",
                             "field", "rule")
                            if k in detail)
            session = short(detail.get("sessionId", "-"))
            print(f"  {event['detail-type']:27} {session:12} {what}")

    print(f"\nRecords in the sessions table ({table})")
    for r in sorted(records, key=lambda r: (r["sessionId"], r["record"])):
        if r["sessionId"].startswith("ratelimit#"):
            continue
        record = r["record"]
        if record == "status":
            what = f"result={r['result']} sessionType={r['sessionType']} history={len(r['history'])}"
        elif record.startswith("video#"):
            what = (f"roomStatus={r['roomStatus']} videoFileStatus={r['videoFileStatus']} "
                    f"videoFileId={r['videoFileId']}")
        elif record.startswith("delivery#"):
            what = f"{r['channel']} {r['kind']} to {r['recipient']}: {r['state']}"
            extra = [f"{k}={r[k]}" for k in ("bounceType", "bounceSubType", "providerReason", "priceUsd")
                     if k in r]
            what += f" ({', '.join(extra)})" if extra else ""
            record = "delivery#" + record.split("#", 1)[1][:8] + "..."
        elif record == "reconcile":
            what = (f"{r['state']} outcome={r.get('outcome')}"
                    + (f" observed={r['observed']}" if r.get("observed") else ""))
        elif record.startswith("rejected#"):
            shown = r.get("fields", {}).get(r["field"], "")
            what = f"type={r.get('type')} field={r['field']} ({shown}): {r['rule']}"
            record = "rejected#..."
        else:
            what = f"type={r.get('type')}"
            record = record.split("#")[0] + "#..."
        print(f"  {short(r['sessionId']):12} {record:20} {what}")

    def count(predicate) -> int:
        return sum(1 for r in records if predicate(r))

    # The two session-change samples, and with reconcile the session whose one was never sent.
    statuses = 2 if reconciled is None else 3
    def deliveries(state: str) -> int:
        return count(lambda r: r["record"].startswith("delivery#") and r["state"] == state)

    expectations = [
        ("3 SMS sent", len(sms) == 3),
        ("3 e-mails sent", len(emails) == 3),
        (f"{statuses} status records, APPROVED",
         count(lambda r: r["record"] == "status" and r["result"] == "APPROVED") == statuses),
        ("1 KYB session", count(lambda r: r["record"] == "status" and r["sessionType"] == "kyb") == 1),
        ("2 video rooms", count(lambda r: r["record"].startswith("video#")) == 2),
        *([("6 deliveries sent", deliveries("sent") == 6)] if receipts is None else [
            ("4 messages delivered, by their receipts", deliveries("delivered") == 4),
            ("the e-mail to bounce.example bounced (Permanent, General)",
             count(lambda r: r["record"].startswith("delivery#") and r["state"] == "bounced"
                   and r.get("bounceType") == "Permanent" and r.get("bounceSubType") == "General") == 1),
            ("the SMS to the failing number failed at the carrier, its price kept",
             count(lambda r: r["record"].startswith("delivery#") and r["state"] == "failed"
                   and r.get("reason") == "carrier-failure" and r.get("priceUsd") is not None) == 1),
            ("no receipt's address or number stored",
             receipts_standin.FAILING_PREFIX not in json.dumps(records)
             and "nobody@" not in json.dumps(records)),
        ]),
        ("1 unhandled callback stored", count(lambda r: r["record"].startswith("unhandled#")) == 1),
        ("the refused callback stored with its field and rule, the number masked",
         count(lambda r: r["record"].startswith("rejected#") and r["field"] == "phoneNumber"
               and "512 345" not in json.dumps(r)) == 1),
    ]
    if reconciled is not None:
        missed = "5alhw0070l2gy82q0mqlfniv7gwgbqqs0rtctolg"
        expectations.append(("the missed session-change recovered: APPROVED from result/, source reconcile",
                             count(lambda r: r["sessionId"] == missed and r["record"] == "status"
                                   and r["result"] == "APPROVED" and r.get("source") == "reconcile") == 1))
        expectations.append(("an undocumented result kept as observed, not mapped (in_progress)",
                             count(lambda r: r["record"] == "reconcile" and r.get("observed") == "in_progress"
                                   and r["state"] == "open") == 1))
        expectations.append(("nothing of result/'s person stored",
                             "Kapanadze" not in json.dumps(records) and "01024056789" not in json.dumps(records)))
    if mapping is not None:
        kinds = sorted(e["detail-type"] for e in events)
        expectations.append(("every event's detail matches its schema (schemas/)",
                             bool(events) and all(matches_schema(e) for e in events)))
        expected = ["Callback Not Handled", "Callback Rejected",
                    "Session Status Changed", "Session Status Changed",
                    "Video Call Status Changed", "Video Call Status Changed",
                    "Video File Available"]
        what = "7 events: 2 status, 2 video, 1 file available, 1 not handled, 1 rejected"
        if reconciled is not None:
            expected = sorted(expected + ["Session Status Changed", "Session Status Reconciled"])
            what = "9 events: 3 status (1 reconciled, and its Session Status Reconciled), 2 video, " \
                   "1 file available, 1 not handled, 1 rejected"
        if receipts is not None:
            expected = sorted(expected + ["Message Delivered"] * 4
                              + ["Message Bounced", "Message Delivery Failed"])
            what = f"{len(expected)} events: " + what.split(": ", 1)[1] + \
                ", 4 delivered, 1 bounced, 1 delivery failed"
        expectations.append((what, kinds == expected))
    print("\nExpected outcomes")
    for name, ok in expectations:
        print(f"  {'ok ' if ok else 'NO '} {name}")
        if not ok:
            failures.append(name)
    print()
    if failures:
        print(f"{len(failures)} expected outcome(s) not seen: {'; '.join(failures)}")
        print("logs: target/local-stack/")
        return 1
    print(f"{len(requests)} requests, {len(expectations)} outcomes: all as expected")
    return 0


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in ("demo", "local"):
        print(__doc__)
        return 2
    stack = Stack(
        moto_port=int(os.environ.get("MOTO_PORT") or 5055),
        lambda_port=int(os.environ.get("LAMBDA_PORT") or 9055),
    )
    stop_on_signals()
    try:
        stack.start()
        if sys.argv[1] == "demo":
            return demo(stack)
        show(f"Callback URL: {stack.callback_url}")
        show(f"AWS endpoint: {stack.moto_url}")
        show(f"Sessions table: {TABLE}")
        show(f"Events (EventBridge bus {EVENT_BUS} -> SQS): {stack.events_queue_url}")
        show(f"Callback API key: {stack.key}")
        if stack.reconciles:
            show(f"Identomat company API (reconcile): {stack.identomat_url}")
        show("Delivery receipts: every 2 s, for each SMS and e-mail sent (docs/local-development.md)")
        threading.Thread(target=stack.receipts_every, args=(2.0,), daemon=True).start()
        while all(p.poll() is None for p in stack.processes):
            time.sleep(1)
        show("a process of the stack stopped: see target/local-stack/", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # Stop first: what follows may fail to print.
        stack.stop()
        say("stopped moto, cargo lambda and the local Identomat")


if __name__ == "__main__":
    sys.exit(main())
