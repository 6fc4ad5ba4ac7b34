#!/usr/bin/env python3
"""Every function crate of the workspace has its function in template.yaml, built from its own
binary with cargo lambda, and no function in the template lacks a crate. Every family (each
function but the ingress) is retried the same number of times and then dead-lettered to the
DeadLetterQueue, which tests/e2e/tests/faults.rs relies on; a function fed by the table's stream
dead-letters its failed batches there too. The stack reports the workspace's version.

And what AWS decides but moto lets pass: every alarm can reach its topic (a customer managed
key and a topic policy that admit CloudWatch), every metric an alarm watches or the dashboard
shows is one the code or AWS emits, every writer of the dead-letter queue may use its key, and
no delivery claim is shorter than its function's timeout. Without a company key nothing of
reconcile exists and the table is as before (an upgrade changes nothing else)."""
import pathlib
import re
import sys

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]


def crates() -> set[str]:
    names = set()
    for manifest in (ROOT / "functions").glob("*/Cargo.toml"):
        if (manifest.parent / "src" / "main.rs").exists():
            match = re.search(r'^name\s*=\s*"([^"]+)"', manifest.read_text(), re.M)
            if match:
                names.add(match.group(1))
    return names


def load_template() -> dict:
    template, matches = decode(str(ROOT / "template.yaml"))
    if matches:
        sys.exit(f"template.yaml does not parse: {matches}")
    return template


def dead_letter_problems(template: dict) -> list[str]:
    problems, retries = [], set()
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        if resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary") == "ingress":
            continue
        streams = [e for e in resource["Properties"].get("Events", {}).values()
                   if e.get("Type") == "DynamoDB"]
        if streams:
            for event in streams:
                on_failure = event["Properties"].get("DestinationConfig", {}).get("OnFailure", {})
                if on_failure.get("Destination") != {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}:
                    problems.append(f"{logical_id}'s stream batches do not fail to DeadLetterQueue")
            continue
        config = resource["Properties"].get("EventInvokeConfig", {})
        retries.add(config.get("MaximumRetryAttempts"))
        on_failure = config.get("DestinationConfig", {}).get("OnFailure", {})
        if on_failure.get("Type") != "SQS" or on_failure.get("Destination") != {
            "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
        }:
            problems.append(f"{logical_id} does not send failed envelopes to DeadLetterQueue")
    if len(retries) != 1 or None in retries:
        problems.append(f"the families' MaximumRetryAttempts differ or are missing: {retries}")
    return problems


def template_functions(template: dict) -> dict[str, str]:
    functions = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        metadata = resource.get("Metadata", {})
        if metadata.get("BuildMethod") != "rust-cargolambda":
            sys.exit(f"{logical_id}: Metadata.BuildMethod must be rust-cargolambda")
        binary = metadata.get("BuildProperties", {}).get("Binary")
        if not binary:
            sys.exit(f"{logical_id}: Metadata.BuildProperties.Binary names no crate")
        functions[binary] = logical_id
    return functions


def version_problems(template: dict) -> list[str]:
    """The stack reports the workspace's version, and the changelog's newest release is it."""
    import tomllib

    version = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    problems = []
    output = template.get("Outputs", {}).get("Version", {}).get("Value")
    if output != version:
        problems.append(f"template.yaml's Version output is {output!r}, Cargo.toml's version {version!r}")
    released = re.findall(r"^## (\d+\.\d+\.\d+)", (ROOT / "CHANGELOG.md").read_text(), re.M)
    if not released or released[0] != version:
        problems.append(f"CHANGELOG.md's newest release is {released[:1]}, Cargo.toml's version {version!r}")
    return problems


# ---------------------------------------------------------------- AWS's rules moto does not check

OUR_NAMESPACE = {"Fn::Sub": "IdentomatCallbacks/${AWS::StackName}"}
# The dimensions AWS's own metrics are published with, by namespace (SQS, Lambda and HTTP API
# metric pages of the CloudWatch docs), and the metrics this template may use of each.
AWS_METRICS = {
    "AWS/SQS": ({"QueueName"}, {"ApproximateNumberOfMessagesVisible", "NumberOfMessagesSent",
                                "ApproximateAgeOfOldestMessage"}),
    "AWS/Lambda": ({"FunctionName"}, {"Errors", "Throttles", "Duration", "IteratorAge",
                                      "Invocations", "ConcurrentExecutions"}),
    "AWS/ApiGateway": ({"ApiId", "Stage"}, {"4xx", "5xx", "Count", "Latency",
                                            "IntegrationLatency"}),
    # The account's reputation, without dimensions (SES developer guide, "Creating reputation
    # monitoring alarms using CloudWatch").
    "AWS/SES": (set(), {"Reputation.BounceRate", "Reputation.ComplaintRate"}),
}


