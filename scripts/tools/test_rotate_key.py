"""rotate_key.py's next secret value for each mode, and the keys it generates."""
import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import rotate_key  # noqa: E402

OLD = {"current": "old-key-0123456789", "previous": ""}


class Rotated(unittest.TestCase):
    def test_a_start_keeps_the_current_key_as_previous(self):
        self.assertEqual(rotate_key.rotated(OLD, "start", "new-key-0123456789"),
                         {"current": "new-key-0123456789", "previous": "old-key-0123456789"})

    def test_finish_drops_the_previous_and_needs_one(self):
        both = {"current": "new-key-0123456789", "previous": "old-key-0123456789"}
        self.assertEqual(rotate_key.rotated(both, "finish", None),
                         {"current": "new-key-0123456789", "previous": ""})
        with self.assertRaises(ValueError):
            rotate_key.rotated(OLD, "finish", None)

    def test_an_emergency_keeps_no_previous(self):
        both = {"current": "leaked-key-0123456", "previous": "older-key-01234567"}
        self.assertEqual(rotate_key.rotated(both, "emergency", "new-key-0123456789"),
                         {"current": "new-key-0123456789", "previous": ""})

    def test_a_key_the_parameter_would_refuse_or_one_in_use_is_refused(self):
        for key in ("short", "x" * 257, "has space 01234567", "old-key-0123456789"):
            with self.assertRaises(ValueError, msg=key):
                rotate_key.rotated(OLD, "start", key)

    def test_generated_keys_are_valid_and_differ(self):
        keys = {rotate_key.new_key() for _ in range(20)}
        self.assertEqual(len(keys), 20)
        for key in keys:
            self.assertEqual(len(key), 64)
            self.assertRegex(key, r"^[A-Za-z0-9._~+/=-]+$")


class TheParametersRule(unittest.TestCase):
    def test_is_the_one_the_tool_holds_keys_to(self):
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "local"))
        import template

        parameter = template.load_tagged()["Parameters"]["CallbackApiKey"]
        self.assertEqual((parameter["AllowedPattern"], parameter["MinLength"], parameter["MaxLength"]),
                         ("^" + rotate_key.KEY.pattern.split("{")[0] + "+$", 16, 256))
        self.assertTrue(rotate_key.KEY.pattern.endswith("{16,256}"))


if __name__ == "__main__":
    unittest.main()
