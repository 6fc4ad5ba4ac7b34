#!/usr/bin/env python3
"""`sam local invoke`, `start-lambda` and `start-api` as a SAM user runs them, against moto.

  sam_local.py check   make sam-local: every file of events/ through `sam local invoke`, then
                       the reference callbacks through `start-api` and `start-lambda`, each
                       answer and what moto recorded checked; stops what it started; exit 0
                       only when every check passed
  sam_local.py stack   moto with the stack's resources and the two files below, kept running
                       until Ctrl-C, for the commands of docs/local-development.md
  sam_local.py clean   remove the containers SAM left (what the reaper runs if `check` was
                       killed outright)

SAM runs each function in a container of `public.ecr.aws/lambda/provided:al2023-<arch>`
(lambda_base_image.py builds a stand-in from Debian's packages where no registry is reachable)
from the `sam build` output. Two files make it run as the stack would, against moto:

- target/sam-local/env.json (`--env-vars`): every function's variables as template.yaml gives
  them (template.py's resolver, samconfig.toml's `local` parameters), the references resolved
  to the moto resources (the table, the secret, the bus; the families' names are their logical
  ids, which is what start-lambda answers to), plus moto's endpoint. The credentials SAM hands
  the containers are its own process's: this script runs SAM with test credentials, never the
  user's profile.
- target/sam-local/template.yaml: the built template, with AWS_ENDPOINT_URL and
  AWS_ENDPOINT_URL_LAMBDA declared for every function. SAM sets only the variables a template
  declares: `--env-vars` values for any other name are dropped without a word, so without this
  the functions would call the real AWS endpoints.

Where SAM differs from its reference (docs/local-development.md): `--docker-network host` does
not put the containers on the host's network (SAM connects a container to a named network after
creating it, and skips `host`), so they stay on Docker's bridge, and moto and start-lambda listen
on the bridge's gateway, where the containers reach the host.

The commands of docs/local-development.md's section *Try a function locally with sam* are read
from the page and run as written (the architecture and the gateway address replaced by this
machine's), so the page cannot drift from what works. Environment: ARCH (the machine's), SKIP_BUILD=1 to use the last
`sam build`, MOTO_PORT (5055), START_LAMBDA_PORT (3001), START_API_PORT (3000).
"""
import concurrent.futures
import ipaddress
import json
import os
import pathlib
import platform
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request

import boto3
import yaml

import lambda_base_image
import local_stack
import template

ROOT = local_stack.ROOT
OUT = ROOT / "target" / "sam-local"
DOC = ROOT / "docs" / "local-development.md"
SECTION = "## Try a function locally with sam"
BUILT = ROOT / ".aws-sam" / "build" / "template.yaml"
ENV_FILE = OUT / "env.json"
BEFORE = OUT / "containers-before.txt"
LOCAL_TEMPLATE = OUT / "template.yaml"
# What the reference callbacks leave, once each.
EXPECTED = {"sms": 2, "emails": 2, "statuses": 2, "video rooms": 2, "deliveries sent": 4}
# What local_stack.demo's requests leave: the reference callbacks, and an e-mail OTP to
# bounce.example and an SMS OTP to a failing number besides (no receipts under sam local).
DEMO_EXPECTED = {**EXPECTED, "sms": 3, "emails": 3, "deliveries sent": 6}
# The keys the reference samples carry (events/callbacks/): current and previous.
SAMPLE_KEYS = ("apikey123", "callback-api-key-123")
# What the containers see besides the template's variables: the endpoints, set in env.json.
DECLARED = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA")
# Each event folder's function.
FOLDERS = {"ingress": "IngressFunction", "sms": "SmsFunction", "email": "EmailFunction",
           "session-status": "SessionStatusFunction", "video-call": "VideoCallFunction",
           "notify": "NotifyFunction", "receipts": "ReceiptsFunction"}


