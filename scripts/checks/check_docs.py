#!/usr/bin/env python3
"""The names the docs give are the code's names, and every name the code has is in the docs.

Read: README.md, CONTRIBUTING.md and docs/*.md (CHANGELOG.md names what earlier versions had,
so it is left out). Each inline code span and each command in a code block is looked at:

- `UPPER_SNAKE` names an environment variable: some source must read it (a string literal in
  the Rust code, a script, the Makefile or template.yaml);
- `CamelCase` names a stack parameter, output or resource (alarms included), or a metric of
  shared/metrics.json, unless it is one of AWS's own names listed below;
- `kebab-case` names a metric reason or outcome, a callback type, a function, a make target or
  an event field, unless listed below;
- `Title Case Words` name an event's detail-type (schemas/);
- `make TARGET` names a Makefile target; `scripts/.../x.py --flag` a flag x.py takes; a
  repository path must exist; a link to a file of the repository must lead somewhere.

And the other way: every parameter, every variable a function reads, every metric and reason,
every alarm, output and detail-type, every make target and every script flag is named in the
docs somewhere (most in their own page: configuration.md, contract.md, operations.md,
events.md).

  check_docs.py            exit 1 and one line per problem when a name does not match
"""
import glob
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "local"))  # the local stand-ins: template.py
import template  # noqa: E402

DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]

# Names of AWS, the SDKs and the tools the docs may name as they are: API operations, fields,
# attribute and setting names that are not ours.
AWS_NAMES = {
    "PutEvents", "PutItem", "GetItem", "UpdateItem", "PutMetricData", "Publish", "SendEmail",
    "MessageRejected", "InvalidParameter", "ReportBatchItemFailures", "ParallelizationFactor",
    "MaximumRetryAttempts", "BisectBatchOnFunctionError", "FilterCriteria", "BatchSize",
    "StartingPosition", "DeletionPolicy", "MemorySize", "Timeout", "Transactional", "Event",
    "RequestResponse", "Retain", "CodeUri", "Metadata", "BuildProperties", "Binary",
    "EventInvokeConfig", "DestinationConfig", "OnFailure", "DDBStreamBatchInfo", "Query",
    "AccessDenied", "InvalidParameterValue", "AWS", "KeyConditionExpression",
    "AlarmActions", "NoEcho", "UsePreviousValue", "Ref", "Debug", "MessageAttributes",
    "PhoneNumber",
    # SES's and SNS's words for receipts: bounce types and subtypes, a delay type, event types,
    # the destination's property, the account's SMS attribute, the configuration set's types.
    "Permanent", "Transient", "Undetermined", "General", "NoEmail", "Suppressed", "Send", "Open",
    "TransientCommunicationFailure", "EventBridgeDestination", "DeliveryStatusIAMRole",
    "DELIVERY_DELAY", "RENDERING_FAILURE",
    # IAM policy elements.
    "NotAction",
}
# SES's own EventBridge detail-types, which the docs name beside ours.
SES_DETAIL_TYPES = {"Email Delivered", "Email Bounced", "Email Complaint Received",
                    "Email Delivery Delayed", "Email Rejected", "Email Rendering Failed"}
# kebab-case names that are neither reasons nor callback types: crates, tools, file stems,
# values of other systems.
def rule_codes() -> set[str]:
    """The `ruleCode`s a rejected# record and its event carry: shared::fields::Problem's
    variants, kebab-cased as strum writes them."""
    text = (ROOT / "shared/src/fields.rs").read_text()
    body = text.split("pub enum Problem {", 1)[1].split("\n}", 1)[0]
    variants = re.findall(r"^    ([A-Z]\w*),", body, re.M)
    return {re.sub(r"(?<!^)(?=[A-Z])", "-", v).lower() for v in variants}


OTHER_KEBAB = {
    "rust-cargolambda", "cargo-lambda", "cargo-fuzz", "cargo-nextest", "aws-lc",
    "floor-echo", "floor-tls", "python-peer", "bare-parse", "accept-envelope", "aws-sam-cli",
    "x-api-key", "base64-encoded", "one-time-password", "date-time", "content-type",
    "post-quantum", "retry-after", "detail-type", "sms-budget", "callback-api-key-123",
    "start-lambda", "start-api",
    # Reconcile: its triggers and opener, its index, the platform's 4xx as a reason, the local
    # Identomat's faults.
    "on-demand", "reconcile-due", "http-401", "http-403", "bad-signature", "no-signature",
    # Receipts: the delivery index, the `reason` a receipt's failure leaves on its record.
    "delivery-message", "carrier-failure", "rejected-by-ses",
}
# Event fields and record attributes in kebab form: none today; listed when there are.
EVENT_FIELDS: set[str] = set()
# Variables of tools and of AWS that the docs may name: not ours to read.
OTHER_VARIABLES = {"AWS_PROFILE", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                   "AWS_DEFAULT_REGION", "SAM_CLI_TELEMETRY", "PATH", "MOTO_PYTHON",
                   "INITIAL_NO_AUTH_ACTION_COUNT"}

