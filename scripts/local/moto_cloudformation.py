"""What moto's CloudFormation lacks for this project's template, added to the moto server that
`make deploy-local` deploys into (moto_server.py --cloudformation). Each with the service's own
moto backend, so that the stack moto holds is the one CloudFormation would build:

- the `AWS::Serverless-2016-10-31` transform, which CloudFormation applies on the server and
  moto 5.2 does not (every `AWS::Serverless::*` resource was skipped with a warning);
- `AWS::SecretsManager::Secret`, `AWS::Lambda::EventInvokeConfig`, `AWS::CloudWatch::Alarm`,
  `AWS::SNS::TopicPolicy`, `AWS::SQS::QueuePolicy`, `AWS::SES::ConfigurationSet`,
  `AWS::SES::ConfigurationSetEventDestination` and `AWS::Logs::SubscriptionFilter`, which it
  does not create, and a role's `ManagedPolicyArns`, which it does not attach;
- a stack's outputs after a change set (what `sam deploy` uses), which it dropped;
- on an update, the resources whose parameters reach them through `Fn::Sub` (it followed `Ref`
  only, so a rotation never rewrote the secret);
- `Ref` of an `AWS::Events::EventBus`, which resolved to a Python object, and its
  `KmsKeyIdentifier`, which it dropped;
- `Fn::FindInMap` keyed by a Number parameter, which it looked up as an int and failed;
- an `AWS::KMS::Key`'s policy, which it kept as an object its own DescribeKey could not read;
- and, to keep moto's own Lambda (Docker) out of the local one's way: /moto-api/data.json
  failing once a function exists, and moto invoking a stream's function inside table writes.

Still not created (moto logs a warning for each): the HTTP API (`AWS::ApiGatewayV2::*`: the
local Callback URL stands in for it).
"""
import json
import re

from moto.cloudformation import models as cfn_models
from moto.core.common_models import CloudFormationModel

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


def _transformed(template: dict, parameters: dict, region: str) -> dict:
    """The template as CloudFormation runs it: the SAM transform applied with the stack's
    parameter values, as the service does before it creates anything."""
    transforms = template.get("Transform")
    if transforms != SAM_TRANSFORM and SAM_TRANSFORM not in (transforms or []):
        return template
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # The template names no managed policy by name (only SAM's policy templates and
    # statements), so there is nothing to look up in IAM.
    translator = Translator({}, Parser(), boto_session=boto3.session.Session(region_name=region))
    values = {"AWS::Region": region, "AWS::Partition": "aws", **parameters}
    translated = translator.translate(template, parameter_values=values,
                                      get_managed_policy_map=lambda: {})
    return json.loads(json.dumps(translated))


def _install_transform() -> None:
    parse = cfn_models.ChangeSet._parse_template

    def parse_and_transform(self) -> None:
        parse(self)
        self.template_dict = _transformed(
            self.template_dict, dict(self.parameters or {}), self.stack.region_name
        )

    cfn_models.ChangeSet._parse_template = parse_and_transform

    execute = cfn_models.CloudFormationBackend.execute_change_set

    def execute_and_keep_outputs(self, change_set_name: str, stack_name: str | None = None):
        change_set = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None
        )
        execute(self, change_set_name, stack_name)
        if change_set is not None:
            # moto's change set leaves the stack's template (and so its outputs) as it was.
            stack = self.stacks[change_set.stack_id]
            stack.template_dict = change_set.template_dict
            stack.output_map = stack._create_output_map()

    cfn_models.CloudFormationBackend.execute_change_set = execute_and_keep_outputs