def machine_arch() -> str:
    return os.environ.get("ARCH") or {"aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine(), "x86_64")


def bridge_gateway() -> str:
    """Where a container on Docker's default bridge reaches the host: the bridge's gateway, as
    the network says it, or else as the host's bridge interface holds it, or else the first
    address of its subnet (Docker's own choice)."""
    found = subprocess.run(
        ["docker", "network", "inspect", "bridge", "--format", "{{json .}}"],
        capture_output=True, text=True)
    if found.returncode != 0:
        sys.exit(f"no Docker bridge network: {found.stderr.strip() or 'is the engine running?'}")
    network = json.loads(found.stdout)
    config = (network.get("IPAM", {}).get("Config") or [{}])[0]
    if config.get("Gateway"):
        return config["Gateway"]
    interface = network.get("Options", {}).get("com.docker.network.bridge.name", "docker0")
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", interface],
                           capture_output=True, text=True)
    address = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", shown.stdout)
    if address:
        return address.group(1)
    return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


# The gateway address the docs write; the script puts this machine's in its place.
DOC_GATEWAY = "172.17.0.1"


def documented_commands(arch: str, gateway: str) -> list[str]:
    """The commands of the docs' section that this script runs as written: `sam ...` and the
    `curl` pipelines, continuation lines joined, in order."""
    text = DOC.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end != -1 else len(text)]
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", section, flags=re.M | re.S):
        joined = re.sub(r"\|\s*\n\s*", "| ", re.sub(r"\\\n\s*", " ", block))
        for line in joined.splitlines():
            line = line.split("  # ")[0].strip()
            if line.startswith(("sam ", "curl ")):
                commands.append(line.replace("x86_64", arch).replace(DOC_GATEWAY, gateway))
    return commands