SOURCES = [*ROOT.glob("shared/src/**/*.rs"), *ROOT.glob("functions/*/src/**/*.rs"),
           *ROOT.glob("scripts/**/*.py"), ROOT / "Makefile", ROOT / "template.yaml",
           ROOT / ".cargo" / "config.toml", *ROOT.glob("tests/testkit/src/*.rs")]


def inline_spans(text: str) -> list[str]:
    """Inline code spans, outside fenced blocks."""
    spans = []
    for block in re.split(r"^```.*?^```", text, flags=re.M | re.S):
        spans.extend(re.findall(r"`([^`\n]+)`", block))
    return spans


def code_lines(text: str) -> list[str]:
    """The lines of fenced code blocks, a line continued with `\\` joined to the next."""
    lines = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S):
        lines.extend(block.replace("\\\n", " ").splitlines())
    return lines


def makefile_targets() -> dict[str, bool]:
    """Each target, and whether it is public (in .PHONY)."""
    text = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY:(.*)$", text, re.M).group(1).split())
    targets = {m: m in phony for m in re.findall(r"^([a-z][a-z0-9-]*):", text, re.M)}
    return targets


def script_flags() -> dict[str, set[str]]:
    """scripts/<dir>/<name>.py -> the flags its argparse takes."""
    flags = {}
    for path in ROOT.glob("scripts/*/*.py"):
        found = set(re.findall(r'add_argument\(\s*"(--[a-z][a-z-]*)"', path.read_text()))
        if found:
            flags[str(path.relative_to(ROOT))] = found
    return flags