def _install_sub_references() -> None:
    """An update changes a resource whose parameters changed; moto finds the parameters a
    resource uses through `Ref` only, so a secret written with `Fn::Sub` from the key
    parameters was never updated by a rotation. `${Name}` in a Sub counts too."""
    from moto.cloudformation import parsing

    def references(template) -> list[str]:
        # moto's own walk calls this module attribute recursively: one walk of our own.
        found: list[str] = []
        pending = [template]
        while pending:
            node = pending.pop()
            if isinstance(node, dict):
                if isinstance(node.get("Ref"), str):
                    found.append(node["Ref"])
                sub = node.get("Fn::Sub")
                text = sub[0] if isinstance(sub, list) and sub else sub
                if isinstance(text, str):
                    found += re.findall(r"\$\{([^}!.]+)\}", text)
                pending += node.values()
            elif isinstance(node, list):
                pending += node
        return found

    parsing.get_references_from_template = references


class Secret(CloudFormationModel):
    """AWS::SecretsManager::Secret: `Ref` is the ARN; a changed `SecretString` is a new
    version, as CloudFormation writes it."""

    # moto files each model under the service its module names.
    __module__ = "moto.secretsmanager.cloudformation"

    def __init__(self, arn: str, name: str):
        self.arn = arn
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @staticmethod
    def _backend(account_id: str, region_name: str):
        from moto.secretsmanager.models import secretsmanager_backends

        return secretsmanager_backends[account_id][region_name]

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs) -> "Secret":
        properties = cloudformation_json.get("Properties", {})
        created = json.loads(cls._backend(account_id, region_name).create_secret(
            name=resource_name, secret_string=properties.get("SecretString"),
            secret_binary=None, description=properties.get("Description"), tags=[],
            kms_key_id=properties.get("KmsKeyId"), client_request_token=None,
            replica_regions=[], force_overwrite=False,
        ))
        return cls(created["ARN"], created["Name"])

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name) -> "Secret":
        properties = cloudformation_json.get("Properties", {})
        cls._backend(account_id, region_name).put_secret_value(
            secret_id=original_resource.arn, secret_string=properties.get("SecretString"),
            secret_binary=None, client_request_token=None, version_stages=["AWSCURRENT"],
        )
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name) -> None:
        cls._backend(account_id, region_name).delete_secret(
            secret_id=resource_name, recovery_window_in_days=None,
            force_delete_without_recovery=True,
        )


class EventInvokeConfig(CloudFormationModel):
    """AWS::Lambda::EventInvokeConfig: retries, event age and the failure destination of a
    function's asynchronous invocations."""

    __module__ = "moto.awslambda.cloudformation"

    def __init__(self, function_name: str, qualifier: str):
        self.function_name = function_name
        self.qualifier = qualifier

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @property
    def physical_resource_id(self) -> str:
        return f"{self.function_name}:{self.qualifier}"

    @staticmethod
    def _put(properties: dict, account_id: str, region_name: str) -> "EventInvokeConfig":
        from moto.awslambda.models import lambda_backends

        config = {k: properties[k] for k in
                  ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
                  if k in properties}
        name = properties["FunctionName"]
        lambda_backends[account_id][region_name].put_function_event_invoke_config(name, config)
        return EventInvokeConfig(name, properties.get("Qualifier", "$LATEST"))

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs) -> "EventInvokeConfig":
        return cls._put(cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        return cls._put(cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name) -> None:
        from moto.awslambda.models import lambda_backends

        function_name = re.sub(r":[^:]*$", "", resource_name)
        try:
            lambda_backends[account_id][region_name].delete_function_event_invoke_config(
                function_name)
        except Exception:  # noqa: BLE001 - the function went first: nothing is left to delete
            pass


class Alarm(CloudFormationModel):
    """AWS::CloudWatch::Alarm: `Ref` is the alarm's name; a metric alarm or a metric math one,
    with its actions, as CloudWatch holds it."""

    __module__ = "moto.cloudwatch.cloudformation"

    def __init__(self, name: str):
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def _put(name: str, properties: dict, account_id: str, region_name: str) -> "Alarm":
        from moto.cloudwatch.models import (
            Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends)

        # A dimension naming what moto does not create (the HTTP API's id) resolved to nothing.
        missing = "(not created locally)"
        queries = None
        if properties.get("Metrics"):
            queries = []
            for query in properties["Metrics"]:
                stat = query.get("MetricStat")
                metric_stat = None
                if stat:
                    metric = stat["Metric"]
                    dimensions = [Dimension(d["Name"], d.get("Value", missing))
                                  for d in metric.get("Dimensions", [])]
                    metric_stat = MetricStat(
                        Metric(metric["MetricName"], metric.get("Namespace"), dimensions),
                        str(stat.get("Period")), stat.get("Stat"), stat.get("Unit"))
                queries.append(MetricDataQuery(
                    query["Id"], query.get("Label"), query.get("Period"),
                    str(query.get("ReturnData", True)).lower(), query.get("Expression"),
                    metric_stat))
        dimensions = [{"Name": d["Name"], "Value": d.get("Value", missing)}
                      for d in properties.get("Dimensions", [])]
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name, namespace=properties.get("Namespace"),
            metric_name=properties.get("MetricName"), metric_data_queries=queries,
            comparison_operator=properties["ComparisonOperator"],
            evaluation_periods=int(properties["EvaluationPeriods"]),
            period=properties.get("Period"),
            threshold=float(properties["Threshold"]) if "Threshold" in properties else None,
            statistic=properties.get("Statistic"), description=properties.get("AlarmDescription"),
            dimensions=dimensions,
            alarm_actions=properties.get("AlarmActions", []),
            ok_actions=properties.get("OKActions", []),
            insufficient_data_actions=properties.get("InsufficientDataActions", []),
            treat_missing_data=properties.get("TreatMissingData"),
            threshold_metric_id=properties.get("ThresholdMetricId"))
        return Alarm(name)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs) -> "Alarm":
        properties = cloudformation_json["Properties"]
        return cls._put(properties.get("AlarmName", resource_name), properties, account_id,
                        region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name) -> "Alarm":
        return cls._put(original_resource.name, cloudformation_json["Properties"], account_id,
                        region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])


