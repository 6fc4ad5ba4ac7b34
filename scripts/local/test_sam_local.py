"""sam_local.py's and lambda_base_image.py's own logic, without Docker: what they read from the
docs and the built template, and how they read a Debian package. `make sam-local` runs the
rest against SAM itself."""
import io
import pathlib
import tarfile
import tempfile
import unittest

import lambda_base_image
import sam_local
import template


class DocumentedCommands(unittest.TestCase):
    def test_the_section_shows_every_command_the_check_runs(self):
        commands = sam_local.documented_commands("arm64", "10.9.0.1")
        self.assertTrue(commands[0].startswith("sam build"))
        kinds = [c.split()[2] for c in commands if c.startswith("sam local")]
        self.assertEqual(sorted(set(kinds)), ["invoke", "start-api", "start-lambda"])
        self.assertTrue(any(c.startswith("curl ") for c in commands))
        # This machine's architecture and gateway in the page's place.
        joined = " ".join(commands)
        self.assertIn("Architecture=arm64", joined)
        self.assertNotIn("x86_64", joined)
        self.assertIn("--host 10.9.0.1", joined)
        # Every sam local command runs against the two files, never the user's AWS.
        for command in commands:
            if command.startswith("sam local"):
                self.assertIn("--template target/sam-local/template.yaml", " ".join(command.split()))
                self.assertIn("--env-vars target/sam-local/env.json", " ".join(command.split()))
                self.assertIn("--skip-pull-image", command)

    def test_sam_runs_with_test_credentials_only(self):
        import os
        os.environ["AWS_PROFILE"] = "someones-real-account"
        os.environ["AWS_SESSION_TOKEN"] = "real"
        try:
            env = sam_local.sam_env()
        finally:
            del os.environ["AWS_PROFILE"], os.environ["AWS_SESSION_TOKEN"]
        self.assertNotIn("AWS_PROFILE", env)
        self.assertNotIn("AWS_SESSION_TOKEN", env)
        self.assertEqual(env["AWS_ACCESS_KEY_ID"], "testing")


class Expectations(unittest.TestCase):
    def test_each_event_has_its_answer(self):
        self.assertEqual(sam_local.expected_answer("ingress", "wrong-key", False), {"statusCode": 401})
        self.assertEqual(sam_local.expected_answer("ingress", "invalid", False), {"statusCode": 422})
        self.assertEqual(sam_local.expected_answer("ingress", "session-change", False), {"statusCode": 202})
        # An OTP envelope of events/ is days old: never sent. Before the hand-offs it is
        # recorded expired; after them it finds the fresh OTP sent, a repeat counted.
        self.assertEqual(sam_local.expected_answer("sms", "one-time-password-request", False),
                         {"outcome": "expired"})
        self.assertEqual(sam_local.expected_answer("sms", "one-time-password-request", True),
                         {"outcome": "deduplicated"})
        self.assertEqual(sam_local.expected_answer("email", "share-session-link-via-email", False),
                         {"outcome": "sent"})
        self.assertEqual(sam_local.expected_answer("email", "share-session-link-via-email", True),
                         {"outcome": "deduplicated"})
        self.assertEqual(sam_local.expected_answer("video-call", "x", True),
                         {"outcome": "duplicate"})

    def test_every_event_folder_is_a_function_of_the_template(self):
        functions = template.functions(template.load_tagged())
        folders = {p.name for p in (sam_local.ROOT / "events").iterdir()
                   if p.is_dir() and p.name not in ("callbacks", "identomat")}
        self.assertEqual(folders, set(sam_local.FOLDERS))
        self.assertLessEqual(set(sam_local.FOLDERS.values()), set(functions))


class LocalTemplate(unittest.TestCase):
    def test_the_endpoints_are_declared_and_the_code_found_from_anywhere(self):
        with tempfile.TemporaryDirectory() as tmp:
            built = pathlib.Path(tmp) / "build" / "template.yaml"
            built.parent.mkdir()
            built.write_text(
                "Resources:\n  SmsFunction:\n    Type: AWS::Serverless::Function\n"
                "    Properties:\n      CodeUri: SmsFunction\n      Environment:\n"
                "        Variables:\n          SESSIONS_TABLE: !Ref SessionsTable\n")
            out = pathlib.Path(tmp) / "local.yaml"
            sam_local.local_template(built, out)
            tpl = template.parse_tagged(out.read_text())
            variables = tpl["Globals"]["Function"]["Environment"]["Variables"]
            self.assertEqual(set(variables), {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA"})
            function = tpl["Resources"]["SmsFunction"]["Properties"]
            self.assertEqual(function["CodeUri"], str(built.parent / "SmsFunction"))
            self.assertEqual(function["Environment"]["Variables"]["SESSIONS_TABLE"],
                             {"Ref": "SessionsTable"})


class DebianPackages(unittest.TestCase):
    def deb(self, members: dict[str, bytes]) -> bytes:
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w:xz") as tar:
            for name, body in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))

        def member(name: str, body: bytes) -> bytes:
            header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(body):<10}`\n".encode()
            return header + body + (b"\n" if len(body) % 2 else b"")

        return (b"!<arch>\n" + member("debian-binary", b"2.0\n")
                + member("control.tar.xz", b"x") + member("data.tar.xz", data.getvalue()))

    def test_a_debs_files_are_read_from_its_data_member(self):
        deb = self.deb({"./bin/busybox": b"\x7fELF", "./usr/share/doc/x": b"doc"})
        with lambda_base_image.data_tar(deb) as files:
            self.assertEqual(sorted(files.getnames()), ["./bin/busybox", "./usr/share/doc/x"])
        with self.assertRaises(ValueError):
            lambda_base_image.data_tar(b"not a deb")

    def test_the_image_is_named_as_sam_asks_and_labelled_by_its_recipe(self):
        self.assertEqual(lambda_base_image.image_name("arm64"),
                         "public.ecr.aws/lambda/provided:al2023-arm64")
        self.assertNotEqual(lambda_base_image.recipe("arm64"), lambda_base_image.recipe("x86_64"))


if __name__ == "__main__":
    unittest.main()
