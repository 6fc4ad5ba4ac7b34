"""Facts of template.yaml that the scripts and the tests' harness need, read from the template
itself so that nothing keeps a second copy of them.

  template.py table-schema [TEMPLATE]   the sessions table's create_table arguments, as JSON

The tests' harness (tests/testkit) runs this with moto's Python; local_stack.py, bench.py and
deploy_local.py import it. `environment()` resolves a function's environment variables as
CloudFormation would (Globals merged as SAM merges them, then Ref, Sub, GetAtt and If), so the
local stack runs each function with what a deployment gives it.
"""
import json
import pathlib
import re
import sys
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) read as plain values."""


def _tagged(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_Loader.add_multi_constructor("!", _tagged)


def load(path: pathlib.Path = TEMPLATE) -> dict:
    return yaml.load(path.read_text(), Loader=_Loader)


class _TaggedLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags read as their long forms ({"Ref": ...})."""


def _long_form(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_TaggedLoader.add_multi_constructor("!", _long_form)


def load_tagged(path: pathlib.Path = TEMPLATE) -> dict:
    return parse_tagged(path.read_text())


def parse_tagged(text: str) -> dict:
    """A template's text (YAML or JSON) with short tags in their long forms."""
    return yaml.load(text, Loader=_TaggedLoader)


def samconfig_deploy(env: str, path: pathlib.Path = ROOT / "samconfig.toml") -> dict:
    """samconfig.toml's deploy settings of environment `env`."""
    return tomllib.loads(path.read_text()).get(env, {}).get("deploy", {}).get("parameters", {})


def samconfig_stack_name(env: str) -> str:
    return samconfig_deploy(env)["stack_name"]


def samconfig_parameters(env: str) -> dict:
    """The parameter overrides of samconfig.toml's `env` environment, as a dict."""
    overrides = samconfig_deploy(env).get("parameter_overrides", [])
    if isinstance(overrides, str):
        overrides = overrides.split()
    return dict(item.split("=", 1) for item in overrides)


class Resolver:
    """CloudFormation's intrinsic functions over one template, given the parameter values and
    each resource's physical id (what `Ref` returns) and attributes (what `GetAtt` returns)."""

    def __init__(self, template: dict, parameters: dict, refs: dict, attributes: dict,
                 pseudo: dict):
        declared = template.get("Parameters", {})
        unknown = set(parameters) - set(declared)
        if unknown:
            raise ValueError(f"parameters the template does not declare: {sorted(unknown)}")
        self.values = {name: str(parameters.get(name, spec.get("Default", "")))
                       for name, spec in declared.items()}
        missing = [n for n, spec in declared.items() if n not in parameters and "Default" not in spec]
        if missing:
            raise ValueError(f"parameters without a value: {missing}")
        self.refs = {**refs, **pseudo}
        self.attributes = attributes
        self.conditions = template.get("Conditions", {})

    def ref(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        if name in self.refs:
            return self.refs[name]
        raise KeyError(f"Ref {name}: no such parameter or known resource")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.conditions[name]))

    def resolve(self, value):
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            # Lambda's environment holds strings: CloudFormation turns numbers into them.
            return str(value).lower() if isinstance(value, bool) else str(value)
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        (key, arg), = value.items()
        if key == "Ref":
            return self.ref(arg)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::GetAtt":
            return self.attributes[tuple(arg)]
        if key == "Fn::Sub":
            text, local = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

            def one(match):
                name = match.group(1)
                if name in local:
                    return local[name]
                if "." in name:
                    return self.attributes[tuple(name.split(".", 1))]
                return self.ref(name)

            return re.sub(r"\$\{([^}!]+)\}", one, text)
        if key == "Fn::Join":
            return arg[0].join(self.resolve(arg[1]))
        if key == "Fn::Split":
            return self.resolve(arg[1]).split(arg[0])
        if key == "Fn::Select":
            return self.resolve(arg[1])[int(self.resolve(arg[0]))]
        if key == "Fn::If":
            return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Equals":
            left, right = self.resolve(arg)
            return left == right
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(arg))
        if key == "Fn::Or":
            return any(self.resolve(arg))
        return {key: self.resolve(arg)}


def functions(template: dict, resolver: "Resolver | None" = None) -> dict:
    """Each function's logical id and the binary it runs (its BuildProperties.Binary); with
    `resolver`, only those whose Condition holds."""
    return {name: resource["Metadata"]["BuildProperties"]["Binary"]
            for name, resource in template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"
            and (resolver is None or "Condition" not in resource
                 or resolver.condition(resource["Condition"]))}


def environment(template: dict, function: str, resolver: Resolver) -> dict:
    """`function`'s environment variables as a deployment gives them: the Globals' merged
    with its own (its own win, as SAM merges maps), every value resolved."""
    globals_ = (template.get("Globals", {}).get("Function", {}).get("Environment", {})
                .get("Variables", {}))
    own = (template["Resources"][function]["Properties"].get("Environment", {})
           .get("Variables", {}))
    return {name: resolver.resolve(value) for name, value in {**globals_, **own}.items()}


def _with_every_option(value):
    """A value with each `Fn::If` taken on its true side: the table as a deployment with every
    option (reconcile's index included) has it."""
    if isinstance(value, list):
        return [_with_every_option(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            return _with_every_option(value["Fn::If"][1])
        return {k: _with_every_option(v) for k, v in value.items()}
    return value


def table_schema(path: pathlib.Path = TEMPLATE) -> dict:
    """create_table's arguments (but the name) for the template's SessionsTable, with every
    option's index (the tests and local stacks run reconcile)."""
    props = _with_every_option(load_tagged(path)["Resources"]["SessionsTable"]["Properties"])
    schema = {
        "BillingMode": props["BillingMode"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
    }
    if "GlobalSecondaryIndexes" in props:
        schema["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "StreamSpecification" in props:
        schema["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return schema


def create_sessions_table(dynamodb, name: str) -> None:
    """Creates `name` as the template defines SessionsTable, with its TTL attribute."""
    dynamodb.create_table(TableName=name, **table_schema())
    props = load()["Resources"]["SessionsTable"]["Properties"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "table-schema":
        sys.exit(__doc__)
    path = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else TEMPLATE
    print(json.dumps(table_schema(path)))
