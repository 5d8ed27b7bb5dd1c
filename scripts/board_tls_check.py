#!/usr/bin/env python3
"""The emulated board's TLS build, beyond what the interop clients check:

1. a plain-HTTP request on the TLS port is answered 400, naming the https URL;
2. CLIENTS wss connections at once (each echoes a message), after which the board's heap meter
   (its stats port) must show a peak within the heap the build gave mbedTLS. Prints the figures
   the RAM budget is made of: the heap for the certificate and key, and per connection while
   open and at the peak.

Usage: board_tls_check.py URL CA_PEM STATS_URL CLIENTS
"""
import asyncio
import json
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import websockets


def stats(url):
    # The board's stats socket listens again a moment after each answer (no listen backlog).
    for _ in range(50):
        try:
            return json.loads(urllib.request.urlopen(url, timeout=5).read())
        except OSError:
            time.sleep(0.1)
    raise SystemExit("board_tls_check: no answer from " + url)


def plain_http_is_refused(url):
    host = urllib.parse.urlsplit(url).netloc
    try:
        urllib.request.urlopen(f"http://{host}/", timeout=10)
    except urllib.error.HTTPError as answer:
        body = answer.read().decode(errors="replace")
        if answer.code == 400 and f"https://{host}/" in body:
            print(f"plain HTTP on the TLS port: 400, {body.strip()}")
            return
        raise SystemExit(f"board_tls_check: FAIL: plain HTTP got {answer.code}: {body!r}")
    raise SystemExit("board_tls_check: FAIL: plain HTTP on the TLS port was answered 200")


async def main(url, ca, stats_url, clients):
    plain_http_is_refused(url)
    context = ssl.create_default_context(cafile=ca)
    idle = stats(stats_url)
    if "heap_size" not in idle or idle["heap_size"] == 0:
        raise SystemExit("board_tls_check: the board has no TLS heap (not the tls build?)")
    connections = await asyncio.gather(
        *[websockets.connect(url, ssl=context, compression=None) for _ in range(clients)])
    for i, ws in enumerate(connections):
        message = bytes([i]) * 1000
        await ws.send(message)
        assert await ws.recv() == message, "echo over wss"
    open_ = stats(stats_url)
    for ws in connections:
        await ws.close()
    per_open = (open_["heap_used"] - idle["heap_used"]) / clients
    per_peak = (open_["heap_peak"] - idle["heap_used"]) / clients
    print(f"TLS heap: certificate and key {idle['heap_used']} B; {clients} connections at once: "
          f"{open_['heap_used']} B in use ({per_open:.0f} B each), peak {open_['heap_peak']} B "
          f"({per_peak:.0f} B each) of {open_['heap_size']} B; stack {open_['stack_used']} of "
          f"{open_['stack_size']} B")
    if open_["heap_peak"] > open_["heap_size"]:
        raise SystemExit("board_tls_check: FAIL: the peak passed the heap the build gave mbedTLS")
    print("board_tls_check: PASS")


if __name__ == "__main__":
    url, ca, stats_url, clients = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    asyncio.run(main(url, ca, stats_url, clients))