class TopicPolicy(CloudFormationModel):
    """AWS::SNS::TopicPolicy: the policy of each topic it names."""

    __module__ = "moto.sns.cloudformation"

    def __init__(self, topics: list[str]):
        self.topics = topics

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @property
    def physical_resource_id(self) -> str:
        return ",".join(self.topics)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs) -> "TopicPolicy":
        from moto.sns.models import sns_backends

        properties = cloudformation_json["Properties"]
        for topic in properties["Topics"]:
            sns_backends[account_id][region_name].set_topic_attribute(
                topic, "policy", json.dumps(properties["PolicyDocument"]))
        return cls(list(properties["Topics"]))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name) -> None:
        return None


class ConfigurationSet(CloudFormationModel):
    """AWS::SES::ConfigurationSet: `Ref` is its name (CloudFormation's own when none is
    given). moto's SES keeps the name only; the options are the template's to check."""

    __module__ = "moto.ses.cloudformation"

    def __init__(self, name: str):
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SES::ConfigurationSet"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs) -> "ConfigurationSet":
        from moto.ses.models import ses_backends

        name = cloudformation_json.get("Properties", {}).get("Name") or resource_name
        ses_backends[account_id][region_name].create_configuration_set(name)
        return cls(name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name) -> None:
        from moto.ses.models import ses_backends

        ses_backends[account_id][region_name].config_sets.pop(resource_name, None)


class ConfigurationSetEventDestination(CloudFormationModel):
    """AWS::SES::ConfigurationSetEventDestination: the destination, as moto's SES holds it for
    GetConfigurationSet... to read back."""

    __module__ = "moto.ses.cloudformation"

    def __init__(self, configuration_set: str, name: str):
        self.configuration_set, self.name = configuration_set, name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SES::ConfigurationSetEventDestination"

    @property
    def physical_resource_id(self) -> str:
        return f"{self.configuration_set}|{self.name}"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs) -> "ConfigurationSetEventDestination":
        from moto.ses.models import ses_backends

        properties = cloudformation_json["Properties"]
        destination = properties["EventDestination"]
        ses_backends[account_id][region_name].create_configuration_set_event_destination(
            properties["ConfigurationSetName"], destination)
        return cls(properties["ConfigurationSetName"], destination["Name"])

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name) -> None:
        from moto.ses.models import ses_backends

        backend = ses_backends[account_id][region_name]
        configuration_set, _, name = resource_name.partition("|")
        backend.config_set_event_destination.pop(configuration_set, None)
        backend.event_destinations.pop(name, None)


