#!/usr/bin/env python3
"""Every function crate of the workspace has its function in template.yaml, built from its own
binary with cargo lambda, and no function in the template lacks a crate. Every family (each
function but the ingress) is retried the same number of times and then dead-lettered to the
DeadLetterQueue, which tests/e2e/tests/faults.rs relies on; a function fed by the table's stream
dead-letters its failed batches there too."""
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


def main() -> int:
    template = load_template()
    in_workspace, in_template = crates(), template_functions(template)
    missing = sorted(in_workspace - in_template.keys())
    orphans = sorted(in_template.keys() - in_workspace)
    for name in missing:
        print(f"functions/{name} has no function in template.yaml")
    for name in orphans:
        print(f"{in_template[name]} in template.yaml builds '{name}', which is no function crate")
    problems = dead_letter_problems(template) + version_problems(template)
    for problem in problems:
        print(problem)
    if missing or orphans or problems:
        return 1
    print(f"template.yaml and functions/ agree: {', '.join(sorted(in_workspace))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
