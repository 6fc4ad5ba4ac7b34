"""check_docs.py finds a name the code does not have, and a name the docs leave out."""
import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import check_docs  # noqa: E402


def real_docs() -> dict[pathlib.Path, str]:
    return {path: path.read_text() for path in check_docs.DOCS}


class CheckDocs(unittest.TestCase):
    def test_the_docs_as_they_are_agree_with_the_code(self):
        self.assertEqual(check_docs.check(real_docs()), [])

    def test_names_the_code_does_not_have_are_found(self):
        docs = real_docs()
        page = check_docs.ROOT / "docs" / "operations.md"
        docs[page] += (
            "\nSet `SmsMaxPrice` and `SMS_MAX_PRICE`; watch `KeysBroken` (`too-many-fieldz`) and "
            "`Session Status Changd`; run `make tests` and `scripts/redrive.py`, or\n"
            "```sh\n.venv/bin/python scripts/tools/redrive.py --queue $URL\nmake nope\n```\n"
            "See `shared/src/nothing.rs` and [the page](nowhere.md).\n")
        found = "\n".join(check_docs.check(docs))
        for name in ["`SmsMaxPrice`", "`SMS_MAX_PRICE`", "`KeysBroken`", "`too-many-fieldz`",
                     "`Session Status Changd`", "`make tests`", "`scripts/redrive.py` does not exist",
                     "redrive.py takes no --queue", "`make nope`", "shared/src/nothing.rs",
                     "(nowhere.md)"]:
            self.assertIn(name, found)

    def test_names_the_docs_leave_out_are_found(self):
        docs = real_docs()
        for name in ("configuration.md", "contract.md", "operations.md", "events.md"):
            docs[check_docs.ROOT / "docs" / name] = "# emptied\n"
        found = "\n".join(check_docs.check(docs))
        for what in ["parameter SmsMaxPriceUsd", "variable CALLBACK_KEY_REFRESH_SECONDS",
                     "metric KeysInvalid", "reason too-many-fields", "reason claim-held",
                     "alarm CallbackKeysInvalidAlarm", "detail-type 'Callback Not Handled'"]:
            self.assertIn(what, found)


if __name__ == "__main__":
    unittest.main()
