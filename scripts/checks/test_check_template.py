"""check_template.py's checks of what AWS decides and moto lets pass, on the template and on
copies of it with one thing wrong."""
import copy
import pathlib
import subprocess
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import check_template  # noqa: E402

TEMPLATE = check_template.load_template()


def changed(change) -> dict:
    template = copy.deepcopy(TEMPLATE)
    change(template["Resources"])
    return template


def found(template: dict) -> str:
    return "\n".join(check_template.aws_rule_problems(template))


class TheTemplateAsItIs(unittest.TestCase):
    def test_it_breaks_no_rule(self):
        self.assertEqual(check_template.aws_rule_problems(TEMPLATE), [])
        self.assertGreaterEqual(len(check_template.resources_of(TEMPLATE, "AWS::CloudWatch::Alarm")), 14)
        self.assertGreater(len(check_template.dashboard_metrics(TEMPLATE)), 40)

    def test_the_first_release_would_have_failed_it(self):
        # 0.1.0's alarms published to a topic under alias/aws/sns: no alarm ever reached anyone.
        old = subprocess.run(["git", "show", "7b8cfc4:template.yaml"], capture_output=True,
                             text=True, cwd=check_template.ROOT)
        if old.returncode != 0:
            self.skipTest("the first release is not in this clone's history")
        path = pathlib.Path(self.id() + ".yaml")
        path.write_text(old.stdout)
        self.addCleanup(path.unlink)
        template, _ = check_template.decode(str(path))
        problems = check_template.alarm_topic_problems(template)
        self.assertTrue(any("alias/aws/sns" in p for p in problems), problems)
        self.assertTrue(any("no policy of AlarmTopic" in p for p in problems), problems)


