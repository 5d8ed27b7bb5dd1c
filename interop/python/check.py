#!/usr/bin/env python3
"""Interop checks of a WebSocket echo server, using the Python `websockets` library.

Usage: check.py ws://HOST:PORT/PATH

Every check opens its own connection, so one failure does not cascade into the
next. Every wait is bounded by ESPWS_INTEROP_TIMEOUT seconds (default 10).
Exit code: 0 if all checks pass, 1 if any fails, 2 on bad usage.
"""
import asyncio
import os
import random
import sys
import time

import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK
from websockets.protocol import State

CLIENT = f"python-websockets-{websockets.__version__}"
TIMEOUT = float(os.environ.get("ESPWS_INTEROP_TIMEOUT", "10"))
SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1048576]

# No compression (so frame lengths on the wire are the sizes above, exercising
# the 7-bit / 16-bit / 64-bit length encodings), no keepalive pings (they would
# interfere with the ping check), no message size limit.
CONNECT_KW = dict(
    compression=None,
    ping_interval=None,
    max_size=None,
    open_timeout=TIMEOUT,
    close_timeout=TIMEOUT,
)

# Characters by UTF-8 length, used to build text of an exact byte length.
CHARS = {
    1: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-_/\\\"'{}[]<>~",
    2: "éßñüЖжπλΩ߀",
    3: "€中文あア✓☃한",
    4: "😀🎉🦀𝄞🚀🌍",
}


def make_text(nbytes: int, seed: int) -> str:
    """Text whose UTF-8 encoding is exactly nbytes long, mixing 1-4 byte characters."""
    rng = random.Random(seed)
    out = []
    left = nbytes
    while left > 0:
        k = rng.randint(1, min(4, left))
        out.append(rng.choice(CHARS[k]))
        left -= k
    s = "".join(out)
    assert len(s.encode("utf-8")) == nbytes
    return s


