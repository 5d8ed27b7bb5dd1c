"""Graceful shutdown of espws-sim, seen from its clients.

Starts the server command given (PORT in it is replaced by a free port), connects clients with
Python websockets, signals the server, and checks what the clients and the process show:

  sigterm-8-clients   SIGTERM with 8 echoing clients: each receives a 1001 close frame before
                      TCP ends, and the process exits 0 within --shutdown-timeout + 1 s.
  silent-client       one client that completed the upgrade but never answers: the 7 others
                      still get 1001, and the process still exits 0 within the timeout + 1 s.
  second-signal       SIGINT, then SIGINT again while a silent client holds the shutdown up:
                      the process exits at once (within 1 s of the second signal), code 130.
  peer-reset          a client that reads the 1001 and resets TCP instead of answering: the
                      process exits within 1 s of the reset, not at the timeout.
  fin-then-reset      the same after the client's end of stream, as when a client's close
                      crosses the shutdown (its FIN comes after the server shut its read side,
                      then its reset answers the 1001): within 1 s of the reset too.

  python shutdown_check.py --server-cmd "target/release/espws-sim --runtime tokio --port PORT"

With --tls the clients speak wss:// (trusting any certificate: pair it with the server's
--tls-self-signed), and the silent client's upgrade goes through TLS too.

Exit code 0 when every check passed.
"""

import argparse
import asyncio
import base64
import os
import shlex
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

import websockets
from websockets.asyncio.client import connect


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, deadline):
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


TLS = None  # an ssl.SSLContext when --tls is given


class Server:
    def __init__(self, command, log_path):
        self.port = free_port()
        argv = shlex.split(command.replace("PORT", str(self.port)))
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_for_port(self.port, time.monotonic() + 20):
            self.proc.kill()
            raise SystemExit(f"server did not listen on {self.port}; see {log_path}")

    def url(self):
        return f"{'wss' if TLS else 'ws'}://127.0.0.1:{self.port}/ws"

    def signal(self, signum):
        self.proc.send_signal(signum)

    def wait_exit(self, limit):
        """The exit code, or None (and the process killed) if it did not exit within `limit` s."""
        try:
            return self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def log_text(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


async def echoing_client(url, index):
    """A client that echoes once, then waits for the server's close; gives its close frame."""
    ws = await connect(url, open_timeout=10, ping_interval=None, ssl=TLS)
    payload = f"client {index}"
    await ws.send(payload)
    assert await ws.recv() == payload
    return ws


async def closed_by_server(ws, limit):
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout=limit)
    except websockets.ConnectionClosed:
        pass
    except asyncio.TimeoutError:
        return None
    return ws.protocol.close_rcvd  # None when TCP ended without a close frame