class AlarmsReachTheirTopic(unittest.TestCase):
    def test_an_aws_managed_key_is_found(self):
        def aws_managed(r):
            r["AlarmTopic"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"
        self.assertIn("AWS managed key alias/aws/sns", found(changed(aws_managed)))

    def test_a_key_policy_without_cloudwatch_is_found(self):
        def no_cloudwatch(r):
            policy = r["DataKey"]["Properties"]["KeyPolicy"]
            policy["Statement"] = [s for s in policy["Statement"]
                                   if s.get("Sid") != "CloudWatchAlarmsOfThisAccountPublish"]
        self.assertIn("does not let cloudwatch.amazonaws.com", found(changed(no_cloudwatch)))

    def test_a_grant_to_every_account_is_found(self):
        def any_account(r):
            for s in r["DataKey"]["Properties"]["KeyPolicy"]["Statement"]:
                s.pop("Condition", None)
        self.assertIn("does not let cloudwatch.amazonaws.com", found(changed(any_account)))

    def test_a_missing_topic_policy_is_found(self):
        self.assertIn("no policy of AlarmTopic",
                      found(changed(lambda r: r.pop("AlarmTopicPolicy"))))

    def test_an_action_elsewhere_is_found(self):
        def elsewhere(r):
            r["OtpExpiredAlarm"]["Properties"]["AlarmActions"] = ["arn:aws:sns:us-east-1:1:x"]
        self.assertIn("no topic of this stack", found(changed(elsewhere)))


class MetricsAreWhatTheCodeEmits(unittest.TestCase):
    def test_a_reason_the_code_never_gives_is_found(self):
        def reason(r):
            r["RejectedCallbacksAlarm"]["Properties"]["Dimensions"][1]["Value"] = "invalid-fields"
        self.assertIn("ingress's Rejected has no reason invalid-fields", found(changed(reason)))

    def test_a_metric_the_function_does_not_emit_is_found(self):
        def metric(r):
            r["UnknownCallbackTypeAlarm"]["Properties"]["MetricName"] = "Unhandled"
        self.assertIn("emits no Unhandled", found(changed(metric)))

    def test_a_dimension_the_code_does_not_count_by_is_found(self):
        def dimension(r):
            r["UnknownCallbackTypeAlarm"]["Properties"]["Dimensions"] = [
                {"Name": "FunctionName", "Value": "ingress"}]
        self.assertIn("the code counts by function", found(changed(dimension)))

    def test_an_aws_metric_by_the_wrong_dimension_is_found(self):
        def dimension(r):
            r["DeadLetterQueueNewMessageAlarm"]["Properties"]["Dimensions"][0]["Name"] = "Queue"
        self.assertIn("AWS/SQS publishes no NumberOfMessagesSent", found(changed(dimension)))

    def test_a_dashboard_graph_of_nothing_is_found(self):
        def graph(r):
            body = r["Dashboard"]["Properties"]["DashboardBody"]
            body["Fn::Sub"] = body["Fn::Sub"].replace('"KeysInvalid"', '"KeyInvalid"')
        self.assertIn("emits no KeyInvalid", found(changed(graph)))

    def test_a_reason_missing_from_the_dashboard_is_found(self):
        def reason(r):
            body = r["Dashboard"]["Properties"]["DashboardBody"]
            body["Fn::Sub"] = body["Fn::Sub"].replace('"budget-exhausted"', '"rate-limited"')
        self.assertIn("does not show sms's Suppressed budget-exhausted", found(changed(reason)))


class WritersOfTheDeadLetterQueue(unittest.TestCase):
    def test_a_writer_without_the_key_is_found(self):
        def no_key(r):
            for policy in r["SmsFunction"]["Properties"]["Policies"]:
                policy["Statement"] = [s for s in policy.get("Statement", [])
                                       if s.get("Sid") != "WriteFailuresToTheDeadLetterQueue"]
        self.assertIn("SmsFunction writes its failures to DeadLetterQueue but its role may not "
                      "use DataKey", found(changed(no_key)))

    def test_the_stream_writer_is_checked_too(self):
        def no_key(r):
            for policy in r["NotifyFunction"]["Properties"]["Policies"]:
                policy["Statement"] = [s for s in policy.get("Statement", [])
                                       if s.get("Sid") != "WriteFailuresToTheDeadLetterQueue"]
        self.assertIn("NotifyFunction writes its failures", found(changed(no_key)))

    def test_a_queue_under_an_aws_managed_key_is_found(self):
        def managed(r):
            r["DeadLetterQueue"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sqs"
        self.assertIn("not under a customer managed key", found(changed(managed)))


class Leases(unittest.TestCase):
    def test_a_lease_shorter_than_the_timeout_is_found(self):
        def short(r):
            r["SmsFunction"]["Properties"]["Environment"]["Variables"]["CLAIM_LEASE_SECONDS"] = "10"
        self.assertIn("SmsFunction: CLAIM_LEASE_SECONDS 10 is shorter than its Timeout",
                      found(changed(short)))



class TheBusIsUnderTheStacksKey(unittest.TestCase):
    def test_a_bus_without_the_key_or_the_policy_for_it_is_found(self):
        def plain(resources):
            del resources["EventBus"]["Properties"]["KmsKeyIdentifier"]
        self.assertIn("EventBus is not under a customer managed key", found(changed(plain)))

        def no_statement(resources):
            policy = resources["DataKey"]["Properties"]["KeyPolicy"]
            policy["Statement"] = [s for s in policy["Statement"]
                                   if s.get("Sid") != "EventBridgeEncryptsTheStacksBus"]
        self.assertIn("does not let events.amazonaws.com of this account encrypt",
                      found(changed(no_statement)))

        def renamed(resources):
            resources["EventBus"]["Properties"]["Name"] = {"Fn::Sub": "${AWS::StackName}-other"}
        self.assertIn("encrypt for arn:", found(changed(renamed)))

        def no_describe(resources):
            policy = resources["DataKey"]["Properties"]["KeyPolicy"]
            policy["Statement"] = [s for s in policy["Statement"]
                                   if s.get("Sid") != "EventBridgeChecksTheKey"]
        self.assertIn("describe it", found(changed(no_describe)))


class OnlyTheSendersCountTheLimits(unittest.TestCase):
    def test_a_role_that_may_write_the_windows_is_found(self):
        def dropped(resources):
            policies = resources["SessionStatusFunction"]["Properties"]["Policies"]
            policies.remove({"Ref": "NotTheLimitWindows"})
        self.assertIn("SessionStatusFunction may write the rate-limit windows", found(changed(dropped)))

        def widened(resources):
            for policy in resources["ReceiptsFunction"]["Properties"]["Policies"]:
                for s in policy.get("Statement", []):
                    if s.get("Sid") == "MoveTheDeliveryForward":
                        s["Action"] = ["dynamodb:UpdateItem", "dynamodb:DeleteItem"]
        self.assertIn("ReceiptsFunction is not denied the table operations", found(changed(widened)))

        def sender_denied(resources):
            resources["SmsFunction"]["Properties"]["Policies"][0]["Statement"].append(
                {"Effect": "Deny", "Action": "dynamodb:*",
                 "Resource": {"Fn::GetAtt": ["SessionsTable", "Arn"]},
                 "Condition": {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["ratelimit#*"]}}})
        self.assertIn("SmsFunction counts the limits, yet is denied", found(changed(sender_denied)))


class WithoutACompanyKey(unittest.TestCase):
    def test_nothing_of_reconcile_exists_and_the_table_is_as_before(self):
        self.assertEqual(check_template.optional_problems(TEMPLATE), [])

    def test_a_reconcile_resource_without_its_condition_is_found(self):
        def drop(resources):
            del resources["ReconcileLogGroup"]["Condition"]
        self.assertIn("resource ReconcileLogGroup exists without a company key", found(changed(drop)))

        def alarm(resources):
            resources["Extra"] = {"Type": "AWS::Logs::LogGroup", "Properties": {
                "KmsKeyId": {"Fn::GetAtt": ["ReconcileFunction", "Arn"]}}}
        self.assertIn("resource Extra exists without a company key (it uses ReconcileFunction)",
                      found(changed(alarm)))

    def test_an_index_the_table_always_has_is_found(self):
        def always(resources):
            props = resources["SessionsTable"]["Properties"]
            props["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]["Fn::If"][1]
        self.assertIn("without a company key the table has", found(changed(always)))


if __name__ == "__main__":
    unittest.main()