def catalogue() -> dict:
    import json

    return json.loads((ROOT / "shared" / "metrics.json").read_text())["functions"]


def resources_of(template: dict, kind: str) -> dict:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == kind}


def referenced(value) -> str | None:
    """The logical id a Ref or GetAtt names."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else target.split(".")[0]
    return None


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


def statements(document: dict) -> list[dict]:
    return listed(document.get("Statement", []))


def allows(statement: dict, principal_service: str | None, actions: set[str]) -> bool:
    """An Allow statement for `principal_service` (any principal when None) that grants every
    one of `actions` (a trailing * in the statement's action counts)."""
    if statement.get("Effect") != "Allow":
        return False
    if principal_service is not None:
        services = listed(statement.get("Principal", {}).get("Service", []))
        if principal_service not in services:
            return False
    granted = listed(statement.get("Action", []))

    def covered(action: str) -> bool:
        return any(g == action or g == "*" or (g.endswith("*") and action.startswith(g[:-1]))
                   for g in granted)

    return all(covered(a) for a in actions)


def function_statements(template: dict, function: dict) -> list[dict]:
    """Every statement of a function's role as its `Policies` give them: inline statements,
    and those of a managed policy of the stack it names."""
    managed = resources_of(template, "AWS::IAM::ManagedPolicy")
    found = []
    for entry in function["Properties"].get("Policies", []):
        if referenced(entry) in managed:
            found += statements(managed[referenced(entry)]["Properties"]["PolicyDocument"])
        elif isinstance(entry, dict):
            found += statements(entry)
    return found


def this_account_only(statement: dict) -> bool:
    conditions = statement.get("Condition", {})
    return any("aws:SourceAccount" in block for block in conditions.values())


def alarm_topic_problems(template: dict) -> list[str]:
    """Every alarm action is a topic of this stack that CloudWatch can publish to: encrypted
    with a customer managed key whose policy lets cloudwatch.amazonaws.com use it, and a topic
    policy that lets it publish, both for this account only. The AWS managed key alias/aws/sns
    cannot: its policy admits no service, and cannot be edited."""
    problems = []
    topics = resources_of(template, "AWS::SNS::Topic")
    keys = resources_of(template, "AWS::KMS::Key")
    topic_policies = resources_of(template, "AWS::SNS::TopicPolicy").values()
    for name, alarm in resources_of(template, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        actions = [*props.get("AlarmActions", []), *props.get("OKActions", []),
                   *props.get("InsufficientDataActions", [])]
        if not actions:
            problems.append(f"{name} notifies no one")
        for action in actions:
            topic = referenced(action)
            if topic not in topics:
                problems.append(f"{name}: its action {action} is no topic of this stack")
                continue
            key = topics[topic].get("Properties", {}).get("KmsMasterKeyId")
            if isinstance(key, str) and key.startswith("alias/aws/"):
                problems.append(f"{name}: {topic} is encrypted with the AWS managed key {key}, "
                                "which CloudWatch alarms cannot use")
            elif key is not None:
                key_id = referenced(key)
                policy = keys.get(key_id, {}).get("Properties", {}).get("KeyPolicy", {})
                if not any(allows(s, "cloudwatch.amazonaws.com",
                                  {"kms:Decrypt", "kms:GenerateDataKey"})
                           and this_account_only(s) for s in statements(policy)):
                    problems.append(f"{name}: the key of {topic} ({key_id}) does not let "
                                    "cloudwatch.amazonaws.com of this account use it")
            admitted = any(
                {"Ref": topic} in listed(p["Properties"].get("Topics", []))
                and any(allows(s, "cloudwatch.amazonaws.com", {"sns:Publish"})
                        and this_account_only(s)
                        for s in statements(p["Properties"].get("PolicyDocument", {})))
                for p in topic_policies)
            if not admitted:
                problems.append(f"{name}: no policy of {topic} lets cloudwatch.amazonaws.com of "
                                "this account publish")
    return sorted(set(problems))


def metric_problem(where: str, namespace, metric: str, dimensions: dict, known: dict) -> list[str]:
    """A metric an alarm watches or the dashboard shows, against what the code emits (ours)
    or what AWS publishes (theirs)."""
    if namespace == OUR_NAMESPACE or namespace == "IdentomatCallbacks/${AWS::StackName}":
        function, reason = dimensions.get("function"), dimensions.get("reason")
        if set(dimensions) not in ({"function"}, {"function", "reason"}):
            return [f"{where}: {metric} by {sorted(dimensions)}: the code counts by function, "
                    "and by function and reason"]
        emitted = known.get(function, {})
        if metric not in emitted:
            return [f"{where}: the {function} function emits no {metric} (shared/metrics.json)"]
        if reason is not None and reason not in emitted[metric] and "*" not in emitted[metric]:
            return [f"{where}: {function}'s {metric} has no reason {reason}"]
        return []
    if namespace not in AWS_METRICS:
        return [f"{where}: {metric} in namespace {namespace}, which nothing here publishes"]
    names, metrics = AWS_METRICS[namespace]
    if metric not in metrics or set(dimensions) != names:
        return [f"{where}: {namespace} publishes no {metric} by {sorted(dimensions)}"]
    return []


def alarm_metrics(alarm: dict) -> list[tuple]:
    props = alarm["Properties"]
    found = []
    if "MetricName" in props:
        found.append((props.get("Namespace"), props["MetricName"],
                      {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}))
    for query in props.get("Metrics", []):
        metric = query.get("MetricStat", {}).get("Metric")
        if metric:
            found.append((metric.get("Namespace"), metric["MetricName"],
                          {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}))
    return found


def dashboard_metrics(template: dict) -> list[tuple]:
    """Every metric row of every dashboard's widgets: (namespace, name, dimensions)."""
    import json

    found = []
    for name, dashboard in resources_of(template, "AWS::CloudWatch::Dashboard").items():
        body = dashboard["Properties"]["DashboardBody"]
        text = body["Fn::Sub"] if isinstance(body, dict) else body
        text = text[0] if isinstance(text, list) else text
        # Numbers substituted in unquoted; everything else is inside strings.
        text = re.sub(r"(?<![\"\w/])\$\{[^}]+\}", "0", text)
        for widget in json.loads(text)["widgets"]:
            for row in widget.get("properties", {}).get("metrics", []):
                values = [v for v in row if not isinstance(v, dict)]
                if not values:
                    continue  # a metric math expression over the rows that follow
                namespace, metric, pairs = values[0], values[1], values[2:]
                found.append((name, namespace, metric, dict(zip(pairs[::2], pairs[1::2]))))
    return found


def metric_problems(template: dict) -> list[str]:
    known = catalogue()
    problems = []
    for name, alarm in resources_of(template, "AWS::CloudWatch::Alarm").items():
        for namespace, metric, dimensions in alarm_metrics(alarm):
            problems += metric_problem(name, namespace, metric, dimensions, known)
    shown = dashboard_metrics(template)
    if not shown:
        problems.append("no dashboard shows any metric")
    for name, namespace, metric, dimensions in shown:
        problems += metric_problem(name, namespace, metric, dimensions, known)
    # The reasons a message is held back: each one on the dashboard.
    for function in ("sms", "email"):
        for reason in known[function].get("Suppressed", []):
            if not any(m == "Suppressed" and d == {"function": function, "reason": reason}
                       for _, _, m, d in shown):
                problems.append(f"the dashboard does not show {function}'s Suppressed {reason}")
    return problems


def dead_letter_writer_problems(template: dict) -> list[str]:
    """The dead-letter queue is under a customer managed key, and every function whose failures
    Lambda writes there may use that key: Lambda writes with the function's own role, and
    without kms:GenerateDataKey and kms:Decrypt the failure record is lost."""
    problems = []
    queues = resources_of(template, "AWS::SQS::Queue")
    for name, function in resources_of(template, "AWS::Serverless::Function").items():
        props = function["Properties"]
        destinations = [props.get("EventInvokeConfig", {}).get("DestinationConfig", {})]
        destinations += [e["Properties"].get("DestinationConfig", {})
                         for e in props.get("Events", {}).values()]
        for destination in destinations:
            queue = referenced(destination.get("OnFailure", {}).get("Destination"))
            if queue not in queues:
                continue
            key = queues[queue]["Properties"].get("KmsMasterKeyId")
            key_id = referenced(key)
            if key_id is None:
                problems.append(f"{queue} is not under a customer managed key")
                continue
            granted = any(
                allows(s, None, {"kms:GenerateDataKey", "kms:Decrypt"})
                and referenced(s.get("Resource")) == key_id
                for s in function_statements(template, function))
            if not granted:
                problems.append(f"{name} writes its failures to {queue} but its role may not "
                                f"use {key_id} (kms:GenerateDataKey and kms:Decrypt)")
    return sorted(set(problems))


def lease_problems(template: dict) -> list[str]:
    """A delivery's claim outlasts the function's timeout, or a second attempt could take over
    a claim whose first is still sending."""
    problems = []
    for name, function in resources_of(template, "AWS::Serverless::Function").items():
        props = function["Properties"]
        lease = props.get("Environment", {}).get("Variables", {}).get("CLAIM_LEASE_SECONDS")
        if lease is not None and int(lease) < int(props.get("Timeout", 3)):
            problems.append(f"{name}: CLAIM_LEASE_SECONDS {lease} is shorter than its Timeout")
    return problems


def filter_problems(template: dict) -> list[str]:
    """An event source mapping takes 5 filters, 10 only after a quota increase (Lambda's
    "Control which events Lambda sends to your function"); moto and the local mapping take
    any number."""
    problems = []
    for name, function in resources_of(template, "AWS::Serverless::Function").items():
        for event_name, event in (function["Properties"].get("Events") or {}).items():
            filters = ((event.get("Properties") or {}).get("FilterCriteria") or {}).get("Filters")
            if filters and len(filters) > 5:
                problems.append(f"{name}.{event_name}: {len(filters)} filters, Lambda takes 5")
    return problems


# What only a company key creates (IdentomatCompanyKey): without one, none of it exists, and the
# table keeps its two key attributes and no index, so an upgrade changes nothing else.
RECONCILE_ONLY = {"IdentomatKeySecret", "ReconcileFunction", "ReconcileLogGroup"}


def names_used(value) -> set[str]:
    """The resources and parameters a value refers to: Ref, GetAtt and Sub's ${...}."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
            found |= names_used(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= names_used(inner)
    return found


def without_condition(value, condition: str):
    """`value` as CloudFormation reads it when `condition` is false: each Fn::If on it takes
    its second branch, and AWS::NoValue drops the property."""
    if isinstance(value, list):
        return [without_condition(v, condition) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Fn::If"} and value["Fn::If"][0] == condition:
            return without_condition(value["Fn::If"][2], condition)
        return {k: without_condition(v, condition) for k, v in value.items()
                if without_condition(v, condition) != {"Ref": "AWS::NoValue"}}
    return value


def optional_problems(template: dict) -> list[str]:
    problems = []
    condition = template.get("Conditions", {}).get("Reconcile")
    if condition != {"Fn::Not": [{"Fn::Equals": [{"Ref": "IdentomatCompanyKey"}, ""]}]}:
        problems.append("the Reconcile condition is not 'IdentomatCompanyKey is set'")
    sections = [("resource", template.get("Resources", {})), ("output", template.get("Outputs", {}))]
    for kind, entries in sections:
        for name, entry in entries.items():
            uses = names_used(entry) & RECONCILE_ONLY
            if (name in RECONCILE_ONLY or uses) and entry.get("Condition") != "Reconcile":
                problems.append(f"{kind} {name} exists without a company key"
                                + (f" (it uses {', '.join(sorted(uses))})" if uses else ""))
    table = without_condition(template["Resources"]["SessionsTable"]["Properties"], "Reconcile")
    attributes = [a.get("AttributeName") for a in table.get("AttributeDefinitions", [])]
    indexes = [i.get("IndexName") for i in table.get("GlobalSecondaryIndexes", [])]
    if attributes != ["sessionId", "record", "providerMessageId"] or indexes != ["delivery-message"]:
        problems.append(f"without a company key the table has {attributes} and the index(es) "
                        f"{indexes}, not delivery-message alone: an upgrade would change it")
    return problems


def bus_problems(template: dict) -> list[str]:
    """Each event bus of the stack is under a customer managed key of the stack whose policy
    lets events.amazonaws.com of this account use it for that bus (the encryption context is
    the bus's ARN) and describe it (EventBridge user guide, "Authorizing EventBridge to use a
    customer managed key"); without both, every PutEvents fails."""
    problems = []
    keys = resources_of(template, "AWS::KMS::Key")
    for name, bus in resources_of(template, "AWS::Events::EventBus").items():
        props = bus.get("Properties", {})
        key = referenced(props.get("KmsKeyIdentifier"))
        if key not in keys:
            problems.append(f"{name} is not under a customer managed key of the stack")
            continue
        bus_name = props.get("Name", {})
        bus_name = bus_name.get("Fn::Sub") if isinstance(bus_name, dict) else bus_name
        arn = ("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/"
               f"{bus_name}")
        policy = statements(keys[key]["Properties"].get("KeyPolicy", {}))

        def context(statement: dict) -> str | None:
            value = statement.get("Condition", {}).get("StringEquals", {}).get(
                "kms:EncryptionContext:aws:events:event-bus:arn")
            return value.get("Fn::Sub") if isinstance(value, dict) else value

        if not any(allows(s, "events.amazonaws.com", {"kms:GenerateDataKey", "kms:Decrypt"})
                   and this_account_only(s) and context(s) == arn for s in policy):
            problems.append(f"{name}: {key}'s policy does not let events.amazonaws.com of this "
                            f"account encrypt for {arn}")
        if not any(allows(s, "events.amazonaws.com", {"kms:DescribeKey"}) and this_account_only(s)
                   for s in policy):
            problems.append(f"{name}: {key}'s policy does not let events.amazonaws.com describe it")
    return problems


# The functions that count messages in the rate-limit windows and budgets (`ratelimit#...`).
SENDERS = {"SmsFunction", "EmailFunction"}


def limit_window_problems(template: dict) -> list[str]:
    """Every function but the senders that may use the sessions table is denied its
    `ratelimit#...` items (`dynamodb:LeadingKeys`) and every table operation it is not
    granted; the senders are denied neither."""
    problems = []
    table = {"Fn::GetAtt": ["SessionsTable", "Arn"]}
    for name, function in resources_of(template, "AWS::Serverless::Function").items():
        policy = function_statements(template, function)
        granted = {a for s in policy if s.get("Effect") == "Allow"
                   for a in listed(s.get("Action", [])) if a.startswith("dynamodb:")}
        if not granted:
            continue
        denies_windows = any(
            s.get("Effect") == "Deny" and "dynamodb:*" in listed(s.get("Action", []))
            and s.get("Resource") == table
            and "ratelimit#*" in listed(s.get("Condition", {}).get("ForAnyValue:StringLike", {})
                                        .get("dynamodb:LeadingKeys", []))
            for s in policy)
        others = [s for s in policy if s.get("Effect") == "Deny" and "NotAction" in s]
        if name in SENDERS:
            if denies_windows:
                problems.append(f"{name} counts the limits, yet is denied ratelimit#")
            continue
        if not denies_windows:
            problems.append(f"{name} may write the rate-limit windows (no Deny on "
                            "dynamodb:LeadingKeys ratelimit#*)")
        if not any(granted <= set(listed(s["NotAction"])) and table in listed(s.get("Resource"))
                   for s in others):
            problems.append(f"{name} is not denied the table operations it is not granted")
    return problems


def aws_rule_problems(template: dict) -> list[str]:
    return (alarm_topic_problems(template) + metric_problems(template)
            + dead_letter_writer_problems(template) + lease_problems(template)
            + filter_problems(template) + optional_problems(template) + bus_problems(template)
            + limit_window_problems(template))


def main() -> int:
    template = load_template()
    in_workspace, in_template = crates(), template_functions(template)
    missing = sorted(in_workspace - in_template.keys())
    orphans = sorted(in_template.keys() - in_workspace)
    for name in missing:
        print(f"functions/{name} has no function in template.yaml")
    for name in orphans:
        print(f"{in_template[name]} in template.yaml builds '{name}', which is no function crate")
    problems = (dead_letter_problems(template) + version_problems(template)
                + aws_rule_problems(template))
    for problem in problems:
        print(problem)
    if missing or orphans or problems:
        return 1
    print(f"template.yaml and functions/ agree: {', '.join(sorted(in_workspace))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
