#!/usr/bin/env python3
"""Writes an Autobahn|Testsuite spec as JSON, so that names and case patterns are escaped right.

Usage:
  autobahn_spec.py fuzzingclient SPEC OUTDIR NAME PORT CASES HOST SCHEME
      the suite as a client of a server under test (scripts/autobahn)
  autobahn_spec.py fuzzingserver SPEC OUTDIR PORT [HOST]
      the suite as a server that a client under test dials (scripts/autobahn-client), at
      HOST (default 127.0.0.1)

failByDrop=false is wstest's default "spec conformance" mode (a peer may fail a connection by
dropping TCP); it is spelt out so that the report does not depend on a default. 12.* and 13.*
(compression) are excluded unless ESPWS_AUTOBAHN_ALL_CASES=1 (the scripts' --all-cases): a peer
without permessage-deflate would only report UNIMPLEMENTED for them.
"""
import json
import os
import sys

EXCLUDED = [] if os.environ.get("ESPWS_AUTOBAHN_ALL_CASES") == "1" else ["12.*", "13.*"]


def fuzzingclient(spec_path, outdir, name, port, cases, host, scheme):
    spec = {
        "options": {"failByDrop": False},
        "outdir": outdir,
        "servers": [{"agent": name, "url": "%s://%s:%s" % (scheme, host, port)}],
        "cases": [c.strip() for c in cases.split(",") if c.strip()],
        "exclude-cases": EXCLUDED,
        "exclude-agent-cases": {},
    }
    if not spec["cases"]:
        sys.exit("--cases selects nothing")
    return spec_path, spec


def fuzzingserver(spec_path, outdir, port, host="127.0.0.1"):
    spec = {
        "url": "ws://%s:%s" % (host, port),
        "options": {"failByDrop": False},
        "outdir": outdir,
        "cases": ["*"],
        "exclude-cases": EXCLUDED,
        "exclude-agent-cases": {},
    }
    return spec_path, spec


def main():
    modes = {"fuzzingclient": fuzzingclient, "fuzzingserver": fuzzingserver}
    if len(sys.argv) < 2 or sys.argv[1] not in modes:
        sys.exit(__doc__)
    try:
        spec_path, spec = modes[sys.argv[1]](*sys.argv[2:])
    except TypeError:
        sys.exit(__doc__)
    with open(spec_path, "w") as f:
        json.dump(spec, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
