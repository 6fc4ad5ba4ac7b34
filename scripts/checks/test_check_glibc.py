"""check_glibc.py reads the glibc versions an ELF file needs as binutils reads them, and
refuses a bootstrap that needs one newer than Amazon Linux 2023's 2.34."""
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import check_glibc  # noqa: E402


class CheckGlibc(unittest.TestCase):
    def test_the_versions_are_the_ones_objdump_reads(self):
        if not shutil.which("objdump"):
            self.skipTest("no objdump here to compare with")
        binary = pathlib.Path(sys.executable).resolve()
        dumped = subprocess.run(["objdump", "-T", str(binary)], capture_output=True, text=True)
        expected = {w.strip("()") for w in dumped.stdout.split() if w.strip("()").startswith("GLIBC_")}
        found = {n for names in check_glibc.needed_versions(binary).values() for n in names
                 if n.startswith("GLIBC_")}
        self.assertEqual(found, expected)

    def test_a_bootstrap_needing_newer_glibc_is_refused(self):
        if not shutil.which("gcc"):
            self.skipTest("no C compiler here")
        with tempfile.TemporaryDirectory() as build:
            for name, source in [
                # arc4random came with glibc 2.36: unknown to AL2023's 2.34.
                ("NewFunction", "#include <stdlib.h>\nint main(void) { return (int)arc4random(); }\n"),
                ("OldFunction", "#include <stdio.h>\nint main(void) { return puts(\"x\"); }\n"),
            ]:
                folder = pathlib.Path(build) / name
                folder.mkdir()
                (folder / "main.c").write_text(source)
                compiled = subprocess.run(["gcc", "-o", str(folder / "bootstrap"),
                                           str(folder / "main.c")], capture_output=True)
                if compiled.returncode != 0:
                    self.skipTest(f"gcc: {compiled.stderr.decode()[:200]}")
            new = check_glibc.newest_glibc(pathlib.Path(build) / "NewFunction" / "bootstrap")
            old = check_glibc.newest_glibc(pathlib.Path(build) / "OldFunction" / "bootstrap")
            if new <= check_glibc.MAX_GLIBC:
                self.skipTest(f"this machine's glibc gives arc4random at {new}")
            self.assertGreater(new, (2, 34))
            self.assertLessEqual(old, (2, 34))
            sys.argv = ["check_glibc.py", build]
            self.assertEqual(check_glibc.main(), 1)
            (pathlib.Path(build) / "NewFunction" / "bootstrap").unlink()
            self.assertEqual(check_glibc.main(), 0)


if __name__ == "__main__":
    unittest.main()
