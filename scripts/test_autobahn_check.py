"""Unit tests for scripts/autobahn_check.py, fed with small fake reports.

Run from the repository root with either of:
    python3 -m unittest scripts/test_autobahn_check.py
    python3 scripts/test_autobahn_check.py
"""

import importlib.util
import io
import json
import os
import tempfile
import unittest

# scripts/ is not a package, so load the checker from the file next to us.
_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "autobahn_check", os.path.join(_HERE, "autobahn_check.py")
)
autobahn_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(autobahn_check)

AGENT = "fake-agent"


class CheckerTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name
        self.index = os.path.join(self.dir, "index.json")
        self.expected = os.path.join(self.dir, "expected.json")

    def tearDown(self):
        self._tmp.cleanup()

    # -- helpers -----------------------------------------------------------

    def write_report(self, verdicts, agent=AGENT):
        """verdicts: {case_id: (behavior, behaviorClose)}. Writes index.json
        plus one per-case JSON file, like wstest's fuzzingclient does."""
        cases = {}
        for cid, (behavior, close) in verdicts.items():
            reportfile = "%s_case_%s.json" % (agent, cid.replace(".", "_"))
            cases[cid] = {
                "behavior": behavior,
                "behaviorClose": close,
                "duration": 3,
                "remoteCloseCode": 1000,
                "reportfile": reportfile,
            }
            with open(os.path.join(self.dir, reportfile), "w") as f:
                json.dump(
                    {
                        "id": cid,
                        "description": "Description of case <b>%s</b>.\nSecond line." % cid,
                        "result": "Result text for %s" % cid,
                        "resultClose": "Close text for %s" % cid,
                        "behavior": behavior,
                        "behaviorClose": close,
                    },
                    f,
                )
        with open(self.index, "w") as f:
            json.dump({agent: cases}, f)

    def write_expected(self, verdicts):
        with open(self.expected, "w") as f:
            json.dump({cid: list(v) for cid, v in verdicts.items()}, f)

    def run_checker(self, *extra):
        out = io.StringIO()
        argv = [self.index, "--expected", self.expected] + list(extra)
        status = autobahn_check.main(argv, out=out)
        return status, out.getvalue()

    # -- the four required scenarios ---------------------------------------

    ALL_OK = {
        "1.1.1": ("OK", "OK"),
        "1.1.2": ("OK", "OK"),
        "7.1.6": ("INFORMATIONAL", "INFORMATIONAL"),
        "7.13.1": ("INFORMATIONAL", "OK"),
    }

    def test_all_ok_passes(self):
        self.write_report(self.ALL_OK)
        self.write_expected(self.ALL_OK)
        status, out = self.run_checker()
        self.assertEqual(status, 0, out)
        self.assertIn("RESULT: PASS", out)
        self.assertIn("All cases are OK or INFORMATIONAL", out)
        # Summary table: counts per verdict and the total.
        self.assertRegex(out, r"OK\s+2\s+3\n")
        self.assertRegex(out, r"INFORMATIONAL\s+2\s+1\n")
        self.assertRegex(out, r"total cases\s+4\s+4\n")

    def test_one_non_strict_fails(self):
        run = dict(self.ALL_OK, **{"6.4.1": ("NON-STRICT", "OK")})
        self.write_report(run)
        # Even an expected file that records the NON-STRICT must not make it pass.
        self.write_expected(run)
        status, out = self.run_checker()
        self.assertEqual(status, 1, out)
        self.assertIn("RESULT: FAIL", out)
        self.assertIn("1 case(s) not OK/INFORMATIONAL", out)
        self.assertIn("6.4.1    NON-STRICT / OK", out)
        # Description (HTML stripped, one line) and wstest's explanation.
        self.assertIn("case:   Description of case 6.4.1 . Second line.", out)
        self.assertIn("result: Result text for 6.4.1", out)
        self.assertNotIn("close:  Close text for 6.4.1", out)  # close was OK

    def test_failed_close_alone_fails(self):
        run = dict(self.ALL_OK, **{"5.1": ("OK", "FAILED")})
        self.write_report(run)
        self.write_expected(run)
        status, out = self.run_checker()
        self.assertEqual(status, 1, out)
        self.assertIn("5.1      OK / FAILED", out)
        self.assertIn("close:  Close text for 5.1", out)

    def test_difference_vs_expected_fails(self):
        # Both verdicts are passing ones, but they changed: still a failure.
        self.write_report(self.ALL_OK)
        self.write_expected(dict(self.ALL_OK, **{"7.13.1": ("INFORMATIONAL", "INFORMATIONAL")}))
        status, out = self.run_checker()
        self.assertEqual(status, 1, out)
        self.assertIn("1 changed, 0 missing, 0 extra", out)
        self.assertIn(
            "7.13.1   expected INFORMATIONAL / INFORMATIONAL, got INFORMATIONAL / OK", out
        )

    def test_missing_case_fails(self):
        run = dict(self.ALL_OK)
        del run["1.1.2"]
        self.write_report(run)
        self.write_expected(self.ALL_OK)
        status, out = self.run_checker()
        self.assertEqual(status, 1, out)
        self.assertIn("Case count differs: 3 in this run, 4 in", out)
        self.assertIn("1.1.2    expected OK / OK, but the case did not run", out)

    # -- further edge cases --------------------------------------------------

    def test_extra_case_fails(self):
        self.write_report(dict(self.ALL_OK, **{"2.1": ("OK", "OK")}))
        self.write_expected(self.ALL_OK)
        status, out = self.run_checker()
        self.assertEqual(status, 1, out)
        self.assertIn("2.1      ran (OK / OK) but is not in the expected file", out)

    def test_missing_expected_file_fails(self):
        self.write_report(self.ALL_OK)
        status, out = self.run_checker()
        self.assertEqual(status, 1, out)
        self.assertIn("does not exist", out)
        self.assertIn("--update", out)

    def test_update_writes_sorted_expected_and_then_passes(self):
        run = {
            "2.1": ("OK", "OK"),
            "1.1.10": ("OK", "OK"),
            "1.1.2": ("OK", "OK"),
            "10.1.1": ("OK", "OK"),
            "9.1.1": ("INFORMATIONAL", "OK"),
        }
        self.write_report(run)
        status, out = self.run_checker("--update")
        self.assertEqual(status, 0, out)
        self.assertIn("Wrote 5 cases to", out)
        with open(self.expected) as f:
            text = f.read()
        data = json.loads(text)
        # Numeric order, not string order (1.1.10 after 1.1.2, 10.x last).
        self.assertEqual(list(data), ["1.1.2", "1.1.10", "2.1", "9.1.1", "10.1.1"])
        self.assertEqual(data["9.1.1"], ["INFORMATIONAL", "OK"])
        self.assertEqual(text.count("\n"), 7)  # one case per line plus braces
        status, out = self.run_checker()
        self.assertEqual(status, 0, out)

    def test_update_refused_when_not_all_ok(self):
        self.write_report(dict(self.ALL_OK, **{"6.4.1": ("NON-STRICT", "OK")}))
        status, out = self.run_checker("--update")
        self.assertEqual(status, 1, out)
        self.assertIn("REFUSING to update", out)
        self.assertFalse(os.path.exists(self.expected))

    def test_update_replaces_existing_file_and_shows_changes(self):
        self.write_report(self.ALL_OK)
        self.write_expected({"1.1.1": ("OK", "OK")})
        status, out = self.run_checker("--update")
        self.assertEqual(status, 0, out)
        self.assertIn("0 changed, 0 missing, 3 extra", out)
        with open(self.expected) as f:
            self.assertEqual(len(json.load(f)), 4)

    def test_unknown_agent_is_input_error(self):
        self.write_report(self.ALL_OK)
        self.write_expected(self.ALL_OK)
        status, out = self.run_checker("--agent", "other")
        self.assertEqual(status, 2, out)
        self.assertIn("agent 'other' not in", out)

    def test_named_agent_accepted(self):
        self.write_report(self.ALL_OK)
        self.write_expected(self.ALL_OK)
        status, out = self.run_checker("--agent", AGENT)
        self.assertEqual(status, 0, out)

    def test_missing_index_is_input_error(self):
        status, out = self.run_checker()
        self.assertEqual(status, 2, out)
        self.assertIn("report index not found", out)

    def test_malformed_expected_is_input_error(self):
        self.write_report(self.ALL_OK)
        with open(self.expected, "w") as f:
            json.dump({"1.1.1": "OK"}, f)
        status, out = self.run_checker()
        self.assertEqual(status, 2, out)

    def test_unknown_verdict_counted_and_fails(self):
        run = dict(self.ALL_OK, **{"3.1": ("WEIRD", "OK")})
        self.write_report(run)
        self.write_expected(run)
        status, out = self.run_checker()
        self.assertEqual(status, 1, out)
        self.assertRegex(out, r"WEIRD\s+1\s+0\n")

    def test_case_key_orders_numerically(self):
        ids = ["10.1.1", "1.1.10", "1.1.2", "9.7.1", "2.1"]
        self.assertEqual(
            autobahn_check.sorted_ids(ids), ["1.1.2", "1.1.10", "2.1", "9.7.1", "10.1.1"]
        )


if __name__ == "__main__":
    unittest.main()