class SubscriptionFilter(CloudFormationModel):
    """AWS::Logs::SubscriptionFilter: the filter on its log group, as DescribeSubscriptionFilters
    reads it."""

    __module__ = "moto.logs.cloudformation"

    def __init__(self, log_group: str, name: str):
        self.log_group, self.name = log_group, name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "FilterName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Logs::SubscriptionFilter"

    @property
    def physical_resource_id(self) -> str:
        return f"{self.log_group}|{self.name}"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs) -> "SubscriptionFilter":
        from moto.logs.models import logs_backends

        properties = cloudformation_json["Properties"]
        name = properties.get("FilterName") or resource_name
        logs_backends[account_id][region_name].put_subscription_filter(
            properties["LogGroupName"], name, properties.get("FilterPattern", ""),
            properties["DestinationArn"], properties.get("RoleArn", ""))
        return cls(properties["LogGroupName"], name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name) -> None:
        from moto.logs.models import logs_backends

        log_group, _, name = resource_name.partition("|")
        group = logs_backends[account_id][region_name].groups.get(log_group)
        if group is not None:
            group.subscription_filters.pop(name, None)


class QueuePolicy(CloudFormationModel):
    """AWS::SQS::QueuePolicy: the policy of each queue it names (by URL)."""

    __module__ = "moto.sqs.cloudformation"

    def __init__(self, queues: list[str]):
        self.queues = queues

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @property
    def physical_resource_id(self) -> str:
        return ",".join(self.queues)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs) -> "QueuePolicy":
        from moto.sqs.models import sqs_backends

        properties = cloudformation_json["Properties"]
        for url in properties["Queues"]:
            sqs_backends[account_id][region_name].set_queue_attributes(
                url.rstrip("/").rsplit("/", 1)[-1],
                {"Policy": json.dumps(properties["PolicyDocument"])})
        return cls(list(properties["Queues"]))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name) -> None:
        return None


def _no_docker_in_data_json() -> None:
    """moto's /moto-api/data.json reads every attribute of every model, and a Lambda function's
    `docker_client` connects to Docker, which is not here: the whole answer fails with a 500.
    Without Docker the attribute is simply absent."""
    from moto.utilities.docker_utilities import DockerModel

    connect = DockerModel.docker_client.fget

    def docker_client(self):
        try:
            return connect(self)
        except Exception as e:  # noqa: BLE001 - docker raises several kinds when absent
            raise AttributeError(f"Docker is not available: {e}") from e

    DockerModel.docker_client = property(docker_client)


def _streams_left_to_the_local_lambda() -> None:
    """With an event source mapping on the table's stream, moto invokes the function itself, in
    Docker, inside every table write (and drops the stream's records once it did). Here the
    local Lambda runs the functions and polls the stream as the mapping does
    (stream_mapping.py): moto only keeps the records."""
    from moto.awslambda.models import LambdaBackend

    def keep_the_records(self, function_arn, items, source):
        return None

    LambdaBackend.send_dynamodb_items = keep_the_records


def _find_in_map_by_number() -> None:
    """`!FindInMap [Map, !Ref NumberParameter, Key]`: CloudFormation gives a Number parameter's
    Ref as a string and finds the map's key "4"; moto gave the int 4 and failed the deploy
    with a KeyError."""
    from moto.cloudformation import parsing

    clean = parsing.clean_json

    def clean_json(resource_json, resources_map):
        if isinstance(resource_json, dict) and "Fn::FindInMap" in resource_json:
            name, *path = resource_json["Fn::FindInMap"]
            result = resources_map[clean(name, resources_map)]
            for key in path:
                result = result[str(clean(key, resources_map))]
            return result
        return clean(resource_json, resources_map)

    parsing.clean_json = clean_json


