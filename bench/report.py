#!/usr/bin/env python3
"""Turns the raw results of scripts/bench into Markdown tables (standard library only).

    report.py throughput reports/bench/throughput.jsonl
    report.py callgrind reports/bench/callgrind.jsonl K1 K2
    report.py micro target/criterion

Each prints one Markdown section on standard output; scripts/bench collects them into
reports/bench/results.md.
"""

import json
import os
import re
import statistics
import subprocess
import sys

ESPWS = ["espws-threads", "espws-tokio"]
# The workspace's root, so that a source path in callgrind's output can be told apart from a
# dependency's or the toolchain's.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_int(v):
    return "n/a" if v is None else f"{v:,.0f}"


def fmt(v, digits=1):
    return "n/a" if v is None else f"{v:,.{digits}f}"


def fmt_ratio(v):
    return "n/a" if v is None else f"{v:.2f}"


def throughput(path, seconds="?", sim_args=""):
    rows = load_jsonl(path)
    cases, servers = [], []
    for r in rows:
        if r["case"] not in cases:
            cases.append(r["case"])
        if r["server"] not in servers:
            servers.append(r["server"])
    rounds = sorted({r["round"] for r in rows})
    by = {(r["case"], r["round"], r["server"]): r for r in rows}

    def ok(r):
        return r is not None and r.get("ok") and r.get("errors", 1) == 0 and r.get("messages", 0) > 0

    print("## Throughput and latency\n")
    print(
        f"Median over {len(rounds)} round(s). In each round every server ran the case once "
        f"for {seconds} s (after connecting and 10 warm-up round trips per connection), in the "
        "order of the table, each started fresh on a free port and killed after. espws-sim "
        f"ran with `{sim_args}`. "
        "`thr÷` and `tok÷` are espws-sim threads and espws-sim tokio msgs/s divided by this "
        "row's msgs/s, computed per round from the same round's runs, then the median "
        "(above 1: espws is faster). Raw TCP rows run the load generator with `--raw` "
        "(same bytes, no handshake, no framing work). The client is one thread and each connection has one "
        "message in flight at a time (closed loop), so with many connections the "
        "latency percentiles mostly show how the client's task scheduling interleaves them; "
        "msgs/s is the figure to compare.\n"
    )
    print("| Case | Server | msgs/s | MB/s | p50 µs | p99 µs | errors | thr÷ | tok÷ |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    flagged = []
    for case in cases:
        for server in servers:
            runs = [by.get((case, rnd, server)) for rnd in rounds]
            good = [r for r in runs if ok(r)]
            bad = [r for r in runs if r is not None and not ok(r)]
            for r in bad:
                flagged.append(
                    f"{case} / {server} / round {r['round']}: exit {r.get('status')}, "
                    f"errors {r.get('errors')}, messages {r.get('messages')}"
                    + (f" ({r['note']})" if r.get("note") else "")
                )
            msgs = median([r["msgs_per_s"] for r in good])
            mbs = median([r["mb_per_s"] for r in good])
            p50 = median([r["p50_us"] for r in good])
            p99 = median([r["p99_us"] for r in good])
            errors = sum(max(r.get("errors", 0), 0) for r in runs if r is not None)
            err_cell = str(errors) if not bad else f"**{errors} ⚠ {len(bad)} bad run(s)**"
            ratios = []
            for e in ESPWS:
                per_round = []
                for rnd in rounds:
                    a, b = by.get((case, rnd, e)), by.get((case, rnd, server))
                    if ok(a) and ok(b):
                        per_round.append(a["msgs_per_s"] / b["msgs_per_s"])
                ratios.append(fmt_ratio(median(per_round)))
            print(
                f"| {case} | {server} | {fmt_int(msgs)} | {fmt(mbs)} | {fmt_int(p50)} | "
                f"{fmt_int(p99)} | {err_cell} | {ratios[0]} | {ratios[1]} |"
            )
    print()
    if flagged:
        print("**Flagged runs** (errors, a non-zero exit or no messages; left out of the medians):\n")
        for f in flagged:
            print(f"- {f}")
    else:
        print("Every run finished with 0 errors.")
    print()
    split_between_runtimes(by, cases, rounds)


def busiest_share(r):
    """The busiest runtime thread's share of a per-core server's runtime threads' CPU time in one
    run, or None if not recorded."""
    ticks = (r or {}).get("worker_ticks") or []
    return ticks[0] / sum(ticks) if sum(ticks) > 0 else None


def split_between_runtimes(by, cases, rounds, servers=("espws-tokio", "raw-tokio-local")):
    """espws tokio (and raw-tokio-local, built the same way) serves each connection on the
    runtime that accepted it, and the kernel picks that runtime; on a machine shared with the
    load generator the split moves msgs/s, so each round's split is shown beside its figure."""
    rows = []
    for case in cases:
        for server in servers:
            runs = [by.get((case, rnd, server)) for rnd in rounds]
            if all(r is None or r.get("connections") == 1 for r in runs):
                continue  # one connection is on one runtime by definition
            shares = [busiest_share(r) for r in runs]
            if all(s is None for s in shares):
                continue
            cells = [
                "n/a" if r is None or s is None else f"{s:.2f} ({r.get('msgs_per_s', 0):,.0f})"
                for r, s in zip(runs, shares)
            ]
            rows.append(f"| {case} | {server} | " + " | ".join(cells) + " |")
    if not rows:
        return
    print(
        "How the per-core servers' connections split between their runtimes, round by round: "
        "the busiest runtime thread's share of the runtime threads' CPU time, the server's "
        "other threads left out (1.00: every connection on one runtime; about 0.50: an even "
        "split on two), with that round's msgs/s. The kernel "
        "decides the split at the accepts; on cores shared with the load generator, one "
        "runtime beside it is the fast case (docs/bench-results.md).\n"
    )
    print("| Case | Server | " + " | ".join(f"round {rnd}" for rnd in rounds) + " |")
    print("|---|---|" + "---:|" * len(rounds))
    for row in rows:
        print(row)
    print()


def floor_of(server, per_msg):
    """The raw TCP floor on the same runtime as `server`: espws-sim's tokio server runs a
    current-thread runtime per core (raw-tokio-local), the tokio peers the multi-thread one
    (raw-tokio), the threads servers a thread per connection (raw-threads); espws-sim's
    threads server calls the kernel without glibc's wrappers, as raw-threads-syscalls does."""
    if server.startswith("raw-"):
        return server
    if server == "espws-tokio" and "raw-tokio-local" in per_msg:
        return "raw-tokio-local"
    if server == "espws-threads" and "raw-threads-syscalls" in per_msg:
        return "raw-threads-syscalls"
    if "tokio" in server or "fastwebsockets" in server:
        return "raw-tokio"
    return "raw-threads"


def parse_annotate(path):
    """Self cost (Ir) per function of one callgrind output file."""
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--auto=no", "--threshold=100", path],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    costs = {}
    in_functions = False
    for line in out.splitlines():
        if line.startswith("Ir") and "file:function" in line:
            in_functions = True
            continue
        if not in_functions:
            continue
        m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", line)
        if not m:
            continue
        name = re.sub(r" \[[^\]]*\]$", "", m.group(2))
        costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return costs


def split_path(name):
    """'path/file.rs:crate::f' -> ('path/file.rs', 'crate::f')."""
    m = re.match(r"^(.*?[^:]):(?!:)(.*)$", name)
    if not m:
        return "", name
    return m.group(1), m.group(2)


def split_name(name):
    """'path/file.rs:crate::f' -> ('file.rs', 'crate::f')."""
    path, func = split_path(name)
    return os.path.basename(path), func


def source_of(name):
    """Where the code of a 'path/file.rs:function' entry comes from: a workspace crate
    ('espws', 'espws-apps', 'bench', ...), a dependency by crate name ('tokio', 'mio'), the Rust
    standard library, or the C library. Inlined code counts where its source is, so the
    workspace's share is what its own lines cost, wherever the compiler put them."""
    path = split_path(name)[0]
    # A crates.io dependency: CARGO_HOME/registry/src/INDEX/NAME-VERSION/ (any CARGO_HOME).
    registry = re.search(r"/registry/src/[^/]+/([^/]+)/", path)
    if registry:
        return re.sub(r"-\d+\.\d+\.\d+.*$", "", registry.group(1))
    if path.startswith("/rustc/"):
        return "Rust standard library"
    # The workspace's own paths come relative to it (as rustc was given them) or absolute.
    if path.startswith(ROOT + "/") or (path and os.path.exists(os.path.join(ROOT, path))):
        return os.path.relpath(os.path.join(ROOT, path), ROOT).split("/")[0]
    if path.startswith("./") or "/sysdeps/" in path or "/nptl/" in path:
        return "C library"
    return "other (no source path)"


def by_source(diff):
    """Per-message self cost grouped by `source_of`."""
    groups = {}
    for name, cost in diff.items():
        group = source_of(name)
        groups[group] = groups.get(group, 0) + cost
    return groups


def per_message(rows, k1, k2):
    """Instructions per message of each server in `rows`: (Ir(k2) - Ir(k1)) / (k2 - k1), or
    None where either run failed."""
    per_msg = {}
    for r in rows:
        server = r["server"]
        if server in per_msg:
            continue
        runs = {x["k"]: x for x in rows if x["server"] == server}
        a, b = runs.get(k1), runs.get(k2)
        good = all(x is not None and x.get("ok") and x.get("ir") for x in (a, b))
        per_msg[server] = (b["ir"] - a["ir"]) / (k2 - k1) if good else None
    return per_msg


# The instruction lines a change must not cross (issue 17's): espws threads' instructions per
# 64-byte echo, and espws tokio's against the raw tokio TCP echo measured in the same run.
THREADS_MAX_IR = 300
TOKIO_MAX_RATIO = 1.10


def check(path, k1, k2):
    """Exits 1, saying which, unless espws threads spends at most THREADS_MAX_IR instructions
    per echo and espws tokio at most TOKIO_MAX_RATIO times raw-tokio's, in the run of `path`."""
    per_msg = per_message(load_jsonl(path), int(k1), int(k2))
    failures = []
    for server in ("espws-threads", "espws-tokio", "raw-tokio"):
        if per_msg.get(server) is None:
            failures.append(f"{server}: no figure (its callgrind run failed or was not made)")
    threads, tokio, floor = (per_msg.get(s) for s in ("espws-threads", "espws-tokio", "raw-tokio"))
    if threads is not None:
        ok = threads <= THREADS_MAX_IR
        print(
            f"espws-threads: {threads:,.0f} instructions per echo "
            f"(line: {THREADS_MAX_IR}): {'ok' if ok else 'OVER'}"
        )
        if not ok:
            failures.append(
                f"espws-threads spends {threads:,.0f} instructions per echo, over {THREADS_MAX_IR}"
            )
    if tokio is not None and floor:
        ratio = tokio / floor
        ok = ratio <= TOKIO_MAX_RATIO
        local = per_msg.get("raw-tokio-local")
        beside = f"; {tokio / local:.2f}x raw-tokio-local's {local:,.0f}, not checked" if local else ""
        print(
            f"espws-tokio: {tokio:,.0f} instructions per echo, {ratio:.2f}x raw-tokio's "
            f"{floor:,.0f} (line: {TOKIO_MAX_RATIO:.2f}x){beside}: {'ok' if ok else 'OVER'}"
        )
        if not ok:
            failures.append(
                f"espws-tokio spends {ratio:.2f}x raw-tokio's instructions, over {TOKIO_MAX_RATIO:.2f}x"
            )
    sys.stdout.flush()
    for failure in failures:
        print(f"instruction check failed: {failure}; the callgrind report beside {path} shows "
              "where the instructions go", file=sys.stderr)
    sys.exit(1 if failures else 0)


def callgrind(path, k1, k2, top=15):
    k1, k2 = int(k1), int(k2)
    rows = load_jsonl(path)
    servers = []
    for r in rows:
        if r["server"] not in servers:
            servers.append(r["server"])
    print("## Instructions per message (callgrind, user space)\n")
    print(
        f"One connection, 64-byte binary echo. Each server runs under "
        f"`valgrind --tool=callgrind --trace-children=no` twice: the load generator makes "
        f"{k1} and then {k2} measured round trips (`--count`, after the same 10 warm-up round "
        f"trips), disconnects, and the server is stopped with SIGTERM once idle, at which "
        f"callgrind writes its totals (all threads). Ir/msg = (Ir({k2}) - Ir({k1})) / "
        f"({k2} - {k1}), so start-up, handshake and shutdown cancel out. Only user-space "
        "instructions are counted (callgrind does not see the kernel), so the raw TCP floors "
        "show what the read/write loop and the runtime cost, and the kernel's share of a "
        "round trip (the larger share at 64 bytes) is not in any figure.\n"
    )
    print(
        f"| Server | Ir ({k1}) | Ir ({k2}) | Ir/msg | × raw floor of its kind | "
        "largest self cost per msg | ok |"
    )
    print("|---|---:|---:|---:|---:|---|---|")
    per_msg, diffs = per_message(rows, k1, k2), {}
    for server in servers:
        runs = {r["k"]: r for r in rows if r["server"] == server}
        a, b = runs.get(k1), runs.get(k2)
        if per_msg[server] is not None:
            try:
                c1, c2 = parse_annotate(a["file"]), parse_annotate(b["file"])
                diffs[server] = {
                    n: (c2.get(n, 0) - c1.get(n, 0)) / (k2 - k1) for n in set(c1) | set(c2)
                }
            except (OSError, subprocess.SubprocessError) as e:
                print(f"(callgrind_annotate failed for {server}: {e})\n")
    for server in servers:
        runs = {r["k"]: r for r in rows if r["server"] == server}
        a, b = runs.get(k1), runs.get(k2)
        ir_msg = per_msg[server]
        floor = floor_of(server, per_msg)
        rel = (
            fmt_ratio(ir_msg / per_msg[floor])
            if ir_msg is not None and per_msg.get(floor)
            else "n/a"
        )
        status = "yes" if ir_msg is not None else "**no ⚠**"
        top_cell = ""
        if diffs.get(server) and ir_msg:
            name, cost = max(diffs[server].items(), key=lambda kv: kv[1])
            func = split_name(name)[1].replace("|", "\\|")
            func = func if len(func) <= 60 else func[:57] + "..."
            top_cell = f"`{func}` {cost:,.0f} ({100 * cost / ir_msg:.0f}%)"
        print(
            f"| {server} | {fmt_int(a and a.get('ir'))} | {fmt_int(b and b.get('ir'))} | "
            f"{fmt_int(ir_msg)} | {rel} ({floor}) | {top_cell} | {status} |"
        )
    print()
    print(
        "Caveat: valgrind counts each iteration of a `rep stos`/`rep movs` string "
        "instruction as one instruction, so glibc's large `memset`/`memcpy` (which use "
        "`rep stosb`/`rep movsb` above a few KiB) count about one Ir per byte although the CPU "
        "runs them far faster: a server that clears or copies a large buffer per read looks "
        "much costlier here than in the throughput table (see the last column).\n"
    )
    for server in ESPWS:
        diff = diffs.get(server)
        if not diff:
            continue
        total = sum(diff.values())
        print(f"### Where {server}'s instructions go, per message\n")
        print(
            f"`callgrind_annotate --inclusive=no` (self cost) of both runs, the difference per "
            f"function divided by {k2 - k1}: the top {top} of {total:,.0f} Ir/msg.\n"
        )
        print("| Ir/msg | share | function | file |")
        print("|---:|---:|---|---|")
        for name, cost in sorted(diff.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
            file, func = split_name(name)
            func = func.replace("|", "\\|")
            if len(func) > 110:
                func = func[:107] + "..."
            print(f"| {cost:,.1f} | {100 * cost / total:.1f}% | `{func}` | {file} |")
        print()
        floor = floor_of(server, per_msg)
        if floor != server and diffs.get(floor):
            print_by_source(server, diff, floor, diffs[floor])


def signed(v):
    """A difference with its sign, rounded to a whole number ('0' rather than '-0')."""
    v = round(v)
    return f"{v:+,}" if v else "0"


def print_by_source(server, diff, floor, floor_diff):
    """The same self costs, summed by where the code comes from, beside the floor's: the
    difference row by row is what the server does beyond the raw echo, and where."""
    mine, theirs = by_source(diff), by_source(floor_diff)
    print(f"### {server} against {floor}, by where the code comes from\n")
    print(
        "Self cost per message summed by source (a workspace crate, a dependency, the Rust "
        "standard library, the C library); inlined code counts where its source lines are. "
        "Rows under 1 Ir/msg on both sides are left out.\n"
    )
    print(f"| Source | {server} | {floor} | difference |")
    print("|---|---:|---:|---:|")
    groups = sorted(set(mine) | set(theirs), key=lambda g: (-(mine.get(g, 0) - theirs.get(g, 0)), g))
    for group in groups:
        a, b = mine.get(group, 0), theirs.get(group, 0)
        if abs(a) < 1 and abs(b) < 1:
            continue
        print(f"| {group} | {a:,.0f} | {b:,.0f} | {signed(a - b)} |")
    total_a, total_b = sum(mine.values()), sum(theirs.values())
    print(f"| **total** | **{total_a:,.0f}** | **{total_b:,.0f}** | **{signed(total_a - total_b)}** |")
    print()


MICRO = [
    # group, bench, baseline, bytes, what
    ("mask_64k", "apply_mask", "memcpy", 65536, "`wire::mask::apply_mask`, 64 KiB in place"),
    ("mask_64k", "memcpy", "memcpy", 65536, "`copy_from_slice`, 64 KiB"),
    ("utf8_64k", "feed_ascii", "memcpy", 65536, "`Utf8Validator::feed` + `finish`, 64 KiB ASCII"),
    ("utf8_64k", "feed_mixed", "memcpy", 65536, "`Utf8Validator::feed` + `finish`, 64 KiB mixed 1-4 byte UTF-8"),
    ("utf8_64k", "memcpy", "memcpy", 65536, "`copy_from_slice`, 64 KiB"),
    ("frame_header", "parse_2", "copy_2", 2, "`FrameHeader::parse`, 2-byte header (7-bit length)"),
    ("frame_header", "copy_2", "copy_2", 2, "copy of the same 2 bytes"),
    ("frame_header", "parse_4", "copy_4", 4, "`FrameHeader::parse`, 4-byte header (16-bit length)"),
    ("frame_header", "copy_4", "copy_4", 4, "copy of the same 4 bytes"),
    ("frame_header", "parse_10", "copy_10", 10, "`FrameHeader::parse`, 10-byte header (64-bit length)"),
    ("frame_header", "copy_10", "copy_10", 10, "copy of the same 10 bytes"),
]


def micro(criterion_dir):
    def estimate(group, bench):
        path = os.path.join(criterion_dir, group, bench, "new", "estimates.json")
        try:
            with open(path) as f:
                return json.load(f)["median"]["point_estimate"]  # ns per iteration
        except (OSError, KeyError, ValueError):
            return None

    print("## Microbenchmarks (criterion)\n")
    print(
        "Median time per call from criterion (`bench/benches/micro.rs`). GB/s = bytes "
        "processed per call / time. `vs copy` = the copy's time / this time, the GB/s ratio "
        "to copying the same bytes (1.00: as fast as memcpy; 0.50: half its speed). For "
        "the headers, the copy of 2-10 bytes is a couple of moves, so the ratio says how many "
        "copies one parse costs.\n"
    )
    print("| Benchmark | bytes | time/call | GB/s | vs copy |")
    print("|---|---:|---:|---:|---:|")
    for group, bench, base, size, what in MICRO:
        t, tb = estimate(group, bench), estimate(group, base)
        if t is None:
            print(f"| {what} | {size} | n/a | n/a | n/a |")
            continue
        time = f"{t / 1000:,.2f} µs" if t >= 1000 else f"{t:,.2f} ns"
        gbs = size / t
        ratio = fmt_ratio(tb / t) if tb else "n/a"
        print(f"| {what} | {size:,} | {time} | {gbs:,.2f} | {ratio} |")
    print()


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"throughput": throughput, "callgrind": callgrind, "micro": micro, "check": check}[command](*args)
