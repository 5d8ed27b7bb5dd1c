#!/usr/bin/env python3
"""Check an Autobahn|Testsuite fuzzingclient report against expectations.

wstest itself never fails: it always exits 0 and writes its verdicts into
<outdir>/index.json. This script turns that report into a pass/fail status:

  * prints how often each `behavior` / `behaviorClose` value occurred, and the
    total number of cases;
  * lists every case that is not OK/INFORMATIONAL (with the case's
    description and wstest's explanation, read from the per-case JSON);
  * compares each case's (behavior, behaviorClose) with the expected file, a
    JSON object {"1.1.1": ["OK", "OK"], ...} sorted numerically by case id,
    and prints every difference, including missing and extra cases.

Exit status: 0 when every case is OK/INFORMATIONAL in both fields AND the run
matches the expected file exactly (same cases, same verdicts); 1 otherwise;
2 for unusable input (missing/garbled report or expected file, unknown agent).

The expected file exists so that a verdict that silently changes (for example
a case going from OK to INFORMATIONAL, or a case disappearing because the
server crashed halfway) is noticed, not only outright failures.

--update rewrites the expected file from this run. It refuses when any case is
not OK/INFORMATIONAL: a known failure must be fixed, not recorded as normal.

Standard library only, so it runs with any Python 3 (no venv needed).
"""

import argparse
import json
import os
import re
import sys
import tempfile
from collections import Counter

# Verdicts that count as passing. INFORMATIONAL is what Autobahn reports for
# cases where the RFC leaves the behaviour open (e.g. the close reason text),
# so it is not a failure.
PASSING = ("OK", "INFORMATIONAL")

# Order in which known verdicts are listed in the summary table; unknown ones
# (should a future wstest add any) are appended alphabetically.
KNOWN_VERDICTS = (
    "OK",
    "INFORMATIONAL",
    "NON-STRICT",
    "WRONG CODE",
    "UNCLEAN",
    "FAILED BY CLIENT",
    "UNIMPLEMENTED",
    "FAILED",
)

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_INPUT = 2


class InputError(Exception):
    """A report or expected file that cannot be used at all (exit 2)."""


