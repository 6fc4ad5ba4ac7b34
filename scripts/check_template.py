#!/usr/bin/env python3
"""Every function crate of the workspace has its function in template.yaml, built from its own
binary with cargo lambda, and no function in the template lacks a crate."""
import pathlib
import re
import sys

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parent.parent


def crates() -> set[str]:
    names = set()
    for manifest in (ROOT / "functions").glob("*/Cargo.toml"):
        if (manifest.parent / "src" / "main.rs").exists():
            match = re.search(r'^name\s*=\s*"([^"]+)"', manifest.read_text(), re.M)
            if match:
                names.add(match.group(1))
    return names


def template_functions() -> dict[str, str]:
    template, matches = decode(str(ROOT / "template.yaml"))
    if matches:
        sys.exit(f"template.yaml does not parse: {matches}")
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


def main() -> int:
    in_workspace, in_template = crates(), template_functions()
    missing = sorted(in_workspace - in_template.keys())
    orphans = sorted(in_template.keys() - in_workspace)
    for name in missing:
        print(f"functions/{name} has no function in template.yaml")
    for name in orphans:
        print(f"{in_template[name]} in template.yaml builds '{name}', which is no function crate")
    if missing or orphans:
        return 1
    print(f"template.yaml and functions/ agree: {', '.join(sorted(in_workspace))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