def read_variables() -> set[str]:
    """The variables the functions read: the template gives them, or the Rust code looks them
    up by name."""
    tpl = template.load_tagged()
    names = set(tpl.get("Globals", {}).get("Function", {}).get("Environment", {})
                .get("Variables", {}))
    for resource in tpl["Resources"].values():
        names |= set(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    lookup = re.compile(r'(?:setting|bounded|required|optional|hourly_limit|hourly_budget|'
                        r'lookup|env::var|ENV: &(?:\'static )?str =)\(?[^"\n]*"([A-Z][A-Z0-9_]+)"')
    for path in [*ROOT.glob("shared/src/**/*.rs"), *ROOT.glob("functions/*/src/**/*.rs")]:
        text = path.read_text().split("#[cfg(test)]")[0]
        names |= {n for n in lookup.findall(text) if "_" in n}
        trust = re.search(r"TRUST_OVERRIDES: \[&str; \d+\] = \[([^\]]*)\]", text)
        if trust:
            names |= set(re.findall(r'"([A-Z_]+)"', trust.group(1)))
    return names


def check(docs: dict[pathlib.Path, str]) -> list[str]:
    """Every disagreement between `docs` (path -> text) and the code, one line each."""
    problems: list[str] = []
    tpl = template.load_tagged()
    parameters = set(tpl.get("Parameters", {}))
    outputs = set(tpl.get("Outputs", {}))
    resources = set(tpl["Resources"])
    alarms = {k for k, v in tpl["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    catalogue = json.loads((ROOT / "shared" / "metrics.json").read_text())["functions"]
    metrics = {m for per in catalogue.values() for m in per}
    reasons = {r for per in catalogue.values() for rs in per.values() for r in rs if r != "*"}
    outcomes = {re.sub(r"(?<!^)([A-Z])", r"-\1", m).lower() for m in metrics}
    detail_types = {json.loads(p.read_text())["title"] for p in (ROOT / "schemas").glob("*.json")}
    callback_types = {json.loads(p.read_text())["type"]
                      for p in (ROOT / "events" / "callbacks").glob("*.json")}
    functions = set(template.functions(tpl).values())
    targets = makefile_targets()
    flags = script_flags()
    variables = read_variables()
    source_text = "\n".join(p.read_text() for p in SOURCES if p.exists())
    literals = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', source_text)) | set(
        re.findall(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b", (ROOT / "Makefile").read_text()))

    everything = "\n".join(docs.values())
    stacks = set(re.findall(r'stack_name = "([^"]+)"', (ROOT / "samconfig.toml").read_text()))
    # The values a parameter takes from a list (SmsAllowedNumberTypes: premium-rate, ...).
    setting_values = {v for p in tpl.get("Parameters", {}).values()
                      for v in re.findall(r"[a-z]+(?:-[a-z]+)+", str(p.get("AllowedPattern", "")))}
    kebab_known = (reasons | outcomes | callback_types | functions | set(targets) | OTHER_KEBAB
                   | EVENT_FIELDS | stacks | setting_values | rule_codes())
    rust_types = set(re.findall(r"pub (?:struct|enum|trait|type) ([A-Z]\w*)", source_text))
    import check_template  # noqa: E402 - the AWS metrics the template may watch
    aws_metrics = {m for _, names in check_template.AWS_METRICS.values() for m in names}
    camel_known = parameters | outputs | resources | metrics | AWS_NAMES | rust_types | aws_metrics

    for path, text in docs.items():
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        spans = inline_spans(text)
        commands = code_lines(text)
        for span in spans:
            token = span.strip()
            if re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", token):
                if token not in literals and token not in OTHER_VARIABLES and token not in AWS_NAMES:
                    problems.append(f"{where}: `{token}`: no source reads such a variable")
            elif re.fullmatch(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*", token) and token.lower() != token:
                if token not in camel_known and not re.fullmatch(r"[A-Z][a-z]+", token):
                    problems.append(f"{where}: `{token}`: no such parameter, output, resource "
                                    "or metric")
                elif re.fullmatch(r"[A-Z][a-z]+", token) and token not in camel_known:
                    problems.append(f"{where}: `{token}`: no such metric or name")
            elif re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)+", token):
                if token not in kebab_known:
                    problems.append(f"{where}: `{token}`: no such reason, outcome, callback type, "
                                    "function or make target")
            elif re.fullmatch(r"[A-Z][a-z]+(?: [A-Z][a-z]+){1,4}", token):
                if token not in detail_types and token not in SES_DETAIL_TYPES:
                    problems.append(f"{where}: `{token}`: no such event detail-type")
        for line in [s for s in spans if s.startswith("make ")] + commands:
            for target in re.findall(r"(?:^|[\s;&(])make ([a-z][a-z0-9-]*)", line):
                if target not in targets:
                    problems.append(f"{where}: `make {target}`: no such Makefile target")
        for line in spans + commands:
            for script, rest in re.findall(r"(scripts/[a-z]+/[a-z_]+\.py)((?: +[^|;&`]*)?)", line):
                if not (ROOT / script).exists():
                    problems.append(f"{where}: {script} does not exist")
                    continue
                for flag in re.findall(r"(?:^|\s)(--[a-z][a-z-]*)", rest):
                    if flag not in flags.get(script, set()):
                        problems.append(f"{where}: {script} takes no {flag}")
        for span in spans:
            for repo_path in re.findall(r"^((?:scripts|shared|functions|tests|docs|events|"
                                        r"schemas|examples|\.ci|\.cargo)/[^\s`]*)", span):
                pattern = re.sub(r"<[^>]+>", "*", repo_path.rstrip("/"))
                if not glob.glob(str(ROOT / pattern)):
                    problems.append(f"{where}: `{repo_path}` does not exist")
        for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if not re.match(r"[a-z]+:", link) and not (path.parent / link).exists():
                problems.append(f"{where}: the link ({link}) leads nowhere")

    # The other way: what exists is documented somewhere.
    def documented(name: str) -> bool:
        return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", everything) is not None

    page = {name: docs.get(ROOT / "docs" / name, "") for name in
            ("configuration.md", "contract.md", "operations.md", "events.md")}
    for name in sorted(parameters):
        if name not in page["configuration.md"]:
            problems.append(f"parameter {name} is not in docs/configuration.md")
    for name in sorted(variables):
        if name not in page["configuration.md"]:
            problems.append(f"variable {name} (read by the functions) is not in "
                            "docs/configuration.md")
    for function, per in catalogue.items():
        for metric, metric_reasons in per.items():
            if not re.search(rf"`{metric}`", page["contract.md"]):
                problems.append(f"metric {metric} ({function}) is not in docs/contract.md")
            for reason in metric_reasons:
                if reason != "*" and f"`{reason}`" not in page["contract.md"]:
                    problems.append(f"reason {reason} of {metric} ({function}) is not in "
                                    "docs/contract.md")
    for name in sorted(alarms):
        if f"`{name}`" not in page["operations.md"]:
            problems.append(f"alarm {name} has no runbook line in docs/operations.md")
    for name in sorted(outputs):
        if not documented(name):
            problems.append(f"output {name} is documented nowhere")
    for name in sorted(detail_types):
        if name not in page["events.md"]:
            problems.append(f"detail-type {name!r} is not in docs/events.md")
    for target, public in sorted(targets.items()):
        if public and f"make {target}" not in everything:
            problems.append(f"make {target} is documented nowhere")
    for script, script_flags_ in sorted(flags.items()):
        mentions = "\n".join(line for line in everything.splitlines() if script in line
                             or pathlib.Path(script).name in line)
        for flag in sorted(script_flags_):
            if flag not in mentions and flag not in everything:
                problems.append(f"{script} {flag} is documented nowhere")

    return problems


def main() -> int:
    problems = check({path: path.read_text() for path in DOCS})
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} name(s) in the docs and the code disagree")
        return 1
    print(f"the docs name what the code has ({len(DOCS)} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