def sam_env() -> dict:
    """SAM's own environment: test credentials, never the user's (SAM passes its credentials
    into every container)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") or k == "AWS_CA_BUNDLE"}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": local_stack.REGION, "AWS_DEFAULT_REGION": local_stack.REGION,
                "SAM_CLI_TELEMETRY": "0",
                "PATH": f"{local_stack.VENV_BIN}:{os.environ.get('PATH', '')}"})
    return env


def local_template(built: pathlib.Path = BUILT, out: pathlib.Path = LOCAL_TEMPLATE) -> None:
    """The built template with the endpoints declared, its code paths made absolute."""
    tpl = template.parse_tagged(built.read_text())
    variables = (tpl.setdefault("Globals", {}).setdefault("Function", {})
                 .setdefault("Environment", {}).setdefault("Variables", {}))
    for name in DECLARED:
        variables[name] = ""
    for resource in tpl["Resources"].values():
        code = resource.get("Properties", {}).get("CodeUri")
        if resource["Type"] == "AWS::Serverless::Function" and isinstance(code, str):
            resource["Properties"]["CodeUri"] = str((built.parent / code).resolve())
    out.write_text(yaml.safe_dump(tpl, sort_keys=False))


class SamStack(local_stack.Stack):
    """moto and the stack's resources, as `make local` creates them, reachable from SAM's
    containers; the env-vars file; and the SAM processes, stopped with their containers. The
    key secret holds the reference samples' own two keys, so every file of events/ is
    accepted as it is."""

    def __init__(self, host: str) -> None:
        super().__init__(moto_port=int(os.environ.get("MOTO_PORT") or 5055),
                         lambda_port=int(os.environ.get("START_LAMBDA_PORT") or 3001),
                         moto_host=host)
        # The template as `sam local` reads it, with its defaults: no company key, no reconcile.
        self.parameters.update(CallbackApiKey=SAMPLE_KEYS[0], CallbackApiKeyPrevious=SAMPLE_KEYS[1],
                               IdentomatCompanyKey="")
        self.key = SAMPLE_KEYS[0]
        self.host = host
        self.api_port = int(os.environ.get("START_API_PORT") or 3000)
        self.callback_url = f"http://127.0.0.1:{self.api_port}/callbacks"
        self.logs = OUT
        self.logs.mkdir(parents=True, exist_ok=True)
        self.stop_signal = signal.SIGINT
        # Set by remember_containers: the containers this run did not start.
        self.containers_before: set[str] | None = None

    def write_env_file(self) -> None:
        tpl = template.load_tagged()
        # start-lambda knows the families by their logical ids.
        self.resolve.refs.update({name: name for name in template.functions(tpl)})
        functions = {}
        for function in template.functions(tpl, self.resolve):
            variables = template.environment(tpl, function, self.resolve)
            variables["AWS_ENDPOINT_URL"] = self.moto_url
            variables["AWS_ENDPOINT_URL_LAMBDA"] = f"http://{self.host}:{self.lambda_port}"
            functions[function] = variables
        ENV_FILE.write_text(json.dumps(functions, indent=2) + "\n")

    def containers(self) -> set[str]:
        return containers()

    def remember_containers(self) -> None:
        """The containers that were there before: whatever else is SAM's and this run's. The
        reaper removes those too should this script be killed outright."""
        self.containers_before = self.containers()
        BEFORE.write_text("\n".join(sorted(self.containers_before)))
        self.guard("run " + json.dumps([sys.executable, str(pathlib.Path(__file__).resolve()),
                                        "clean"]))

    def start_sam(self, name: str, command: str) -> None:
        """A long-running `sam local start-*`, in the background."""
        self.spawn(name, shlex.split(command), env=sam_env())

    def stop(self) -> None:
        """Stops as local_stack does, but with an interrupt first (on which SAM removes its
        containers), then removes whatever container is left from this run."""
        super().stop()
        if self.containers_before is not None:
            remove_containers(self.containers_before)

    def outcome(self) -> dict:
        """What the reference callbacks leave once every hand-off has run: SMS and e-mails in
        moto, and statuses, video rooms and sent deliveries in the table."""
        data = json.loads(urllib.request.urlopen(f"{self.moto_url}/moto-api/data.json").read())
        items = boto3.client("dynamodb", **self.aws).scan(TableName=local_stack.TABLE)["Items"]
        records = [i["record"]["S"] for i in items]
        return {
            "sms": len(data.get("sns", {}).get("SMS", [])),
            "emails": len(data.get("ses", {}).get("Message", [])),
            "statuses": records.count("status"),
            "video rooms": sum(r.startswith("video#") for r in records),
            "deliveries sent": sum(r.startswith("delivery#") and i.get("state", {}).get("S") == "sent"
                                   for r, i in zip(records, items)),
        }

    def settle(self, expected: dict = EXPECTED) -> dict:
        """Waits, at most two minutes, until start-lambda has run every hand-off: the outcome
        is `expected` (what the reference callbacks leave), or stopped changing for 10 s.
        (Its log cannot tell: with warm containers SAM loses a line now and then.)"""
        deadline, last, since = time.time() + 120, None, time.time()
        while time.time() < deadline:
            now = self.outcome()
            if now == expected:
                return now
            if now != last:
                last, since = now, time.time()
            elif time.time() - since > 10:
                return now
            time.sleep(0.5)
        return self.outcome()


def containers() -> set[str]:
    listed = subprocess.run(["docker", "ps", "-aq", "--no-trunc"], capture_output=True, text=True)
    return set(listed.stdout.split())


def remove_containers(before: set[str]) -> None:
    """Every container but those of `before`, if SAM's: made from a Lambda image."""
    left = containers() - before
    if not left:
        return
    shown = subprocess.run(["docker", "inspect", "--format", "{{.Id}} {{.Config.Image}}", *left],
                           capture_output=True, text=True)
    sams = [line.split()[0] for line in shown.stdout.splitlines()
            if line.split()[1].startswith((lambda_base_image.REPOSITORY, "samcli/"))]
    if sams:
        subprocess.run(["docker", "rm", "-f", *sams], capture_output=True)


