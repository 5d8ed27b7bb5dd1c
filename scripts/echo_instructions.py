#!/usr/bin/env python3
"""Instructions the emulated board retires per 64-byte echo, from its own counters.

Run inside scripts/qemu-device with --icount (one instruction per virtual nanosecond, so that the
counters are exact), against the espws build or the raw TCP echo floor:

    scripts/qemu-device --icount -- python3 scripts/echo_instructions.py
    ESPWS_APP=raw-tcp-echo scripts/qemu-device --icount -- python3 scripts/echo_instructions.py --raw

Each run opens a connection, echoes N messages one at a time, and reads the board's busy
instruction count (instructions retired outside `wfi`) from GET /stats before and after; a run of
2N does the same. The difference of the two, divided by N, is the cost of one echo with the
connection's setup and the stats requests cancelled out. The host's TCP timing (delayed ACKs)
varies the number of frames the board handles, so pairs are repeated and the median reported.
Standard library only.
"""

import argparse
import base64
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request

PAYLOAD = bytes(range(64))


def stats(url):
    # The board has one stats socket, refused (RST) for a moment after each answer: retry.
    for attempt in range(50):
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.load(response)
        except urllib.error.URLError:
            if attempt == 49:
                raise
            time.sleep(0.1)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise RuntimeError("the board closed the connection")
        data += chunk
    return data


def websocket(host, port):
    sock = socket.create_connection((host, port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += recv_exact(sock, 1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"upgrade refused: {head!r}")
    mask = b"\x01\x02\x03\x04"
    frame = bytes([0x82, 0x80 | len(PAYLOAD)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(PAYLOAD))
    expected = bytes([0x82, len(PAYLOAD)]) + PAYLOAD
    return sock, frame, expected


def run(args, n):
    if args.raw:
        sock = socket.create_connection((args.host, args.port), timeout=10)
        frame, expected = PAYLOAD, PAYLOAD
    else:
        sock, frame, expected = websocket(args.host, args.port)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # One echo first, so that the connection is fully set up before counting.
    sock.sendall(frame)
    assert recv_exact(sock, len(expected)) == expected
    before = stats(args.stats)
    for _ in range(n):
        sock.sendall(frame)
        if recv_exact(sock, len(expected)) != expected:
            raise RuntimeError("the echo differs")
    after = stats(args.stats)
    sock.close()
    return after["busy_instret"] - before["busy_instret"], after["cycles"] - before["cycles"], after


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raw", action="store_true", help="the board runs the raw TCP echo floor")
    parser.add_argument("--n", type=int, default=1000, help="echoes in the first run (default 1000)")
    parser.add_argument("--repeat", type=int, default=5, help="pairs of runs; the median is reported (default 5)")
    parser.add_argument("--host", default=os.environ.get("ESPWS_HOST", "192.168.69.2"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ESPWS_PORT", "80")))
    parser.add_argument("--stats", default=os.environ.get("ESPWS_STATS_URL", "http://192.168.69.2:81/stats"))
    args = parser.parse_args()

    what = "raw TCP echo" if args.raw else "espws WebSocket echo"
    results = []
    for _ in range(args.repeat):
        one, _, _ = run(args, args.n)
        two, _, last = run(args, 2 * args.n)
        results.append((two - one) / args.n)
        print(f"{what}: {one} instructions for {args.n} echoes, {two} for {2 * args.n}: {results[-1]:.0f} per echo")
    per_echo = sorted(results)[len(results) // 2]
    print(f"{what}: {per_echo:.0f} RV32 instructions per 64-byte echo (median of {args.repeat}; "
          f"range {min(results):.0f} to {max(results):.0f})")
    print(f"stack high-water mark: {last['stack_used']} of {last['stack_size']} B; RAM {last['ram']} B (ceiling {last['ram_ceiling']} B)")
    print(json.dumps({"mode": "raw" if args.raw else "espws", "n": args.n, "per_echo": per_echo, "runs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
