#!/usr/bin/env python3
"""Turns one load-generator result into a JSON line for scripts/bench, and prints its progress.

Usage:
  record.py throughput LINE CASE ROUND SERVER STATUS NOTE PROGRESS [WORKER_TICKS]
  record.py callgrind LINE SERVER K IR FILE STATUS NOTE
"""
import json
import sys


def throughput(line, case, rnd, name, status, note, progress, worker_ticks=""):
    """WORKER_TICKS: the CPU ticks of each of the server's per-core runtime threads, busiest
    first, space-separated (empty for a server without them)."""
    r = json.loads(line)
    r.update(case=case, round=int(rnd), server=name, status=int(status), note=note,
             ok=int(status) == 0 and r.get("errors", 1) == 0 and r.get("messages", 0) > 0,
             worker_ticks=[int(t) for t in worker_ticks.split()])
    print(json.dumps(r))
    flag = "" if r["ok"] else "  <-- FLAGGED (exit %d) %s" % (r["status"], note)
    print("  [%7s] %-10s round %d %-17s %10.0f msgs/s  p50 %s us  p99 %s us  errors %s%s" % (
        progress, case, r["round"], name, r.get("msgs_per_s", 0), r.get("p50_us"), r.get("p99_us"),
        r.get("errors"), flag), file=sys.stderr)


def callgrind(line, name, k, ir, file, status, note):
    r = json.loads(line)
    r.update(server=name, k=int(k), ir=int(ir), file=file, status=int(status), note=note,
             ok=int(status) == 0 and r.get("errors", 1) == 0 and r.get("messages") == int(k) and int(ir) > 0)
    print(json.dumps(r))
    print("  %-17s K=%-6d Ir %13s  %s" % (name, int(k), "{:,}".format(int(ir)),
          "ok" if r["ok"] else "<-- FLAGGED " + json.dumps(r)), file=sys.stderr)


if __name__ == "__main__":
    kinds = {"throughput": throughput, "callgrind": callgrind}
    if len(sys.argv) < 2 or sys.argv[1] not in kinds:
        sys.exit(__doc__)
    kinds[sys.argv[1]](*sys.argv[2:])