def silent_client(port):
    """A raw socket that upgrades and then never reads nor answers."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if TLS:
        s = TLS.wrap_socket(s)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1024)
        if not chunk:
            raise AssertionError("the server closed the silent client's upgrade")
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head[:40]
    return s


def read_close_frame(s):
    """The close code of the first frame the raw client `s` receives, which should be a close."""
    data = b""
    while len(data) < 4:
        chunk = s.recv(64)
        if not chunk:
            raise AssertionError(f"TCP ended before a close frame ({data!r})")
        data += chunk
    if data[0] != 0x88:
        raise AssertionError(f"the first frame is not a close: {data[:8]!r}")
    return int.from_bytes(data[2:4], "big")


def reset(s):
    """Ends `s` with a TCP reset: no lingering, so close() discards and resets."""
    # An SSLSocket's close() sends no close_notify: it resets as a plain socket does.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


async def resetting_client(args, log_dir, name, fin_first):
    """A client that gets the 1001 and resets TCP (after its own end of stream if `fin_first`)."""
    server = Server(args.server_cmd, os.path.join(log_dir, f"shutdown-{name}.log"))
    client = silent_client(server.port)
    client.settimeout(args.shutdown_timeout + 2)
    server.signal(signal.SIGTERM)
    problems = []
    code = read_close_frame(client)
    if code != 1001:
        problems.append(f"the close code was {code}, not 1001")
    if fin_first:
        # The end of stream alone, without TLS's close_notify: what a crossing close looks like
        # once the server has shut its read side.
        socket.socket.shutdown(client, socket.SHUT_WR)
        await asyncio.sleep(0.05)
    reset(client)
    reset_at = time.monotonic()
    exit_code = server.wait_exit(args.shutdown_timeout + 2)
    took = time.monotonic() - reset_at
    if exit_code != 0:
        problems.append(f"exit code {exit_code}, not 0")
    if took > 1:
        problems.append(f"exited {took:.2f} s after the reset, over 1 s: the reset went unnoticed")
    if "did not finish closing" in server.log_text():
        problems.append("the log counts the reset connection as left open")
    return problems, f"close {code}, reset; exit {exit_code} {took:.2f} s after the reset"


async def peer_reset(args, log_dir):
    return await resetting_client(args, log_dir, "reset", fin_first=False)


async def fin_then_reset(args, log_dir):
    return await resetting_client(args, log_dir, "fin-reset", fin_first=True)


def exit_problems(code, took, args):
    """What is wrong with a graceful exit: code 0 within --shutdown-timeout + 1 s of the signal."""
    problems = []
    if code != 0:
        problems.append(f"exit code {code}, not 0")
    if took > args.shutdown_timeout + 1:
        problems.append(f"exited {took:.2f} s after SIGTERM, over {args.shutdown_timeout + 1} s")
    return problems


async def sigterm_8_clients(args, log_dir):
    server = Server(args.server_cmd, os.path.join(log_dir, "shutdown-sigterm.log"))
    clients = [await echoing_client(server.url(), i) for i in range(8)]
    signalled = time.monotonic()
    server.signal(signal.SIGTERM)
    closes = await asyncio.gather(*(closed_by_server(ws, args.shutdown_timeout + 2) for ws in clients))
    code = server.wait_exit(args.shutdown_timeout + 2)
    took = time.monotonic() - signalled
    problems = []
    for i, close in enumerate(closes):
        if close is None:
            problems.append(f"client {i} saw TCP end without a close frame")
        elif close.code != 1001:
            problems.append(f"client {i} got close {close.code} ({close.reason!r}), not 1001")
    problems += exit_problems(code, took, args)
    if "closing every client with 1001" not in server.log_text():
        problems.append("the log does not say the shutdown began")
    reasons = sorted({c.reason for c in closes if c is not None})
    return problems, f"8 clients got 1001 {reasons}; exit {code} after {took:.2f} s"


async def with_silent_client(args, log_dir):
    server = Server(args.server_cmd, os.path.join(log_dir, "shutdown-silent.log"))
    clients = [await echoing_client(server.url(), i) for i in range(7)]
    silent = silent_client(server.port)
    signalled = time.monotonic()
    server.signal(signal.SIGTERM)
    closes = await asyncio.gather(*(closed_by_server(ws, args.shutdown_timeout + 2) for ws in clients))
    code = server.wait_exit(args.shutdown_timeout + 2)
    took = time.monotonic() - signalled
    silent.close()
    problems = []
    if any(c is None or c.code != 1001 for c in closes):
        problems.append(f"the answering clients got {[c and c.code for c in closes]}, not 1001 each")
    problems += exit_problems(code, took, args)
    if "did not finish closing" not in server.log_text():
        problems.append("the log does not name the connection left open")
    return problems, f"7 clients got 1001, 1 silent; exit {code} after {took:.2f} s"


async def second_signal(args, log_dir):
    server = Server(args.server_cmd, os.path.join(log_dir, "shutdown-second.log"))
    silent = silent_client(server.port)
    server.signal(signal.SIGINT)
    await asyncio.sleep(0.3)
    again = time.monotonic()
    server.signal(signal.SIGINT)
    code = server.wait_exit(2)
    took = time.monotonic() - again
    silent.close()
    problems = []
    if code != 130:
        problems.append(f"exit code {code}, not 130")
    if took > 1:
        problems.append(f"exited {took:.2f} s after the second SIGINT, over 1 s")
    return problems, f"exit {code} {took:.2f} s after the second SIGINT"


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-cmd", required=True, help="the server command; PORT is replaced")
    parser.add_argument("--shutdown-timeout", type=float, default=3.0, help="the server's --shutdown-timeout")
    parser.add_argument("--log-dir", default="reports")
    parser.add_argument("--tls", action="store_true", help="wss://, trusting any certificate")
    args = parser.parse_args()
    if args.tls:
        global TLS
        TLS = ssl.create_default_context()
        TLS.check_hostname = False
        TLS.verify_mode = ssl.CERT_NONE
    os.makedirs(args.log_dir, exist_ok=True)
    failed = 0
    for name, check in [
        ("sigterm-8-clients", sigterm_8_clients),
        ("silent-client", with_silent_client),
        ("second-signal", second_signal),
        ("peer-reset", peer_reset),
        ("fin-then-reset", fin_then_reset),
    ]:
        started = time.monotonic()
        try:
            problems, summary = await check(args, args.log_dir)
        except Exception as e:  # a check that could not run is a failure, said plainly
            problems, summary = [f"{type(e).__name__}: {e}"], "did not run"
        ms = (time.monotonic() - started) * 1000
        if problems:
            failed += 1
            print(f"FAIL {name} ({ms:.0f} ms): {'; '.join(problems)} [{summary}]")
        else:
            print(f"PASS {name} ({ms:.0f} ms): {summary}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