def case_key(case_id):
    """Sort key for case ids like "9.1.10": numeric per dotted component, so
    1.1.2 < 1.1.10 < 2.1.1 (plain string sorting would put 1.1.10 first)."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in case_id.split(".")
    )


def sorted_ids(ids):
    return sorted(ids, key=case_key)


def load_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise InputError("%s not found: %s" % (what, path))
    except (OSError, ValueError) as e:
        raise InputError("cannot read %s %s: %s" % (what, path, e))


def load_results(index_path, agent=None):
    """Return (agent, {case_id: {"behavior":..., "behaviorClose":..., ...}})
    for one agent of a fuzzingclient index.json."""
    index = load_json(index_path, "report index")
    if not isinstance(index, dict) or not index:
        raise InputError("%s holds no agents (did wstest run any case?)" % index_path)
    if agent is None:
        # Convenient default: our spec always has exactly one server/agent.
        if len(index) != 1:
            raise InputError(
                "%s has several agents (%s); choose one with --agent"
                % (index_path, ", ".join(sorted(index)))
            )
        agent = next(iter(index))
    if agent not in index:
        raise InputError(
            "agent %r not in %s (agents there: %s)"
            % (agent, index_path, ", ".join(sorted(index)) or "none")
        )
    cases = index[agent]
    if not isinstance(cases, dict):
        raise InputError("agent %r in %s is not an object" % (agent, index_path))
    for case_id, entry in cases.items():
        if not isinstance(entry, dict) or "behavior" not in entry or "behaviorClose" not in entry:
            raise InputError("case %s in %s lacks behavior/behaviorClose" % (case_id, index_path))
    return agent, cases


def load_expected(path):
    """Return {case_id: (behavior, behaviorClose)} from the expected file."""
    data = load_json(path, "expected file")
    if not isinstance(data, dict):
        raise InputError("expected file %s must hold a JSON object" % path)
    expected = {}
    for case_id, pair in data.items():
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(v, str) for v in pair)
        ):
            raise InputError(
                "expected file %s: case %s must map to [behavior, behaviorClose]"
                % (path, case_id)
            )
        expected[case_id] = tuple(pair)
    return expected


def format_expected(verdicts):
    """Serialise {case_id: (behavior, behaviorClose)} one case per line, in
    numeric case order, so that a diff of the file reads case by case."""
    ids = sorted_ids(verdicts)
    lines = [
        "  %s: %s" % (json.dumps(cid), json.dumps(list(verdicts[cid])))
        for cid in ids
    ]
    return "{\n" + ",\n".join(lines) + ("\n" if lines else "") + "}\n"


def write_expected(path, verdicts):
    # Write to a temporary file and rename, so an interrupted update never
    # leaves a truncated expected file behind.
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".expected-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(format_expected(verdicts))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def clean_text(text, limit=200):
    """Per-case descriptions contain newlines and a little HTML; squash them
    into one short line for the terminal."""
    text = re.sub(r"<[^>]+>", " ", str(text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def case_details(report_dir, entry):
    """Description and wstest's explanations for one case, from the per-case
    JSON next to index.json. Best effort: the summary must not fail just
    because a per-case file is missing."""
    name = entry.get("reportfile")
    if not name:
        return None
    try:
        with open(os.path.join(report_dir, name), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return {
        "description": clean_text(data.get("description", "")),
        "result": clean_text(data.get("result", "")),
        "resultClose": clean_text(data.get("resultClose", "")),
    }


def verdict_order(values):
    known = [v for v in KNOWN_VERDICTS if v in values]
    return known + sorted(v for v in values if v not in KNOWN_VERDICTS)


def print_summary(agent, index_path, cases, out):
    behavior = Counter(c["behavior"] for c in cases.values())
    close = Counter(c["behaviorClose"] for c in cases.values())
    print("Autobahn results for agent %r (%s)" % (agent, index_path), file=out)
    print("", file=out)
    print("  %-18s %10s %14s" % ("verdict", "behavior", "behaviorClose"), file=out)
    for value in verdict_order(set(behavior) | set(close)):
        print("  %-18s %10d %14d" % (value, behavior[value], close[value]), file=out)
    print("  %-18s %10d %14d" % ("total cases", len(cases), len(cases)), file=out)
    print("", file=out)


def failing_cases(cases):
    return [
        cid
        for cid in sorted_ids(cases)
        if cases[cid]["behavior"] not in PASSING
        or cases[cid]["behaviorClose"] not in PASSING
    ]


def print_failing(cases, report_dir, failing, out):
    if not failing:
        print("All cases are OK or INFORMATIONAL.", file=out)
        print("", file=out)
        return
    print(
        "%d case(s) not OK/INFORMATIONAL (behavior / behaviorClose):" % len(failing),
        file=out,
    )
    for cid in failing:
        entry = cases[cid]
        print("  %-8s %s / %s" % (cid, entry["behavior"], entry["behaviorClose"]), file=out)
        details = case_details(report_dir, entry)
        if details:
            if details["description"]:
                print("           case:   %s" % details["description"], file=out)
            if entry["behavior"] not in PASSING and details["result"]:
                print("           result: %s" % details["result"], file=out)
            if entry["behaviorClose"] not in PASSING and details["resultClose"]:
                print("           close:  %s" % details["resultClose"], file=out)
    print("", file=out)


def compare(actual, expected):
    """Return (changed, missing, extra): changed is [(id, expected, actual)],
    missing are ids only in expected, extra are ids only in this run."""
    changed = [
        (cid, expected[cid], actual[cid])
        for cid in sorted_ids(set(actual) & set(expected))
        if actual[cid] != expected[cid]
    ]
    missing = sorted_ids(set(expected) - set(actual))
    extra = sorted_ids(set(actual) - set(expected))
    return changed, missing, extra


def print_comparison(expected_path, actual, expected, out):
    """Print differences; return True when the run matches exactly."""
    changed, missing, extra = compare(actual, expected)
    if len(actual) != len(expected):
        print(
            "Case count differs: %d in this run, %d in %s"
            % (len(actual), len(expected), expected_path),
            file=out,
        )
    if not (changed or missing or extra):
        print("Matches %s (%d cases)." % (expected_path, len(expected)), file=out)
        return True
    print(
        "Differences from %s (%d changed, %d missing, %d extra):"
        % (expected_path, len(changed), len(missing), len(extra)),
        file=out,
    )
    for cid, exp, act in changed:
        print("  %-8s expected %s / %s, got %s / %s" % ((cid,) + exp + act), file=out)
    for cid in missing:
        print("  %-8s expected %s / %s, but the case did not run" % ((cid,) + expected[cid]), file=out)
    for cid in extra:
        print("  %-8s ran (%s / %s) but is not in the expected file" % ((cid,) + actual[cid]), file=out)
    return False


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Summarise an Autobahn fuzzingclient report and compare "
        "it with the expected verdicts."
    )
    p.add_argument("index", help="path to the fuzzingclient index.json")
    p.add_argument("--agent", help="agent (server) name in index.json; "
                   "default: the only agent in the file")
    p.add_argument("--expected", required=True,
                   help="expected verdicts file (JSON: case id -> [behavior, behaviorClose])")
    p.add_argument("--update", action="store_true",
                   help="rewrite the expected file from this run instead of comparing "
                   "(refused unless every case is OK/INFORMATIONAL)")
    return p.parse_args(argv)


def main(argv=None, out=None):
    out = out or sys.stdout
    args = parse_args(argv)
    try:
        agent, cases = load_results(args.index, args.agent)
        report_dir = os.path.dirname(os.path.abspath(args.index))
        print_summary(agent, args.index, cases, out)
        failing = failing_cases(cases)
        print_failing(cases, report_dir, failing, out)
        actual = {cid: (c["behavior"], c["behaviorClose"]) for cid, c in cases.items()}

        if args.update:
            if failing:
                print(
                    "REFUSING to update %s: %d case(s) are not OK/INFORMATIONAL "
                    "(listed above). Fix them first." % (args.expected, len(failing)),
                    file=out,
                )
                return EXIT_FAIL
            if not actual:
                print("REFUSING to update %s: the run has no cases." % args.expected, file=out)
                return EXIT_FAIL
            # Show what the update changes, when there is an old file to change.
            if os.path.exists(args.expected):
                try:
                    print_comparison(args.expected, actual, load_expected(args.expected), out)
                except InputError as e:
                    print("(old expected file unusable, replacing it: %s)" % e, file=out)
            write_expected(args.expected, actual)
            print("Wrote %d cases to %s." % (len(actual), args.expected), file=out)
            return EXIT_OK

        if os.path.exists(args.expected):
            matches = print_comparison(args.expected, actual, load_expected(args.expected), out)
        else:
            # No baseline is a failure, not a pass: otherwise a lost or
            # misnamed expected file would silently disable the comparison.
            print(
                "Expected file %s does not exist; once every case passes, create it "
                "with --update." % args.expected,
                file=out,
            )
            matches = False
    except InputError as e:
        print("error: %s" % e, file=out)
        return EXIT_INPUT

    ok = not failing and matches
    print("", file=out)
    print("RESULT: %s" % ("PASS" if ok else "FAIL"), file=out)
    return EXIT_OK if ok else EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