def _key_policy_as_text() -> None:
    """`AWS::KMS::Key`'s KeyPolicy is an object in a template; moto kept it as one, while its
    own KMS API reads a key's policy as JSON text, so every DescribeKey of the key failed."""
    from moto.kms.models import Key

    create = Key.create_from_cloudformation_json.__func__

    def create_with_text_policy(cls, resource_name, cloudformation_json, account_id,
                                region_name, **kwargs):
        properties = cloudformation_json.get("Properties", {})
        if isinstance(properties.get("KeyPolicy"), dict):
            properties = {**properties, "KeyPolicy": json.dumps(properties["KeyPolicy"])}
            cloudformation_json = {**cloudformation_json, "Properties": properties}
        return create(cls, resource_name, cloudformation_json, account_id, region_name,
                      **kwargs)

    Key.create_from_cloudformation_json = classmethod(create_with_text_policy)


def _event_bus_ref() -> None:
    """`Ref` of an `AWS::Events::EventBus` is its name; moto's bus has no physical id, so a Ref
    to it (the notify function's EVENT_BUS_NAME) resolved to the Python object and every read
    of the function's configuration failed."""
    from moto.events.models import EventBus, events_backends

    EventBus.physical_resource_id = property(lambda self: self.name)

    # Its KmsKeyIdentifier, which moto's CloudFormation dropped (its API keeps it).
    def create_with_key(cls, resource_name, cloudformation_json, account_id, region_name,
                        **kwargs):
        properties = cloudformation_json.get("Properties", {})
        return events_backends[account_id][region_name].create_event_bus(
            name=properties.get("Name") or resource_name,
            event_source_name=properties.get("EventSourceName"),
            kms_key_identifier=properties.get("KmsKeyIdentifier"))

    EventBus.create_from_cloudformation_json = classmethod(create_with_key)


def _role_managed_policies() -> None:
    """An `AWS::IAM::Role`'s `ManagedPolicyArns` (SAM writes every function's there), which
    moto's CloudFormation never attached: the roles held their inline policies only."""
    from moto.iam.models import Role, iam_backends

    create = Role.create_from_cloudformation_json.__func__

    def create_and_attach(cls, resource_name, cloudformation_json, account_id, region_name,
                          **kwargs):
        role = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = iam_backends[account_id]["aws"]
        for arn in cloudformation_json.get("Properties", {}).get("ManagedPolicyArns", []):
            # AWS's own managed policies are not all in moto: those it lacks stay unattached,
            # as before (the checks read the stack's own policies).
            if any(p.arn == arn for p in backend.managed_policies.values()):
                backend.attach_role_policy(policy_arn=arn, role_name=role.name)
        return role

    Role.create_from_cloudformation_json = classmethod(create_and_attach)

    # And on deletion CloudFormation detaches them first, where moto refused to delete an
    # attached role (DeleteConflict).
    delete = Role.delete_from_cloudformation_json.__func__

    def detach_and_delete(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = iam_backends[account_id]["aws"]
        for role in list(backend.roles.values()):
            if role.name == resource_name:
                for arn in list(role.managed_policies):
                    backend.detach_role_policy(policy_arn=arn, role_name=role.name)
        return delete(cls, resource_name, cloudformation_json, account_id, region_name)

    Role.delete_from_cloudformation_json = classmethod(detach_and_delete)


def install() -> None:
    _install_transform()
    _install_sub_references()
    _no_docker_in_data_json()
    _streams_left_to_the_local_lambda()
    _event_bus_ref()
    _find_in_map_by_number()
    _key_policy_as_text()
    _role_managed_policies()
    # moto finds resource types among CloudFormationModel's direct subclasses, on first use:
    # defining the classes above is their registration.
    assert {Secret, EventInvokeConfig, Alarm, TopicPolicy, QueuePolicy, ConfigurationSet,
            ConfigurationSetEventDestination, SubscriptionFilter} <= set(
        CloudFormationModel.__subclasses__())

