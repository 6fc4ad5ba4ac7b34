#!/usr/bin/env python3
"""make deploy-local: the deploy path, proven on this machine without an AWS account.

1. moto on loopback stands in for AWS, CloudFormation included (moto_cloudformation.py adds
   the SAM transform and the resource types moto lacks);
2. `sam build` for this machine's architecture, then the literal `sam deploy --config-env local`
   (samconfig.toml's `local` environment holds the stack name, bucket and parameters);
3. the system runs from what the stack holds: each function's deployed `bootstrap`, fetched from
   moto's S3 as the stack names it, under a local Lambda (lambda_emulator.py) with exactly the
   environment the stack gave it plus the endpoint and credentials; the key comes from the
   deployed secret, the table from the stack's outputs. The reference callbacks are replayed
   and checked as `make demo` checks them;
4. checks: each function's deployed environment is what template.py resolves for the local
   stack (so `make demo` runs the same wiring); the reconcile function, deployed with a company
   key against a local Identomat (identomat_api.py), its mapping, schedule, index and secret,
   and the missed session recovered as in `make demo`; a rotation as the README tells it (a second
   deploy with CallbackApiKeyPrevious, both keys pass, a third clears it, the old key fails);
   every AWS call each function made is allowed by its role's policies (an unused permission is
   reported); `sam delete` keeps the sessions table and removes the rest.

Exit 0 only when every check passed. Environment: MOTO_PORT (a free port), ARCH (the
machine's; sam build needs the Rust target of the architecture), SKIP_BUILD=1 to deploy the
last `sam build`.
"""
import ast
import fnmatch
import io
import json
import os
import pathlib
import platform
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile

import boto3

import lambda_emulator
import local_stack
import receipts_standin
import stream_mapping
import template

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
BUILT = ROOT / ".aws-sam" / "build" / "template.yaml"
OUT = ROOT / "target" / "deploy-local"
CONFIG_ENV = "local"
REGION = "us-east-1"
ROTATED_KEY = "rotated-key-local-0002"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Checks:
    def __init__(self):
        self.failed: list[str] = []

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        print(f"  {'ok ' if ok else 'NO '} {what}" + (f": {detail}" if detail else ""), flush=True)
        if not ok:
            self.failed.append(what)
        return ok


