"""The pure parts of make deploy-local: the policy check, the template's intrinsics, and the
references moto's CloudFormation update follows."""
import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import deploy_local  # noqa: E402
import template  # noqa: E402

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/sessions"


class PolicyCheck(unittest.TestCase):
    statements = [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": TABLE},
        {"Effect": "Allow", "Action": "lambda:InvokeFunction",
         "Resource": ["arn:aws:lambda:us-east-1:123456789012:function:stack-Sms-*", None]},
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
    ]

    def test_a_granted_call_passes(self):
        self.assertTrue(deploy_local.allowed(self.statements, "dynamodb:PutItem", TABLE))
        # IAM compares actions without regard to case.
        self.assertTrue(deploy_local.allowed(self.statements, "DynamoDB:putitem", TABLE))
        self.assertTrue(deploy_local.allowed(
            self.statements, "lambda:InvokeFunction",
            "arn:aws:lambda:us-east-1:123456789012:function:stack-Sms-ABC"))
        self.assertTrue(deploy_local.allowed(self.statements, "sns:Publish", "*"))

    def test_a_missing_action_or_resource_fails(self):
        self.assertFalse(deploy_local.allowed(self.statements, "dynamodb:UpdateItem", TABLE))
        self.assertFalse(deploy_local.allowed(self.statements, "dynamodb:GetItem", TABLE + "2"))
        self.assertFalse(deploy_local.allowed(
            self.statements, "lambda:InvokeFunction",
            "arn:aws:lambda:us-east-1:123456789012:function:stack-Email-ABC"))
        # Resource ARNs are case-sensitive.
        self.assertFalse(deploy_local.allowed(self.statements, "dynamodb:GetItem", TABLE.upper()))

    def test_a_deny_wins(self):
        deny = {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}
        self.assertFalse(deploy_local.allowed(self.statements + [deny], "dynamodb:GetItem", TABLE))

    def test_a_deny_on_the_limit_windows_holds_for_their_keys_only(self):
        deny = {"Effect": "Deny", "Action": "dynamodb:*", "Resource": TABLE,
                "Condition": {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["ratelimit#*"]}}}
        statements = self.statements + [deny]
        self.assertFalse(deploy_local.allowed(statements, "dynamodb:PutItem", TABLE, "ratelimit#sms-budget"))
        self.assertTrue(deploy_local.allowed(statements, "dynamodb:PutItem", TABLE, "wwb83rh1"))
        # A request whose key is not known is not held to a condition on it.
        self.assertTrue(deploy_local.allowed(statements, "dynamodb:PutItem", TABLE))

    def test_a_deny_of_every_other_operation_leaves_the_granted_ones(self):
        deny = {"Effect": "Deny", "NotAction": ["dynamodb:GetItem", "dynamodb:PutItem"],
                "Resource": [TABLE, TABLE + "/*"]}
        everything = {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}
        statements = self.statements + [deny, everything]
        self.assertTrue(deploy_local.allowed(statements, "dynamodb:GetItem", TABLE))
        self.assertFalse(deploy_local.allowed(statements, "dynamodb:DeleteItem", TABLE))
        self.assertFalse(deploy_local.allowed(statements, "dynamodb:Query", TABLE + "/index/x"))
        self.assertTrue(deploy_local.allowed(statements, "dynamodb:Query", TABLE + "2"))

    def test_the_key_rotate_key_printed_is_the_line_after_its_label(self):
        out = "stack s: ...\nnew key (paste it ...):\nabc123\nok  the new key passes\n"
        self.assertEqual(deploy_local.printed_key(out), "abc123")
        self.assertEqual(deploy_local.printed_key("not rotated: x\n"), "")

    def test_granted_pairs_leave_out_no_value(self):
        pairs = deploy_local.granted(self.statements)
        self.assertIn(("dynamodb:GetItem", TABLE), pairs)
        self.assertEqual(len(pairs), 4)


class Intrinsics(unittest.TestCase):
    source = template.parse_tagged("""
Parameters:
  Name: {Type: String}
  Extra: {Type: String, Default: ""}
  Count: {Type: Number, Default: 5}
Conditions:
  HasExtra: !Not [!Equals [!Ref Extra, ""]]
Globals:
  Function:
    Environment:
      Variables:
        TABLE: !Ref Table
        SHARED: global
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: fn}}
    Properties:
      Environment:
        Variables:
          SHARED: own
          COUNT: !Ref Count
          GREETING: !Sub "hello ${Name} in ${AWS::Region} from ${Table.Arn}"
          DOMAIN: !Select [1, !Split ["@", !Sub "${Name}@example.com"]]
          EXTRA: !If [HasExtra, !Ref Extra, none]
""")

    def resolver(self, **parameters):
        return template.Resolver(self.source, parameters, {"Table": "t-1"},
                                 {("Table", "Arn"): "arn:t-1"}, {"AWS::Region": "eu-west-1"})

    def test_a_function_environment_resolves_as_a_deployment(self):
        env = template.environment(self.source, "Fn", self.resolver(Name="ann"))
        self.assertEqual(env, {
            "TABLE": "t-1", "SHARED": "own", "COUNT": "5",
            "GREETING": "hello ann in eu-west-1 from arn:t-1", "DOMAIN": "example.com",
            "EXTRA": "none",
        })
        env = template.environment(self.source, "Fn", self.resolver(Name="ann", Extra="x"))
        self.assertEqual(env["EXTRA"], "x")
        self.assertEqual(template.functions(self.source), {"Fn": "fn"})

    def test_unknown_or_missing_parameters_are_refused(self):
        with self.assertRaises(ValueError):
            self.resolver(Name="ann", Typo="1")
        with self.assertRaises(ValueError):
            self.resolver()

    def test_the_local_samconfig_names_every_required_parameter(self):
        declared = template.load_tagged()["Parameters"]
        given = template.samconfig_parameters("local")
        required = {n for n, spec in declared.items() if "Default" not in spec}
        self.assertLessEqual(required, set(given))
        self.assertLessEqual(set(given), set(declared))


class MotoUpdateReferences(unittest.TestCase):
    def test_sub_variables_count_as_references(self):
        try:
            import moto_cloudformation
            from moto.cloudformation import parsing
        except ImportError:
            self.skipTest("moto is not installed")
        moto_cloudformation._install_sub_references()
        found = parsing.get_references_from_template(
            {"Properties": {"SecretString": {"Fn::Sub": '{"current":"${Key}","x":"${Res.Arn}"}'},
                            "Other": {"Ref": "Plain"}}})
        self.assertEqual(sorted(found), ["Key", "Plain"])


if __name__ == "__main__":
    unittest.main()
