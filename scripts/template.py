"""Facts of template.yaml that the scripts and the tests' harness need, read from the template
itself so that nothing keeps a second copy of them.

  template.py table-schema [TEMPLATE]   the sessions table's create_table arguments, as JSON

The tests' harness (tests/testkit) runs this with moto's Python; local_stack.py and bench.py
import it.
"""
import json
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
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


def table_schema(path: pathlib.Path = TEMPLATE) -> dict:
    """create_table's arguments (but the name) for the template's SessionsTable."""
    props = load(path)["Resources"]["SessionsTable"]["Properties"]
    schema = {
        "BillingMode": props["BillingMode"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
    }
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