class Deployment:
    """What the stack in moto holds, read through the AWS APIs."""

    def __init__(self, aws: dict, stack: str):
        self.aws = aws
        self.stack = stack
        self.cloudformation = boto3.client("cloudformation", **aws)
        self.lambda_ = boto3.client("lambda", **aws)
        self.refresh()

    def client(self, service: str):
        return boto3.client(service, **self.aws)

    def refresh(self) -> None:
        described = self.cloudformation.describe_stacks(StackName=self.stack)["Stacks"][0]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        self.parameters = {p["ParameterKey"]: p["ParameterValue"]
                           for p in described.get("Parameters", [])}
        summaries = self.cloudformation.list_stack_resources(
            StackName=self.stack)["StackResourceSummaries"]
        self.resources = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                          for r in summaries if r.get("LogicalResourceId")}
        self.types = {r["LogicalResourceId"]: r["ResourceType"]
                      for r in summaries if r.get("LogicalResourceId")}
        self.configurations: dict[str, dict] = {}
        body = self.cloudformation.get_template(StackName=self.stack)["TemplateBody"]
        self.template = body if isinstance(body, dict) else template.parse_tagged(body)

    def functions(self) -> list[str]:
        # A function behind a condition that does not hold (reconcile without a company key)
        # is in the template but not in the stack.
        return [name for name, resource in self.template["Resources"].items()
                if resource["Type"] == "AWS::Serverless::Function"
                and ("Condition" not in resource or name in self.resources)]

    def configuration(self, logical: str) -> dict:
        """The function's configuration, read once per refresh (the stack changes only then)."""
        if logical not in self.configurations:
            self.configurations[logical] = self.lambda_.get_function_configuration(
                FunctionName=self.resources[logical])
        return self.configurations[logical]

    def environment(self, logical: str) -> dict:
        variables = self.configuration(logical).get("Environment", {}).get("Variables", {})
        # Lambda hands a function strings; moto keeps a resolved Number parameter as a number.
        return {k: str(v) for k, v in variables.items()}

    def event_config(self, logical: str) -> dict | None:
        try:
            return self.lambda_.get_function_event_invoke_config(
                FunctionName=self.resources[logical])
        except self.lambda_.exceptions.ResourceNotFoundException:
            return None

    def bootstrap(self, logical: str) -> pathlib.Path:
        """The function's deployed code: the object its CodeUri names in moto's S3, checked
        against the code Lambda holds, unpacked."""
        uri = self.template["Resources"][logical]["Properties"]["CodeUri"]
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        location = self.lambda_.get_function(FunctionName=self.resources[logical])["Code"]["Location"]
        if not location.endswith("/" + key):
            raise SystemExit(f"{logical}: Lambda holds {location}, the stack names {uri}")
        archive = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        target = OUT / logical
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(archive)) as z:
            (target / "bootstrap").write_bytes(z.read("bootstrap"))
        (target / "bootstrap").chmod(0o755)
        return target / "bootstrap"

    def policies(self, logical: str) -> list[dict]:
        """Every statement of the role the stack gave `logical`: inline and attached."""
        iam = self.client("iam")
        role = self.configuration(logical)["Role"].split("/")[-1]
        documents = []
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            documents.append(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
        for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            documents.append(iam.get_policy_version(
                PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
            )["PolicyVersion"]["Document"])
        statements = []
        for document in documents:
            if isinstance(document, str):
                # moto returns an inline document written by CloudFormation as Python's repr.
                try:
                    document = json.loads(document)
                except ValueError:
                    document = ast.literal_eval(document)
            found = document.get("Statement", [])
            statements += found if isinstance(found, list) else [found]
        return statements


def sam(*args: str, env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(["sam", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    log = OUT / "sam.log"
    with open(log, "a") as f:
        f.write(f"$ sam {' '.join(args)}\n{done.stdout}\n")
    if done.returncode != 0:
        print(done.stdout[-3000:])
        raise SystemExit(f"sam {args[0]} failed (full output in {log})")
    return time.perf_counter() - started


def deploy(parameters: dict, env: dict) -> float:
    # SAM splits an override at spaces unless its value is quoted, and refuses `Key=`: an empty
    # value is written `Key=""` (in a shell: 'Key=""').
    overrides = [f'{k}="{v}"' if " " in v or not v else f"{k}={v}" for k, v in parameters.items()]
    # --config-file: next to a built template SAM would look for one in .aws-sam/build.
    return sam("deploy", "--config-file", str(ROOT / "samconfig.toml"), "--config-env", CONFIG_ENV,
               "--template-file", str(BUILT),
               "--parameter-overrides", *overrides, env=env)


def allowed(statements: list[dict], action: str, resource: str,
            leading_key: str | None = None) -> bool:
    """Whether the statements let a request of `action` on `resource` through: an Allow that
    matches and no Deny that does. `Action` and `NotAction` are read; of the conditions, only
    `dynamodb:LeadingKeys` (the item's partition key, `leading_key`) is evaluated, and only on
    a Deny, which is where the template uses it: the others (`kms:ViaService`) hold."""
    def listed(value) -> list[str]:
        # moto leaves an `AWS::NoValue` in a list as None, where CloudFormation drops it.
        return [v for v in (value if isinstance(value, list) else [value]) if v is not None]

    def matches(patterns, value: str, case: bool) -> bool:
        return any(fnmatch.fnmatchcase(value if case else value.lower(),
                                       p if case else p.lower()) for p in listed(patterns))

    def acts(statement: dict) -> bool:
        if "NotAction" in statement:
            return not matches(statement["NotAction"], action, False)
        return matches(statement.get("Action", []), action, False)

    def holds(statement: dict) -> bool:
        patterns = statement.get("Condition", {}).get("ForAnyValue:StringLike", {}).get(
            "dynamodb:LeadingKeys")
        if patterns is None:
            return True
        return leading_key is not None and matches(patterns, leading_key, True)

    verdict = False
    for statement in statements:
        if acts(statement) and matches(statement.get("Resource", []), resource, True) \
                and holds(statement):
            if statement.get("Effect") == "Deny":
                return False
            verdict = True
    return verdict


def granted(statements: list[dict]) -> list[tuple[str, str]]:
    pairs = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        for action in actions if isinstance(actions, list) else [actions]:
            for resource in resources if isinstance(resources, list) else [resources]:
                if resource is not None:
                    pairs.append((action, resource))
    return pairs


def alarm_problems(stack, source: dict) -> list[tuple[str, bool, str]]:
    """Every alarm of the template exists and notifies the stack's topic, the topic and the
    dead-letter queue are under the stack's key, and the dashboard is there. What moto cannot
    tell (whether CloudWatch may use the key and publish) check_template.py checks on paper."""
    results = []
    cloudwatch = stack.client("cloudwatch")
    topic = stack.resources["AlarmTopic"]
    declared = sorted(name for name, r in source["Resources"].items()
                      if r["Type"] == "AWS::CloudWatch::Alarm"
                      and ("Condition" not in r or name in stack.resources))
    held = {a["AlarmName"]: a for page in cloudwatch.get_paginator("describe_alarms").paginate()
            for a in page["MetricAlarms"]}
    for logical in declared:
        alarm = held.get(stack.resources.get(logical, ""))
        actions = alarm.get("AlarmActions") if alarm else None
        results.append((f"{logical}: notifies the alarm topic", actions == [topic],
                        f"actions {actions}"))
        namespaces = {alarm.get("Namespace")} if alarm and alarm.get("Namespace") else {
            q["MetricStat"]["Metric"].get("Namespace")
            for q in (alarm or {}).get("Metrics", []) if q.get("MetricStat")}
        ours = {n for n in namespaces if n and not n.startswith("AWS/")}
        results.append((f"{logical}: watches a namespace that exists",
                        ours <= {f"IdentomatCallbacks/{stack.stack}"}, f"{namespaces}"))
    key = stack.resources["DataKey"]
    attributes = stack.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    results.append(("the alarm topic is under the stack's key",
                    attributes.get("KmsMasterKeyId") == key, attributes.get("KmsMasterKeyId", "")))
    results.append(("the alarm topic's policy lets CloudWatch publish",
                    "cloudwatch.amazonaws.com" in attributes.get("Policy", ""), ""))
    queue = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["DeadLetterQueueUrl"], AttributeNames=["All"])["Attributes"]
    results.append(("the dead-letter queue is under the stack's key",
                    queue.get("KmsMasterKeyId") == key, queue.get("KmsMasterKeyId", "")))
    results.append(("the dead-letter queue's policy admits TLS only",
                    "aws:SecureTransport" in queue.get("Policy", ""), ""))
    dashboard = cloudwatch.get_dashboard(DashboardName=stack.resources["Dashboard"])
    widgets = json.loads(dashboard["DashboardBody"])["widgets"]
    results.append((f"the dashboard {dashboard['DashboardName']}: {len(widgets)} widgets",
                    len(widgets) > 10, ""))
    return results


def run_tool(arguments: list[str], env: dict) -> subprocess.CompletedProcess:
    """One of scripts/tools/ as an operator runs it, against the stack in moto."""
    return subprocess.run([str(VENV_BIN / "python"), str(ROOT / "scripts" / "tools" / arguments[0]),
                           *arguments[1:]], env=env, capture_output=True, text=True, timeout=120)


def receipts_wiring(stack, source: dict, resolve: template.Resolver,
                    function: str) -> list[tuple[str, bool, str]]:
    """The receipts' way in, as the stack holds it against the template: SES's configuration
    set and its EventBridge destination, the rule on the default bus, the subscriptions of
    SNS's two SMS log groups, the role SNS writes those logs with."""
    found = []
    name = stack.outputs["EmailConfigurationSetName"]
    described = stack.client("ses").describe_configuration_set(
        ConfigurationSetName=name, ConfigurationSetAttributeNames=["eventDestinations"])
    destinations = [d for d in described.get("EventDestinations", []) if d]
    declared = source["Resources"]["EmailReceiptsDestination"]["Properties"]["EventDestination"]
    types = sorted(t for d in destinations for t in d.get("MatchingEventTypes", []))
    found.append((f"the configuration set {name}, with one destination for "
                  f"{', '.join(declared['MatchingEventTypes'])}",
                  described["ConfigurationSet"]["Name"] == name and len(destinations) == 1
                  and types == sorted(declared["MatchingEventTypes"]), f"{destinations}"))
    email = stack.environment("EmailFunction").get("SES_CONFIGURATION_SET")
    found.append(("the email function sends with it", email == name, f"{email!r}"))
    events = stack.client("events")
    rules = [r for r in events.list_rules(EventBusName="default")["Rules"]
             if any(t["Arn"].endswith(f":function:{function}")
                    for t in events.list_targets_by_rule(Rule=r["Name"])["Targets"])]
    pattern = resolve.resolve(source["Resources"]["ReceiptsFunction"]["Properties"]["Events"][
        "EmailReceipts"]["Properties"]["Pattern"])
    held = json.loads(rules[0]["EventPattern"]) if rules else None
    found.append(("one rule on the default bus sends the set's SES events to receipts, as declared",
                  len(rules) == 1 and held == pattern, f"{held} against {pattern}"))
    logs = stack.client("logs")
    for group in (f"sns/{REGION}/{lambda_emulator.ACCOUNT}/DirectPublishToPhoneNumber",
                  f"sns/{REGION}/{lambda_emulator.ACCOUNT}/DirectPublishToPhoneNumber/Failure"):
        try:
            filters = logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
        except logs.exceptions.ResourceNotFoundException:
            filters = []
        found.append((f"{group} is subscribed by receipts",
                      [f["destinationArn"].split(":")[-1] for f in filters] == [function],
                      f"{filters}"))
    role = stack.client("iam").get_role(RoleName=stack.resources["SmsDeliveryStatusRole"])["Role"]
    trusted = [s.get("Principal", {}).get("Service") for s in
               role["AssumeRolePolicyDocument"]["Statement"]]
    found.append(("SNS may assume SmsDeliveryStatusRole, and the output's command names it",
                  trusted == ["sns.amazonaws.com"]
                  and role["Arn"] in stack.outputs["SmsDeliveryStatusCommand"],
                  f"{trusted}, {stack.outputs['SmsDeliveryStatusCommand']}"))
    return found


def printed_key(stdout: str) -> str:
    """The new key rotate_key.py printed: the line after "new key ...", or nothing."""
    lines = stdout.splitlines()
    return next((lines[i + 1] for i, line in enumerate(lines[:-1]) if line.startswith("new key")), "")


def records_of(dynamodb, table: str, session: str) -> list[dict]:
    return dynamodb.query(TableName=table, KeyConditionExpression="sessionId = :s",
                          ExpressionAttributeValues={":s": {"S": session}})["Items"]


# The settings of an event source mapping the stack must hold as the template declares them.
MAPPING_SETTINGS = ("BatchSize", "FilterCriteria", "MaximumRetryAttempts", "BisectBatchOnFunctionError",
                    "FunctionResponseTypes", "ParallelizationFactor", "StartingPosition")


def mapping_differences(held: dict, declared: dict) -> list[str]:
    """The settings the template declares for a mapping that the deployed one does not hold."""
    return [k for k in MAPPING_SETTINGS if k in declared and str(held.get(k)) != str(declared[k])]


def started_mapping(stack, function: lambda_emulator.Function, held: dict) -> stream_mapping.StreamMapping:
    """The table's stream fed to `function` under the local Lambda, as the deployed mapping
    `held` is configured."""
    def invoke(payload: bytes) -> tuple[bool, bytes]:
        done = function.invoke(payload)
        return done.error is not None, done.error if done.error is not None else done.result

    mapping = stream_mapping.StreamMapping(
        stack.client("dynamodbstreams"), stack.client("sqs"), held.get("EventSourceArn", ""),
        function.arn, invoke, held)
    mapping.start()
    return mapping


class Replay:
    """What local_stack.demo needs of a stack: the key, the Callback URL, moto."""

    def __init__(self, key: str, service: lambda_emulator.Service, moto_url: str, aws: dict,
                 mapping: stream_mapping.StreamMapping | None = None, events_queue_url: str = ""):
        self.key = key
        self.service = service
        self.moto_url = moto_url
        self.aws = aws
        # What local_stack.demo prints the events from: the stream's mapping, and the queue a
        # subscriber's rule fills.
        self.mapping = mapping
        self.events_queue_url = events_queue_url

    # Set when the stack runs reconcile: its stream mapping and the function, run locally.
    reconcile_mapping: stream_mapping.StreamMapping | None = None
    reconcile: lambda_emulator.Function | None = None
    # The deployed receipts function, and what stands in for SES's and SNS's receipts.
    receipts: lambda_emulator.Function | None = None
    standin: receipts_standin.StandIn | None = None

    def deliver_receipts(self) -> int:
        """The receipts AWS would send for what moto recorded, to the deployed function."""
        delivered, errors = self.standin.deliver(self.moto_url, lambda p: self.receipts.invoke(p).error)
        if errors:
            raise SystemExit(f"the receipts function failed: {errors[0][:500]!r}")
        return delivered

    def reconcile_open(self) -> dict:
        """What reconcile.py --open asks of the deployed reconcile function."""
        self.reconcile_mapping.settle()
        done = self.reconcile.invoke(json.dumps({"action": "open"}).encode())
        if done.error is not None:
            raise SystemExit(f"the reconcile function failed: {done.error[:500]!r}")
        return json.loads(done.result)

    def post(self, body: bytes) -> tuple[int, str]:
        return local_stack.post_json(self.service.callback_url, body)

    def settle(self) -> None:
        self.service.wait_idle(60)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sam.log").write_text("")
    checks = Checks()
    timings: dict[str, float] = {}
    port = int(os.environ.get("MOTO_PORT") or free_port())
    # moto reads the template's S3 URL by host name: an IP address would be taken for a bucket.
    moto_url = f"http://localhost:{port}"
    aws = dict(endpoint_url=moto_url, region_name=REGION, aws_access_key_id="testing",
               aws_secret_access_key="testing")
    env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
               AWS_ENDPOINT_URL=moto_url, AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION,
               SAM_CLI_TELEMETRY="0")
    arch = os.environ.get("ARCH") or ("arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64")
    config = template.samconfig_deploy(CONFIG_ENV)
    parameters = {**template.samconfig_parameters(CONFIG_ENV), "Architecture": arch}
    # Deployed with a company key, against a local Identomat on loopback over HTTPS (the
    # template takes https only), its certificate from a CA of this run's that the reconcile
    # function and the tools trust (SSL_CERT_FILE): the reconcile function, its secret, index
    # and schedule.
    sys.path.insert(0, str(ROOT / "scripts" / "bench"))
    import lambda_bench  # its loopback CA and localhost certificate (imported here: it opens a log)

    bundle = lambda_bench.certificates()
    identomat_port = free_port()
    identomat_log = open(OUT / "identomat.log", "w")
    identomat = subprocess.Popen(
        [str(VENV_BIN / "python"), str(ROOT / "scripts" / "local" / "identomat_api.py"),
         str(identomat_port), "--company-key", local_stack.LOCAL_COMPANY_KEY,
         "--fixture", str(local_stack.IDENTOMAT_SESSIONS),
         "--tls-cert", str(lambda_bench.OUT / "leaf.pem"), "--tls-key", str(lambda_bench.OUT / "leaf.key")],
        stdout=identomat_log, stderr=subprocess.STDOUT, start_new_session=True)
    parameters.update(IdentomatCompanyKey=local_stack.LOCAL_COMPANY_KEY,
                      IdentomatApiUrl=f"https://localhost:{identomat_port}/external-api/")

    moto_log = open(OUT / "moto.log", "w")
    moto = subprocess.Popen([str(VENV_BIN / "python"), str(ROOT / "scripts" / "local" / "moto_server.py"),
                             str(port), "--cloudformation"], stdout=moto_log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    service = None
    mapping = None
    proxies: list = []
    try:
        local_stack.wait_for(lambda: local_stack.http_status("GET", f"{moto_url}/moto-api/") == 200,
                             30, "moto server", [moto])
        if os.environ.get("SKIP_BUILD") != "1":
            say(f"sam build for {arch} (release builds of the functions: minutes the first time)")
            timings["sam build"] = sam("build", "--parameter-overrides", f"Architecture={arch}", env=env)

        say(f"sam deploy --config-env {CONFIG_ENV} into moto ({moto_url})")
        boto3.client("s3", **aws).create_bucket(Bucket=config["s3_bucket"])
        timings["sam deploy"] = deploy(parameters, env)
        stack = Deployment(aws, config["stack_name"])
        print(f"  stack {stack.stack}: {len(stack.resources)} resources, outputs "
              f"{', '.join(sorted(stack.outputs))}")

        print("\nThe deployed wiring")
        table = stack.outputs["SessionsTableName"]
        arns = {
            ("SessionsTable", "Arn"): stack.client("dynamodb").describe_table(
                TableName=table)["Table"]["TableArn"],
        }
        pseudo = {"AWS::StackName": stack.stack, "AWS::Region": REGION,
                  "AWS::AccountId": lambda_emulator.ACCOUNT, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com"}
        resolve = template.Resolver(template.load_tagged(), parameters, stack.resources, arns, pseudo)
        source = template.load_tagged()
        for logical in stack.functions():
            expected = template.environment(source, logical, resolve)
            deployed = stack.environment(logical)
            differ = sorted(k for k in expected.keys() | deployed.keys()
                            if expected.get(k) != deployed.get(k))
            checks.check(f"{logical}: {len(deployed)} variables, as template.py resolves them",
                         not differ, f"differ: {differ}" if differ else "")
        secret = stack.client("secretsmanager").get_secret_value(
            SecretId=stack.outputs["CallbackKeySecretArn"])["SecretString"]
        keys = json.loads(secret)
        checks.check("the secret holds the keys in the shape the ingress reads",
                     keys == {"current": parameters["CallbackApiKey"],
                              "previous": parameters["CallbackApiKeyPrevious"]})

        print("\nAlarms and dashboard, as the stack holds them")
        for what, ok, detail in alarm_problems(stack, source):
            checks.check(what, ok, "" if ok else detail)

        say("fetching each function's deployed bootstrap and starting them under a local Lambda")
        # An operator's step before the first e-mail: SES sends only from a verified identity.
        stack.client("ses").verify_email_identity(EmailAddress=parameters["EmailFromAddress"])
        service = lambda_emulator.Service({}, ingress="", sqs=stack.client("sqs"))
        function_log = open(OUT / "functions.log", "w")
        recorded: dict[str, lambda_emulator.RecordingProxy] = {}
        for logical in stack.functions():
            binary = stack.bootstrap(logical)
            proxy = lambda_emulator.RecordingProxy(f"http://127.0.0.1:{port}", service, REGION)
            proxies.append(proxy)
            recorded[logical] = proxy
            configuration = stack.configuration(logical)
            function_env = {
                **stack.environment(logical),
                "AWS_ENDPOINT_URL": proxy.url, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(configuration["MemorySize"]),
            }
            if logical == "ReconcileFunction":
                # The local Identomat's CA (the AWS calls go to moto over plain http).
                function_env["SSL_CERT_FILE"] = str(bundle)
            name = stack.resources[logical]
            service.functions[name] = lambda_emulator.Function(
                name, [str(binary)], function_env, float(configuration["Timeout"]), function_log,
                REGION, stack.event_config(logical))
        service.ingress = stack.resources["IngressFunction"]
        print(f"  Callback URL (the HTTP API's stand-in): {service.callback_url}")

        # The stream's event source mapping, as the stack holds it, run by the local Lambda.
        notify = service.functions[stack.resources["NotifyFunction"]]
        mappings = stack.client("lambda").list_event_source_mappings(
            FunctionName=notify.name)["EventSourceMappings"]
        checks.check("one event source mapping feeds notify from the table's stream",
                     len(mappings) == 1 and mappings[0]["EventSourceArn"]
                     == stack.outputs["SessionsTableStreamArn"])
        declared = template.load_tagged()["Resources"]["NotifyFunction"]["Properties"]["Events"][
            "TableChanges"]["Properties"]
        held = mappings[0] if mappings else {}
        differ = mapping_differences(held, declared)
        checks.check("its settings are the template's", not differ, f"differ: {differ}" if differ else "")
        mapping = started_mapping(stack, notify, held)

        print("\nReconcile, deployed with a company key against the local Identomat")
        reconcile = service.functions[stack.resources["ReconcileFunction"]]
        reconcile_mappings = stack.client("lambda").list_event_source_mappings(
            FunctionName=reconcile.name)["EventSourceMappings"]
        declared = template.load_tagged()["Resources"]["ReconcileFunction"]["Properties"]["Events"][
            "TableChanges"]["Properties"]
        held_reconcile = reconcile_mappings[0] if reconcile_mappings else {}
        differ = mapping_differences(held_reconcile, declared)
        checks.check("a second event source mapping feeds reconcile from the stream, as declared",
                     len(reconcile_mappings) == 1 and not differ, f"differ: {differ}" if differ else "")
        rules = [r for page in stack.client("events").get_paginator("list_rules").paginate()
                 for r in page["Rules"] if r.get("ScheduleExpression")]
        targets = [t for r in rules for t in stack.client("events").list_targets_by_rule(
            Rule=r["Name"])["Targets"] if t["Arn"].endswith(f":function:{reconcile.name}")]
        checks.check("its schedule: rate(60 minutes) with {\"action\": \"due\"}",
                     any(r["ScheduleExpression"] == "rate(60 minutes)" for r in rules)
                     and len(targets) == 1 and json.loads(targets[0].get("Input", "{}")) == {"action": "due"},
                     "" if targets else f"{[r['ScheduleExpression'] for r in rules]}")
        index = stack.client("dynamodb").describe_table(TableName=table)["Table"].get(
            "GlobalSecondaryIndexes", [])
        checks.check("the table has the sparse indexes delivery-message and reconcile-due (KEYS_ONLY)",
                     sorted((i["IndexName"], i["Projection"]["ProjectionType"]) for i in index)
                     == [("delivery-message", "KEYS_ONLY"), ("reconcile-due", "KEYS_ONLY")],
                     f"{[i['IndexName'] for i in index]}")
        company = json.loads(stack.client("secretsmanager").get_secret_value(
            SecretId=stack.outputs["IdentomatKeySecretArn"])["SecretString"])
        checks.check("the company key's secret holds it in the shape reconcile reads",
                     company == {"companyKey": local_stack.LOCAL_COMPANY_KEY, "hmacSecret": ""})

        reconcile_mapping = started_mapping(stack, reconcile, held_reconcile)
        Replay.reconcile_mapping, Replay.reconcile = reconcile_mapping, reconcile
        events_queue = local_stack.subscribe(aws, stack.outputs["EventBusName"],
                                             "identomat.callbacks")
        print(f"  events: bus {stack.outputs['EventBusName']}, a subscriber's rule into {events_queue}")
        bus = stack.client("events").describe_event_bus(Name=stack.outputs["EventBusName"])
        checks.check("the bus is encrypted with the stack's key (DataKeyArn)",
                     bus.get("KmsKeyIdentifier") == stack.outputs["DataKeyArn"],
                     "" if bus.get("KmsKeyIdentifier") == stack.outputs["DataKeyArn"]
                     else f"{bus.get('KmsKeyIdentifier')!r}")

        print("\nDelivery receipts: the configuration set, its destination, the rule and the log subscriptions")
        receipts = service.functions[stack.resources["ReceiptsFunction"]]
        for what, ok, detail in receipts_wiring(stack, source, resolve, receipts.name):
            checks.check(what, ok, "" if ok else detail)
        Replay.receipts = receipts
        Replay.standin = receipts_standin.StandIn(lambda_emulator.ACCOUNT, REGION,
                                                  stack.outputs["EmailConfigurationSetName"])

        key = keys["current"]
        started = time.perf_counter()
        code = local_stack.demo(Replay(key, service, moto_url, aws, mapping, events_queue),
                                table=table)
        timings["replay"] = time.perf_counter() - started
        checks.check("the reference callbacks, as make demo expects them", code == 0)

        print("\nThe OTP callbacks again (Identomat retrying): nothing is sent twice")
        replay = Replay(key, service, moto_url, aws)
        for name in ("one-time-password-request", "email-one-time-password-request"):
            body = json.loads((local_stack.SAMPLES / f"{name}.json").read_text())
            body["callbackApiKey"] = key
            status = replay.post(json.dumps(body).encode())[0]
            checks.check(f"{name} again: 202", status == 202)
        replay.settle()
        data = json.loads(urllib.request.urlopen(f"{moto_url}/moto-api/data.json").read())
        checks.check("still 3 SMS and 3 e-mails",
                     (len(data["sns"]["SMS"]), len(data["ses"]["Message"])) == (3, 3))

        print("\nRotation, as the README tells it")
        refresh = float(parameters["CallbackKeyRefreshSeconds"]) + 1
        old_key = parameters["CallbackApiKey"]

        def status_with(k: str) -> int:
            body = json.loads((local_stack.SAMPLES / "session-change.json").read_text())
            body["callbackApiKey"] = k
            return replay.post(json.dumps(body).encode())[0]

        rotating = {**parameters, "CallbackApiKey": ROTATED_KEY, "CallbackApiKeyPrevious": old_key}

        def secret_holds() -> dict:
            return json.loads(stack.client("secretsmanager").get_secret_value(
                SecretId=stack.outputs["CallbackKeySecretArn"])["SecretString"])

        timings["sam deploy (update)"] = deploy(rotating, env)
        checks.check("2nd deploy: the secret holds the new key and the old one as previous",
                     secret_holds() == {"current": ROTATED_KEY, "previous": old_key})
        time.sleep(refresh)
        checks.check("2nd deploy (CallbackApiKeyPrevious set): the new key passes",
                     status_with(ROTATED_KEY) == 202)
        checks.check("2nd deploy: the old key still passes", status_with(old_key) == 202)
        deploy({**rotating, "CallbackApiKeyPrevious": ""}, env)
        checks.check("3rd deploy: the secret holds the new key alone",
                     secret_holds() == {"current": ROTATED_KEY, "previous": ""})
        time.sleep(refresh)
        checks.check("3rd deploy (CallbackApiKeyPrevious cleared): the old key is refused",
                     status_with(old_key) == 401)
        checks.check("3rd deploy: the new key passes", status_with(ROTATED_KEY) == 202)
        replay.settle()

        print("\nRotation without a deploy (scripts/tools/rotate_key.py)")
        tool_env = {**env, "AWS_REGION": REGION, "SSL_CERT_FILE": str(bundle)}
        rotate = run_tool(["rotate_key.py", "--stack", stack.stack, "--callback-url",
                           service.callback_url], tool_env)
        tool_key = printed_key(rotate.stdout)
        checks.check("rotate_key.py: a new key current, the old one previous, in effect "
                     "within CallbackKeyRefreshSeconds",
                     rotate.returncode == 0 and secret_holds() == {"current": tool_key,
                                                                   "previous": ROTATED_KEY}
                     and status_with(ROTATED_KEY) == 202,
                     "" if rotate.returncode == 0 else rotate.stdout + rotate.stderr)
        finish = run_tool(["rotate_key.py", "--stack", stack.stack, "--finish", "--callback-url",
                           service.callback_url], tool_env)
        checks.check("rotate_key.py --finish: the previous key dropped and refused",
                     finish.returncode == 0 and secret_holds() == {"current": tool_key, "previous": ""}
                     and status_with(ROTATED_KEY) == 401,
                     "" if finish.returncode == 0 else finish.stdout + finish.stderr)
        emergency = run_tool(["rotate_key.py", "--stack", stack.stack, "--emergency",
                              "--callback-url", service.callback_url], tool_env)
        emergency_key = printed_key(emergency.stdout)
        checks.check("rotate_key.py --emergency: a new key alone, the leaked one refused at once",
                     emergency.returncode == 0 and secret_holds() == {"current": emergency_key,
                                                                      "previous": ""}
                     and status_with(tool_key) == 401 and status_with(emergency_key) == 202,
                     "" if emergency.returncode == 0 else emergency.stdout + emergency.stderr)
        # A later deploy with the same key parameters and another change: CloudFormation writes
        # the secret only when its template value changes, so the rotated key stays.
        deploy({**rotating, "CallbackApiKeyPrevious": "", "SmsMaxPerHour": "199"}, env)
        time.sleep(refresh)
        kept = secret_holds() == {"current": emergency_key, "previous": ""}
        checks.check("a later sam deploy (SmsMaxPerHour changed, the keys not) keeps the rotated key",
                     kept and status_with(emergency_key) == 202 and status_with(ROTATED_KEY) == 401,
                     "" if kept else "the secret was written again")
        replay.settle()

        print("\nThe operator's tools against the stack (scripts/tools/)")
        smoke = run_tool(["smoke.py", "--stack", stack.stack, "--callback-url",
                          service.callback_url], tool_env)
        checks.check("smoke.py before the SMS receipts' setting: it says to run SmsDeliveryStatusCommand",
                     smoke.returncode == 1 and "run the SmsDeliveryStatusCommand output" in smoke.stdout,
                     "" if "run the SmsDeliveryStatusCommand output" in smoke.stdout
                     else smoke.stdout + smoke.stderr)
        # The deploy step's one command (the SmsDeliveryStatusCommand output), as boto3 runs it.
        command = stack.outputs["SmsDeliveryStatusCommand"].split()
        attributes = dict(pair.split("=", 1) for pair in command[command.index("--attributes") + 1].split(","))
        stack.client("sns").set_sms_attributes(attributes=attributes)
        smoke = run_tool(["smoke.py", "--stack", stack.stack, "--callback-url",
                          service.callback_url], tool_env)
        passed = smoke.returncode == 0 and "every step passed" in smoke.stdout
        checks.check("smoke.py: accepted, stored, wrong key refused, SMS receipts set up", passed,
                     "" if passed else smoke.stdout + smoke.stderr)
        replay.settle()
        erased = "ku2a5ldv4i13go76ftkych1je055nvyjtvjuurkp"
        before = len(records_of(stack.client("dynamodb"), table, erased))
        erase = run_tool(["erase.py", "--stack", stack.stack, "--session", erased, "--at-identomat",
                          "--identomat-api-url", parameters["IdentomatApiUrl"]], tool_env)
        after = len(records_of(stack.client("dynamodb"), table, erased))
        passed = (erase.returncode == 0 and before >= 2 and after == 0
                  and f"deleted {before} record(s)" in erase.stdout
                  and "Identomat's delete/ answered HTTP 200" in erase.stdout
                  and "documents no response format" in erase.stdout)
        checks.check(f"erase.py --at-identomat: the {before} records of a reference session deleted, "
                     "and the session at the local Identomat with the stack's company key", passed,
                     "" if passed else erase.stdout + erase.stderr)

        print("\nLeast privilege: every AWS call each function made, against its role")
        stack.refresh()
        secrets = {"IdentomatKeySecret": stack.outputs["IdentomatKeySecretArn"],
                   "CallbackKeySecret": stack.outputs["CallbackKeySecretArn"]}
        readers = {"IdentomatKeySecret": "ReconcileFunction", "CallbackKeySecret": "IngressFunction"}
        for secret, arn in secrets.items():
            for logical in stack.functions():
                may = allowed(stack.policies(logical), "secretsmanager:GetSecretValue", arn)
                if logical == readers[secret]:
                    checks.check(f"{logical} may read {secret}", may)
                elif may:
                    checks.check(f"{logical} may not read {secret}", False)
        # Requests that must fail: a rate-limit window written by any role but the senders'.
        table_arn = arns[("SessionsTable", "Arn")]
        window = "ratelimit#sms-budget"
        for logical in stack.functions():
            statements = stack.policies(logical)
            may = {a: allowed(statements, f"dynamodb:{a}", table_arn, window)
                   for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")}
            if logical in ("SmsFunction", "EmailFunction"):
                checks.check(f"{logical} may count in {window} (UpdateItem)", may["UpdateItem"])
            else:
                checks.check(f"{logical} may not read or write {window}", not any(may.values()),
                             "" if not any(may.values()) else f"{may}")
                if not any(a.startswith("dynamodb:") and r == table_arn
                           for a, r in granted(statements)):
                    continue  # no table grant at all (notify reads the stream only)
                other = [a for a in ("BatchWriteItem", "Scan", "DeleteTable", "UpdateTable")
                         if allowed(statements + [{"Effect": "Allow", "Action": f"dynamodb:{a}",
                                                   "Resource": table_arn}],
                                    f"dynamodb:{a}", table_arn)]
                checks.check(f"{logical}: a table operation it is not granted stays denied "
                             "even if another policy grants it", not other, ", ".join(other))
        checks.check("no role but reconcile's and ingress's may read a secret",
                     all(not allowed(stack.policies(f), "secretsmanager:GetSecretValue", a)
                         for f in stack.functions() for s, a in secrets.items() if readers[s] != f))
        for logical in stack.functions():
            statements = stack.policies(logical)
            calls = sorted(recorded[logical].calls)
            for action, resource in calls:
                checks.check(f"{logical}: {action} on {resource}",
                             allowed(statements, action, resource))
            denied = sorted((a, k) for a, r, k in recorded[logical].keyed
                            if not allowed(statements, a, r, k))
            checks.check(f"{logical}: every item it read or wrote, by its partition key, allowed",
                         not denied, f"{denied}" if denied else "")
            unused = [(a, r) for a, r in granted(statements)
                      if not any(allowed([{"Effect": "Allow", "Action": a, "Resource": r}], c, res)
                                 for c, res in calls)]
            for action, resource in unused:
                # Lambda itself sends a failed event to the queue, with the function's role.
                who = {"sqs:SendMessage": " (Lambda's, for the failure destination)",
                       "kms:GenerateDataKey": " (SQS's, on the role's behalf: moto encrypts nothing)",
                       "kms:Decrypt": " (SQS's or Secrets Manager's, on the role's behalf: moto "
                                      "encrypts nothing)"}.get(action, "")
                print(f"  --  {logical}: granted, not called in this run{who}: {action} on {resource}")

        mapping.stop()
        Replay.reconcile_mapping.stop()
        print("\nsam delete")
        timings["sam delete"] = sam("delete", "--stack-name", stack.stack, "--region", REGION,
                                    "--no-prompts", env=env)
        dynamodb = stack.client("dynamodb")
        checks.check("the sessions table is kept (DeletionPolicy: Retain)",
                     table in dynamodb.list_tables()["TableNames"])
        key = stack.client("kms").describe_key(KeyId=stack.resources["DataKey"])["KeyMetadata"]
        checks.check("the key that encrypts it is kept too", key["KeyState"] == "Enabled",
                     key["KeyState"])
        names = set(stack.resources.values())
        left = {
            "functions": [f["FunctionName"] for f in stack.client("lambda").list_functions()["Functions"]
                          if f["FunctionName"] in names],
            "roles": [r["RoleName"] for r in stack.client("iam").list_roles()["Roles"]
                      if r["RoleName"] in names],
            "secret": [s["ARN"] for s in stack.client("secretsmanager").list_secrets()["SecretList"]
                       if s["ARN"] in names],
            "queue": [u for u in stack.client("sqs").list_queues().get("QueueUrls", []) if u in names],
            "topic": [t["TopicArn"] for t in stack.client("sns").list_topics()["Topics"]
                      if t["TopicArn"] in names],
            "event bus": [b["Name"] for b in stack.client("events").list_event_buses()["EventBuses"]
                          if b["Name"] in names or b["Arn"] in names],
            "event source mapping": [m["UUID"] for m in
                                     stack.client("lambda").list_event_source_mappings()[
                                         "EventSourceMappings"]
                                     if m["FunctionArn"].split(":")[-1] in names],
            "log groups": [g["logGroupName"] for g in
                           stack.client("logs").describe_log_groups()["logGroups"]
                           if g["logGroupName"] in names],
            "alarms": [a["AlarmName"] for a in
                       stack.client("cloudwatch").describe_alarms()["MetricAlarms"]
                       if a["AlarmName"] in names],
            "dashboard": [d["DashboardName"] for d in
                          stack.client("cloudwatch").list_dashboards()["DashboardEntries"]
                          if d["DashboardName"] in names],
        }
        for kind, remaining in left.items():
            checks.check(f"gone: the stack's {kind}", not remaining, ", ".join(remaining))
    finally:
        if mapping is not None:
            mapping.stop()
        if Replay.reconcile_mapping is not None:
            Replay.reconcile_mapping.stop()
        identomat.terminate()
        identomat.wait()
        if service is not None:
            service.stop()
        for proxy in proxies:
            proxy.stop()
        moto.terminate()
        moto.wait()

    print("\nTimes: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    if checks.failed:
        print(f"{len(checks.failed)} check(s) failed: {'; '.join(checks.failed)}")
        print(f"logs: {OUT.relative_to(ROOT)}/")
        return 1
    print("every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