def invoke(stack: SamStack, command: list[str]) -> tuple[int, dict | None, str]:
    """One `sam local invoke`: its exit code, the function's answer (the last JSON line of its
    output) and the whole output. A process group of its own, known to the reaper."""
    process = subprocess.Popen(command, cwd=ROOT, env=sam_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    stack.guard(str(process.pid))
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    answer = None
    for line in reversed(done.stdout.splitlines()):
        try:
            answer = json.loads(line)
            break
        except json.JSONDecodeError:
            continue
    return done.returncode, answer, done.stdout + done.stderr


def expected_answer(folder: str, name: str, after_hand_offs: bool) -> dict:
    """What a function answers to an event of events/: the ingress its status code; notify no
    failed record; a family its outcome. An OTP envelope of events/ was received days ago:
    `expired`, never sent. After the ingress's hand-offs ran the same callbacks, a family
    finds each message sent, its own stale OTP too, and counts the repeat (`deduplicated`),
    and each change recorded under the same request id (`duplicate`)."""
    if folder == "ingress":
        return {"statusCode": {"wrong-key": 401, "invalid": 422}.get(name, 202)}
    if folder == "notify":
        return {"batchItemFailures": []}
    if folder == "receipts":
        # AWS's documented receipts, for messages this table never sent.
        return {"moved": 0, "unknown": 1}
    if "one-time-password" in name and not after_hand_offs:
        return {"outcome": "expired"}
    if not after_hand_offs:
        return {"outcome": "sent" if folder in ("sms", "email") else "updated"}
    return {"outcome": {"sms": "deduplicated", "email": "deduplicated",
                        "session-status": "duplicate", "video-call": "duplicate"}[folder]}


def check(arch: str) -> int:
    started = time.time()
    failures: list[str] = []
    gateway = bridge_gateway()
    commands = documented_commands(arch, gateway)
    kinds = {c.split()[2] if c.startswith("sam local") else c.split()[0] for c in commands}
    if not {"start-lambda", "start-api", "invoke", "curl"} <= kinds or not commands[0].startswith("sam build"):
        sys.exit(f"{DOC.relative_to(ROOT)}: the section '{SECTION[3:]}' must show sam build, "
                 "start-lambda, a sam local invoke, start-api and a curl to it")
    start_lambda = next(c for c in commands if c.startswith("sam local start-lambda"))

    local_stack.say(f"the Lambda base image for {arch}")
    image = subprocess.run([sys.executable, str(ROOT / "scripts/local/lambda_base_image.py"),
                            "--arch", arch], capture_output=True, text=True)
    if image.returncode != 0:
        sys.exit(image.stderr)
    if os.environ.get("SKIP_BUILD") != "1" or not BUILT.exists():
        local_stack.say(f"{commands[0]} (release builds: minutes the first time)")
        with open(OUT / "sam-build.log", "w") as log:
            if subprocess.run(shlex.split(commands[0]), cwd=ROOT, env=sam_env(), stdout=log,
                              stderr=subprocess.STDOUT).returncode != 0:
                sys.exit(f"sam build failed: {OUT / 'sam-build.log'}")
    local_template()

    stack = SamStack(gateway)
    stack.remember_containers()
    local_stack.stop_on_signals()
    try:
        stack.start_aws()
        stack.write_env_file()
        # 1. The section's commands in order; each sam local invoke, then every file of
        # events/ through the same command.
        for command in commands[1:]:
            if command.startswith("sam local start-lambda"):
                local_stack.say(f"sam local start-lambda on {gateway}:{stack.lambda_port}")
                stack.start_sam("start-lambda", command)
                local_stack.wait_for(lambda: not local_stack.port_free(stack.lambda_port, gateway),
                                     120, "sam local start-lambda", stack.processes)
            elif command.startswith("sam local invoke"):
                phase = time.time()
                failures += invoke_everything(stack, command)
                print(f"  ({time.time() - phase:.0f} s)")
            elif command.startswith("sam local start-api"):
                # 2. On a fresh moto, the Callback URL: start-api and start-lambda.
                phase = time.time()
                failures += through_the_api(stack, command, start_lambda,
                                            [c for c in commands if c.startswith("curl ")])
                print(f"  ({time.time() - phase:.0f} s)")
                break
    except KeyboardInterrupt:
        failures.append("interrupted")
    finally:
        stack.stop()
        local_stack.say("stopped moto, SAM and their containers")
    print()
    if failures:
        print(f"{len(failures)} check(s) failed (logs in {OUT.relative_to(ROOT)}/):")
        for failure in failures:
            print(f"  {failure}")
        return 1
    print(f"every check passed in {time.time() - started:.0f} s")
    return 0


def invoke_everything(stack: SamStack, documented: str) -> list[str]:
    """The documented `sam local invoke` as written, then every file of events/ through it,
    the families before the ingress (whose hand-offs then find the same messages sent);
    every answer checked, then what moto holds."""
    failures = []
    words = shlex.split(documented)
    event_at = words.index("--event") + 1
    runs = [(words, words[3], pathlib.Path(words[event_at]))]
    for folder in ("sms", "email", "session-status", "video-call", "notify", "receipts", "ingress"):
        for event in sorted((ROOT / "events" / folder).glob("*.json")):
            command = [*words[:3], FOLDERS[folder], *words[4:]]
            command[event_at] = str(event.relative_to(ROOT))
            runs.append((command, FOLDERS[folder], event.relative_to(ROOT)))
    print("\nsam local invoke, the documented command and every file of events/")
    # The documented run alone; then the ingress's events, whose hand-offs send the messages
    # fresh through start-lambda; once those ran, the families' own events, which then find
    # every message sent or expired and every change recorded (their OTP envelopes were
    # received days ago: run first, their `expired` records would make the hand-offs' fresh
    # OTPs duplicates). Four containers at a time.
    families = [r for r in runs[1:] if r[1] != "IngressFunction"]
    ingress = [r for r in runs[1:] if r[1] == "IngressFunction"]

    def one(run: tuple[list[str], str, pathlib.Path], after_hand_offs: bool) -> str | None:
        command, function, event = run
        folder = next(f for f, name in FOLDERS.items() if name == function)
        code, answer, output = invoke(stack, command)
        want = expected_answer(folder, event.stem, after_hand_offs)
        ok = code == 0 and answer is not None and all(answer.get(k) == v for k, v in want.items())
        print(f"  {'ok ' if ok else 'NO '} {function:22} {str(event):52} {json.dumps(answer)}",
              flush=True)
        if ok:
            return None
        (OUT / f"invoke-{folder}-{event.stem}.log").write_text(output)
        return f"sam local invoke {function} {event}: {answer} (expected {want})"

    failures += [f for f in [one(runs[0], False)] if f]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        failures += [f for f in pool.map(lambda r: one(r, False), ingress) if f]
        settled = stack.settle()
        ok = settled == EXPECTED
        print(f"  {'ok ' if ok else 'NO '} the hand-offs ran through start-lambda: {settled}")
        if not ok:
            failures.append(f"the ingress's hand-offs through start-lambda: {settled}, "
                            f"expected {EXPECTED}")
        failures += [f for f in pool.map(lambda r: one(r, True), families) if f]
    # The families' own runs sent nothing twice and recorded nothing new.
    after = stack.outcome()
    ok = after == EXPECTED
    print(f"  {'ok ' if ok else 'NO '} nothing sent twice: {after}")
    if not ok:
        failures.append(f"after the families' events: {after}, expected {EXPECTED}")
    return failures


def through_the_api(stack: SamStack, start_api: str, start_lambda: str,
                    curls: list[str]) -> list[str]:
    """On a fresh moto: start-lambda again (its env.json names the new secret) and start-api,
    the documented curl, then the reference callbacks as `make demo` posts and checks them."""
    local_stack.say("moto reset and the resources created again; sam local start-lambda and "
                    "start-api; the reference callbacks posted to /callbacks")
    failures = []
    for process in list(stack.processes):
        if process.args[:3] == ["sam", "local", "start-lambda"]:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=30)
            stack.processes.remove(process)
    urllib.request.urlopen(urllib.request.Request(f"{stack.moto_url}/moto-api/reset", method="POST"))
    stack.create_resources()
    stack.write_env_file()
    stack.start_sam("start-lambda", start_lambda)
    stack.start_sam("start-api", start_api)
    local_stack.wait_for(lambda: not local_stack.port_free(stack.lambda_port, stack.host), 120,
                         "sam local start-lambda", stack.processes)
    local_stack.wait_for(lambda: local_stack.http_status("POST", stack.callback_url, b"{}") == 401,
                         180, "sam local start-api", stack.processes)
    for curl in curls:
        done = subprocess.run(["bash", "-c", curl], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        ok = done.returncode == 0 and '"status":"accepted"' in done.stdout
        print(f"\n  {'ok ' if ok else 'NO '} the documented curl: {done.stdout.strip()}")
        if not ok:
            failures.append(f"the documented curl: {done.stdout or done.stderr}")
    view = StackView(stack)
    if local_stack.demo(view) != 0:
        failures.append("the reference callbacks through start-api and start-lambda")
    failures.extend(two_changes_under_one_request_id(stack))
    return failures


def two_changes_under_one_request_id(stack: SamStack) -> list[str]:
    """start-api gives every request the same request id (aws-sam-cli #9279): two different
    status changes of one session posted through it must both be in its history, since a
    duplicate is the same request id *and* the same callback."""
    session = "samlocal0two0changes0one0request0id00001"
    results = ["MANUAL_CHECK", "APPROVED"]
    for result in results:
        body = {"callbackApiKey": stack.key, "type": "session-change", "sessionId": session,
                "result": result}
        local_stack.post_json(stack.callback_url, json.dumps(body).encode())
    dynamodb = boto3.client("dynamodb", **stack.aws)

    def history() -> list[str]:
        item = dynamodb.get_item(TableName=local_stack.TABLE, ConsistentRead=True,
                                 Key={"sessionId": {"S": session},
                                      "record": {"S": "status"}}).get("Item", {})
        return sorted(e["M"]["result"]["S"] for e in item.get("history", {}).get("L", []))

    deadline = time.time() + 120
    while time.time() < deadline and history() != sorted(results):
        time.sleep(0.5)
    seen = history()
    ok = seen == sorted(results)
    print(f"\n  {'ok ' if ok else 'NO '} two status changes under start-api's one request id, "
          f"both in the history: {seen}")
    return [] if ok else [f"two changes under one request id: history {seen}"]


class StackView:
    """What local_stack.demo needs of a stack: the Callback URL start-api serves, and a settle
    that waits for start-lambda to have run every hand-off."""

    def __init__(self, stack: SamStack) -> None:
        self.stack = stack
        self.key = stack.key
        self.moto_url = stack.moto_url
        self.aws = stack.aws

    def post(self, body: bytes) -> tuple[int, str]:
        return local_stack.post_json(self.stack.callback_url, body)

    def settle(self) -> None:
        self.stack.settle(DEMO_EXPECTED)


def serve(_arch: str) -> int:
    if not BUILT.exists():
        sys.exit("no sam build yet: run the section's sam build first")
    local_template()
    stack = SamStack(bridge_gateway())
    local_stack.stop_on_signals()
    try:
        stack.start_aws()
        stack.write_env_file()
        local_stack.show(f"moto: {stack.moto_url} (the table, the secret, the bus)")
        local_stack.show(f"--env-vars {ENV_FILE.relative_to(ROOT)}, "
                         f"--template {LOCAL_TEMPLATE.relative_to(ROOT)}")
        local_stack.show(f"start-lambda must listen on {stack.host}:{stack.lambda_port}")
        while all(p.poll() is None for p in stack.processes):
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in ("check", "stack", "clean"):
        print(__doc__)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    if sys.argv[1] == "clean":
        remove_containers(set(BEFORE.read_text().split()) if BEFORE.exists() else set())
        return 0
    arch = machine_arch()
    return check(arch) if sys.argv[1] == "check" else serve(arch)


if __name__ == "__main__":
    sys.exit(main())
