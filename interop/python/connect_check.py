"""The device's client role against a server this project did not write (Python websockets).

Runs a websockets server, starts `espws-sim --connect` at it (the device dials out and runs its
echo app), and checks from the server's side:

  echo-binary-N / echo-text-N   what the server sends comes back identical (0 B to 1 MiB)
  fragmented-text                a text message sent as 3 frames, split inside a UTF-8
                                 character, comes back whole
  reconnect                      the server goes away (1001) for --down seconds and comes back;
                                 the device dials again by itself, and the time from the restart
                                 to the next open stays within the backoff's bound
  wrong-name (with --wrong-name-cert)
                                 over wss with a certificate for another name, the device refuses
                                 the server (no WebSocket opens) and says why in its log

  python connect_check.py --sim target/release/espws-sim [--tls CERT KEY --ca CA]
                          [--wrong-name-cert CERT KEY]

Exit code 0 when every check passed.
"""

import argparse
import asyncio
import os
import socket
import ssl
import subprocess
import sys
import time

from websockets.asyncio.server import serve

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]
# The backoff's delays (espws::client::reconnect::Policy::default): 0.5 s doubling, jitter only
# shortens them. A server down for `down` seconds sees at most the dials at 0.5 and 1.5 s fail
# (for down = 1), so the delay in force when it returns is at most 2 s.
FLOOR = 0.5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backoff_bound(down):
    """The longest the device can wait after a restart: the delay after the failures that fit
    in `down` seconds, each at least half its nominal length (the jitter)."""
    elapsed, delay = 0.0, FLOOR
    while elapsed + delay / 2 <= down:
        elapsed += delay / 2
        delay *= 2
    return delay


class Device:
    def __init__(self, sim, url, ca, log_path):
        argv = [sim, "--connect", url, "--max-message", str(2 << 20)]
        if ca:
            argv += ["--ca-file", ca]
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def log_text(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


async def run_checks(ws, results):
    for kind in ("binary", "text"):
        for n in SIZES:
            name = f"echo-{kind}-{n}"
            payload = os.urandom(n) if kind == "binary" else ("é" * (n // 2) + "a" * (n % 2))
            started = time.monotonic()
            await ws.send(payload)
            echoed = await asyncio.wait_for(ws.recv(), timeout=10)
            ok = echoed == payload
            results.append((name, ok, f"{len(payload)} {'bytes' if kind == 'binary' else 'chars'} "
                            f"{'echoed identically' if ok else 'came back different'} "
                            f"({(time.monotonic() - started) * 1000:.1f} ms)"))
    # U+20AC is e2 82 ac: the first frame ends inside it.
    fragments = ["price: \u20ac"[:-1], "\u20ac", " 42, three frames"]
    whole = "".join(fragments)
    await ws.send(fragments)
    echoed = await asyncio.wait_for(ws.recv(), timeout=10)
    results.append(("fragmented-text", echoed == whole, f"3 frames sent, {'whole' if echoed == whole else 'wrong'} message back"))


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", required=True)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve wss:// with this certificate")
    parser.add_argument("--ca", help="the CA the device is to trust (--ca-file)")
    parser.add_argument("--wrong-name-cert", nargs=2, metavar=("CERT", "KEY"),
                        help="also check that a certificate for another name is refused")
    parser.add_argument("--down", type=float, default=1.0, help="seconds the server stays away")
    parser.add_argument("--log-dir", default="reports")
    args = parser.parse_args()
    os.makedirs(args.log_dir, exist_ok=True)

    def context(cert, key):
        if not cert:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ctx

    tls = context(*(args.tls or (None, None)))
    scheme = "wss" if tls else "ws"
    port = free_port()
    url = f"{scheme}://127.0.0.1:{port}/"
    results = []
    opened = []  # monotonic time of each WebSocket open
    first_done = asyncio.Event()
    reopened = asyncio.Event()

    async def handler(ws):
        opened.append(time.monotonic())
        if len(opened) == 1:
            try:
                await run_checks(ws, results)
            except Exception as e:
                results.append(("echo", False, f"{type(e).__name__}: {e}"))
            first_done.set()
            await ws.wait_closed()
        else:
            reopened.set()
            await ws.wait_closed()

    device = None
    try:
        server = await serve(handler, "127.0.0.1", port, ssl=tls, max_size=None, ping_interval=None)
        device = Device(args.sim, url, args.ca, os.path.join(args.log_dir, f"connect-{scheme}.log"))
        try:
            await asyncio.wait_for(first_done.wait(), timeout=30)
        except asyncio.TimeoutError:
            results.append(("echo", False, "the device did not connect within 30 s"))
        # The restart: every connection gets 1001, the port is closed for `down` seconds.
        server.close()
        await server.wait_closed()
        await asyncio.sleep(args.down)
        restarted = time.monotonic()
        server = await serve(handler, "127.0.0.1", port, ssl=tls, max_size=None, ping_interval=None)
        bound = backoff_bound(args.down)
        try:
            await asyncio.wait_for(reopened.wait(), timeout=bound + 5)
            took = opened[-1] - restarted
            results.append(("reconnect", took <= bound + 0.5,
                            f"down {args.down:.1f} s; open again {took:.2f} s after the restart "
                            f"(backoff bound {bound:.1f} s, plus 0.5 s for the dial)"))
        except asyncio.TimeoutError:
            results.append(("reconnect", False, f"no new connection within {bound + 5:.1f} s of the restart"))
        server.close()
        await server.wait_closed()
    finally:
        if device:
            device.stop()

    if args.wrong_name_cert:
        wrong = context(*args.wrong_name_cert)
        port = free_port()
        handshakes = []
        server = await serve(lambda ws: handshakes.append(ws), "127.0.0.1", port, ssl=wrong)
        device = Device(args.sim, f"wss://127.0.0.1:{port}/", args.ca,
                        os.path.join(args.log_dir, "connect-wrong-name.log"))
        await asyncio.sleep(2.5)
        device.stop()
        server.close()
        await server.wait_closed()
        log = device.log_text()
        said = [line for line in log.splitlines() if "failed" in line and ("certificate" in line.lower() or "name" in line.lower())]
        ok = not handshakes and bool(said)
        detail = said[0].split("] ", 1)[-1] if said else "no certificate error in the device's log"
        results.append(("wrong-name", ok, f"{len(handshakes)} WebSocket(s) opened; device: {detail}"))

    failed = 0
    for name, ok, detail in results:
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
        failed += not ok
    print(f"connect_check ({scheme}): {len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
