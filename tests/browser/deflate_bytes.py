#!/usr/bin/env python3
"""Bytes on the wire for a stream of JSON sensor readings, with and without permessage-deflate.

    deflate_bytes.py --sim target/release/espws-sim [--count N] [--seed S] [--window W]

Starts two espws-sim echo servers on free loopback ports, one with its defaults (it agrees to
permessage-deflate) and one with --no-deflate, each with --allow-origin for its own page. For
each, headless Chromium loads the console from the simulator, then in the page opens
ws://127.0.0.1:RELAY/ws through a counting TCP relay on loopback that forwards to the
simulator, sends N readings (10,000 by default, about 120 bytes of JSON each, from a seeded RNG)
one message each, and waits for every echo, which must be identical to what was sent. The relay
counts the TCP payload bytes in each direction, the HTTP handshake and the closing handshake
included. Prints a table of the two runs and the ratios.

Run it with the browser venv's python (scripts/browser-test sets the venv up):

    ~/.cache/espws-tools/browser-venv/bin/python tests/browser/deflate_bytes.py --sim target/release/espws-sim

Uses Debian's /usr/bin/chromium and /usr/bin/chromedriver with console_test.py's options;
nothing is downloaded. Exit status 0 when both runs passed, 1 when the deflate run did not
agree to permessage-deflate, the --no-deflate run did, or an echo differed, 2 on bad usage.
"""

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Selenium Manager must not run (console_test.make_driver gives an explicit driver path); make
# sure it stays offline even so, as scripts/browser-test does.
os.environ["SE_OFFLINE"] = "true"

from selenium.common.exceptions import WebDriverException  # noqa: E402

from console_test import CheckFailed, make_driver  # noqa: E402

HOST = "127.0.0.1"
RUN_TIMEOUT = 600  # seconds, the bound of one run's stream in the page
STALL = 20  # seconds without an echo that fail a run


def readings(count, seed):
    """`count` JSON readings of a 1 Hz sensor, about 120 bytes each, from a seeded RNG."""
    rng = random.Random(seed)
    t = 1764547200000
    temp, rh, pressure, battery = 21.37, 44.1, 1013.2, 4.105
    out = []
    for seq in range(count):
        t += 1000 + rng.randint(-4, 4)
        temp += rng.gauss(0, 0.04) + (21.5 - temp) * 0.002
        rh += rng.gauss(0, 0.08) + (45.0 - rh) * 0.003
        pressure += rng.gauss(0, 0.03)
        battery -= rng.random() * 0.00002
        reading = {"dev": "gh3", "seq": seq, "t": t, "temp": round(temp, 2),
                   "rh": round(rh, 1), "pressure": round(pressure, 1), "battery": round(battery, 3),
                   "rssi": -62 + rng.randint(-6, 6), "ok": rng.random() > 0.002}
        out.append(json.dumps(reading, separators=(",", ":")))
    return out