def make_binary(nbytes: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(nbytes)


def first_diff(a: bytes, b: bytes) -> str:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return f"first difference at byte {i}: sent 0x{a[i]:02x}, got 0x{b[i]:02x}"
    return f"length differs: sent {len(a)} bytes, got {len(b)} bytes"


class CheckFailed(Exception):
    pass


async def within(aw, what: str):
    try:
        return await asyncio.wait_for(aw, TIMEOUT)
    except asyncio.TimeoutError:
        raise CheckFailed(f"timeout after {TIMEOUT:g} s waiting for {what}") from None


async def check_echo(url: str, kind: str, size: int) -> str:
    seed = size * 2 + (kind == "text")
    msg = make_text(size, seed) if kind == "text" else make_binary(size, seed)
    sent = msg.encode("utf-8") if kind == "text" else msg
    async with connect(url, **CONNECT_KW) as ws:
        # Receive while sending: a server with a small buffer (a device) streams the echo back
        # as fragments while the message is still arriving, and websockets stops reading after
        # max_queue (16) unread frames, which would stall both directions.
        echo = asyncio.ensure_future(ws.recv())
        try:
            await within(ws.send(msg), "send to complete")
            got = await within(echo, "echo")
        finally:
            echo.cancel()
    if kind == "text" and not isinstance(got, str):
        raise CheckFailed(f"sent a text message, echo came back as binary ({len(got)} bytes)")
    if kind == "binary" and not isinstance(got, bytes):
        raise CheckFailed(f"sent a binary message, echo came back as text")
    got_b = got.encode("utf-8") if isinstance(got, str) else got
    if got_b != sent:
        raise CheckFailed(first_diff(sent, got_b))
    extra = f", {len(msg)} chars" if kind == "text" else ""
    return f"{size} bytes{extra} echoed identically"


async def check_fragmented(url: str, fragments: list, label: str) -> str:
    whole = b"".join(fragments)
    text = whole.decode("utf-8")  # the whole message is valid UTF-8
    for f in fragments:
        try:
            f.decode("utf-8")
        except UnicodeDecodeError:
            break
    else:
        raise AssertionError("test bug: no fragment splits a code point")
    desc = " | ".join(f"{len(f)}B ...{f[-3:].hex(' ')}" if i == 0 else
                      f"{len(f)}B {f[:3].hex(' ')}..." for i, f in enumerate(fragments))
    async with connect(url, **CONNECT_KW) as ws:
        # An iterable of bytes with text=True: websockets sends each item as its
        # own frame (TEXT fin=0, then CONT fin=0 ...), raw bytes unchanged, and
        # ends the message with an empty CONT fin=1 frame.
        await within(ws.send(fragments, text=True), "send to complete")
        got = await within(ws.recv(), "echo")
    if not isinstance(got, str):
        raise CheckFailed("sent a fragmented text message, echo came back as binary")
    if got.encode("utf-8") != whole:
        raise CheckFailed(first_diff(whole, got.encode("utf-8")))
    return (f"{label}: sent {len(fragments)} data frames [{desc}] + empty final CONT frame, "
            f"echo equals the whole {len(whole)}-byte text")


async def check_ping(url: str) -> str:
    payload = b"espws-ping-" + random.randbytes(8).hex().encode()
    async with connect(url, **CONNECT_KW) as ws:
        # websockets completes this waiter only when a pong with the same
        # payload arrives.
        waiter = await within(ws.ping(payload), "ping to be sent")
        latency = await within(waiter, "pong with matching payload")
    return f"pong with payload {payload.decode()!r} received after {latency * 1000:.1f} ms"


async def check_close(url: str) -> str:
    ws = await within(connect(url, **CONNECT_KW), "connection")
    t0 = time.monotonic()
    await within(ws.close(1000, "interop done"), "close handshake")
    elapsed = time.monotonic() - t0
    p = ws.protocol
    if p.close_rcvd is None:
        raise CheckFailed(f"no close frame received from the server (waited {elapsed:.2f} s)")
    if p.close_rcvd.code != 1000:
        raise CheckFailed(f"server close frame has code {p.close_rcvd.code} "
                          f"(reason {p.close_rcvd.reason!r}), expected 1000")
    if p.close_sent is None or p.close_sent.code != 1000 or p.close_rcvd_then_sent:
        raise CheckFailed("client-initiated close with 1000 was not the first close frame")
    if p.state is not State.CLOSED:
        raise CheckFailed(f"connection state is {p.state.name}, expected CLOSED")
    if elapsed >= TIMEOUT * 0.9:
        raise CheckFailed(f"close took {elapsed:.2f} s: the server did not close the TCP connection")
    try:
        await within(ws.recv(), "recv after close")
        raise CheckFailed("recv() returned a message after the close handshake")
    except ConnectionClosedOK:
        pass
    return f"server answered with close code 1000 (reason {p.close_rcvd.reason!r}); handshake + TCP close in {elapsed * 1000:.1f} ms"


async def main(url: str) -> int:
    checks = []
    for kind in ("text", "binary"):
        for size in SIZES:
            checks.append((f"echo-{kind}-{size}", lambda k=kind, s=size: check_echo(url, k, s)))
    euro = [b"fragment one: price 5 \xe2\x82", b"\xac, fragment two"]
    emoji = [b"three frames: \xf0", b"\x9f\x98", b"\x80 <- grinning face"]
    checks.append(("fragmented-text-split-3byte-char",
                   lambda: check_fragmented(url, euro, "U+20AC EURO SIGN (e2 82 | ac)")))
    checks.append(("fragmented-text-split-4byte-char",
                   lambda: check_fragmented(url, emoji, "U+1F600 GRINNING FACE (f0 | 9f 98 | 80)")))
    checks.append(("ping-pong", lambda: check_ping(url)))
    checks.append(("close-1000", lambda: check_close(url)))

    print(f"[{CLIENT}] checking {url} (timeout {TIMEOUT:g} s per wait)")
    passed = failed = 0
    t_start = time.monotonic()
    for name, fn in checks:
        t0 = time.monotonic()
        try:
            detail = await fn()
            ok = True
        except CheckFailed as e:
            detail, ok = str(e), False
        except Exception as e:  # connection refused, protocol errors, closed connection...
            detail, ok = f"{type(e).__name__}: {e}", False
        ms = (time.monotonic() - t0) * 1000
        if ok:
            passed += 1
        else:
            failed += 1
        print(f"{'PASS' if ok else 'FAIL'} {name} ({ms:.1f} ms): {detail}", flush=True)
    total = time.monotonic() - t_start
    print(f"[{CLIENT}] total time {total:.2f} s")
    print(f"{CLIENT}: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].startswith(("ws://", "wss://")):
        print("usage: check.py ws://HOST:PORT/PATH", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1])))