class Relay:
    """A TCP relay on loopback that forwards every connection to `target` and counts the bytes
    in each direction; it keeps the first HTTP head each way (the handshake)."""

    def __init__(self, target_port):
        self.target = (HOST, target_port)
        self.lock = threading.Lock()
        self.c2s = self.s2c = 0
        self.connections = 0
        self.open_pumps = 0
        self.heads = {"c2s": b"", "s2c": b""}
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.connections += 1
                self.open_pumps += 2
                self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, "c2s"), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "s2c"), daemon=True).start()

    def _pump(self, src, dst, way):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    setattr(self, way, getattr(self, way) + len(data))
                    head = self.heads[way]
                    if b"\r\n\r\n" not in head and len(head) < 16384:
                        self.heads[way] = head + data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            with self.lock:
                self.open_pumps -= 1

    def header(self, way, name):
        """A header of the first HTTP head in direction `way`, or None."""
        head = self.heads[way].split(b"\r\n\r\n", 1)[0].decode("latin-1")
        for line in head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    def head_bytes(self, way):
        head = self.heads[way]
        end = head.find(b"\r\n\r\n")
        return end + 4 if end >= 0 else None

    def wait_closed(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.connections and self.open_pumps == 0:
                    return True
            time.sleep(0.05)
        return False

    def close(self):
        self.listener.close()
        for s in self.sockets:
            s.close()


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Sim:
    """An espws-sim echo server on a free loopback port; its page's origin allowed."""

    def __init__(self, binary, extra):
        self.port = free_port()
        self.origin = f"http://{HOST}:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="espws-sim-", suffix=".log", delete=False)
        self.cmd = [binary, "--port", str(self.port), "--allow-origin", self.origin,
                    "--shutdown-timeout", "1", *extra]
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise CheckFailed(f"{' '.join(self.cmd)} exited with {self.proc.returncode}: {self.log_text()}")
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise CheckFailed(f"{' '.join(self.cmd)} is not listening after 10 s: {self.log_text()}")
                time.sleep(0.05)

    def log_text(self):
        return Path(self.log.name).read_text(errors="replace").strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


STREAM_JS = r"""
const [url, messages, windowSize, stallMs, done] = arguments;
const started = performance.now();
let sent = 0, got = 0, bad = 0, firstBad = -1, firstBadText = null, last = performance.now();
const ws = new WebSocket(url);
let finished = false;
function finish(result) {
  if (finished) return;
  finished = true;
  clearInterval(watch);
  done(Object.assign({ extensions: ws.extensions, sent, got, bad, firstBad, firstBadText,
                       ms: performance.now() - started }, result));
}
const watch = setInterval(() => {
  if (performance.now() - last > stallMs)
    finish({ error: 'no echo for ' + stallMs / 1000 + ' s after ' + got + ' of ' + messages.length });
}, 500);
function pump() {
  while (sent < messages.length && sent - got < windowSize) ws.send(messages[sent++]);
}
ws.onopen = () => { last = performance.now(); pump(); };
ws.onerror = () => finish({ error: 'WebSocket error on ' + url });
ws.onmessage = (e) => {
  last = performance.now();
  if (e.data !== messages[got]) {
    bad++;
    if (firstBad < 0) { firstBad = got; firstBadText = String(e.data).slice(0, 200); }
  }
  got++;
  if (got === messages.length) {
    ws.onclose = (c) => finish({ closeCode: c.code, wasClean: c.wasClean });
    ws.close(1000, 'done');
  } else {
    pump();
  }
};
ws.onclose = (c) => finish({ error: 'closed with ' + c.code + ' after ' + got + ' echoes of ' + messages.length });
"""


def run(driver, binary, name, extra, messages, window):
    """One run against a fresh simulator: the relay's counts and the page's report."""
    sim = Sim(binary, extra)
    relay = Relay(sim.port)
    try:
        page = f"http://{HOST}:{sim.port}/"
        try:
            driver.get(page)
        except WebDriverException as err:
            raise CheckFailed(f"cannot load {page}: {(err.msg or '').strip()}") from None
        url = f"ws://{HOST}:{relay.port}/ws"
        driver.set_script_timeout(RUN_TIMEOUT)
        report = driver.execute_async_script(STREAM_JS, url, messages, window, STALL * 1000)
        closed = relay.wait_closed(10)
        with relay.lock:
            result = {
                "name": name, "cmd": " ".join(sim.cmd), "url": url, "page": page,
                "c2s": relay.c2s, "s2c": relay.s2c, "connections": relay.connections,
                "closed": closed, "offer": relay.header("c2s", "Sec-WebSocket-Extensions"),
                "answer": relay.header("s2c", "Sec-WebSocket-Extensions"),
                "status": relay.heads["s2c"].split(b"\r\n", 1)[0].decode("latin-1"),
                "head_c2s": relay.head_bytes("c2s"), "head_s2c": relay.head_bytes("s2c"),
                **report,
            }
        return result
    finally:
        relay.close()
        sim.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sim", required=True, help="the espws-sim binary, e.g. target/release/espws-sim")
    ap.add_argument("--count", type=int, default=10_000, help="readings sent (default 10000)")
    ap.add_argument("--seed", type=int, default=7692, help="the readings' RNG seed (default 7692)")
    ap.add_argument("--window", type=int, default=64,
                    help="messages in flight at most, sent and not yet echoed (default 64)")
    args = ap.parse_args()
    if not os.access(args.sim, os.X_OK):
        ap.error(f"--sim {args.sim}: not an executable")
    if args.count < 1 or args.window < 1:
        ap.error("--count and --window must be at least 1")
    binary = str(Path(args.sim).resolve())

    messages = readings(args.count, args.seed)
    payload = sum(len(m.encode()) for m in messages)
    print(f"{args.count} readings (seed {args.seed}), {payload} bytes of JSON, "
          f"{payload / args.count:.1f} bytes each on average, e.g.\n  {messages[0]}", flush=True)

    failures = []
    results = []
    driver = None
    try:
        driver = make_driver()
        print(f"ok   started {driver.capabilities.get('browserName')} "
              f"{driver.capabilities.get('browserVersion')} headless", flush=True)
        for name, extra, want_deflate in (("deflate", [], True), ("no-deflate", ["--no-deflate"], False)):
            r = run(driver, binary, name, extra, messages, args.window)
            results.append(r)
            ext = r.get("extensions") or ""
            mine = []
            if r.get("error"):
                mine.append(f"{name}: {r['error']}")
            if r.get("bad"):
                mine.append(f"{name}: {r['bad']} echoes differ, the first at message {r['firstBad']}: "
                            f"{r['firstBadText']!r}, sent {messages[r['firstBad']]!r}")
            if want_deflate and not ext.startswith("permessage-deflate"):
                mine.append(f"{name}: permessage-deflate was not agreed (ws.extensions {ext!r}, "
                            f"Sec-WebSocket-Extensions answer {r['answer'] or '(none)'})")
            if not want_deflate and ext:
                mine.append(f"{name}: --no-deflate agreed to {ext!r}")
            if r["connections"] != 1:
                mine.append(f"{name}: {r['connections']} connections through the relay, not 1")
            if not r["closed"]:
                mine.append(f"{name}: the relayed connection was still open 10 s after the close")
            print(f"{'FAIL' if mine else 'ok  '} {name}: {r['cmd']}\n"
                  f"     page {r['page']}, WebSocket {r['url']} through the relay: {r['status']!r}\n"
                  f"     Sec-WebSocket-Extensions offer {r['offer'] or '(none)'!r}, "
                  f"answer {r['answer'] or '(none)'!r}, ws.extensions {ext!r}\n"
                  f"     {r.get('got', 0)} of {r.get('sent', 0)} sent echoed, {r.get('bad', 0)} different, "
                  f"in {r.get('ms', 0) / 1000:.1f} s; close {r.get('closeCode')}, "
                  f"{r['connections']} relay connection(s)", flush=True)
            failures += mine
    except Exception as err:  # noqa: BLE001 - every failure ends the test with a message
        if isinstance(err, WebDriverException):
            msg = f"{type(err).__name__}: {(err.msg or '').strip()}"
        else:
            msg = str(err) or type(err).__name__
        failures.append(msg)
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001
                pass
            shutil.rmtree(driver.espws_profile, ignore_errors=True)

    if len(results) == 2 and all(r["c2s"] and r["s2c"] for r in results):
        d, p = results
        print()
        print(f"bytes on the wire through the relay (TCP payload; the HTTP handshake and the close "
              f"included), {args.count} messages of {payload} bytes in all:")
        rows = [("", "client->server", "server->client", "negotiated extension")]
        for r in results:
            rows.append((r["name"], str(r["c2s"]), str(r["s2c"]), r.get("extensions") or "(none)"))
        rows.append(("deflate/none", f"{d['c2s'] / p['c2s']:.3f}", f"{d['s2c'] / p['s2c']:.3f}", ""))
        rows.append(("none/deflate", f"{p['c2s'] / d['c2s']:.2f}x", f"{p['s2c'] / d['s2c']:.2f}x", ""))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            print(f"  {row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip())
        print(f"  handshake bytes: deflate {d['head_c2s']} / {d['head_s2c']}, "
              f"no-deflate {p['head_c2s']} / {p['head_s2c']} (request / response)")
        for r in results:
            print(f"  {r['name']}: {(r['c2s'] - (r['head_c2s'] or 0)) / args.count:.1f} bytes per message "
                  f"client->server, {(r['s2c'] - (r['head_s2c'] or 0)) / args.count:.1f} server->client, "
                  f"after the handshake ({payload / args.count:.1f} bytes of JSON each)")

    if failures:
        for f in failures:
            print(f"FAIL {f}", file=sys.stderr, flush=True)
        return 1
    print("deflate_bytes: both runs passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
