#!/usr/bin/env python3
"""Headless-Chromium test of the espws web console, driven by WebDriver.

    console_test.py BASE_URL [--token T] [--sensor-url URL] [--out DIR]

BASE_URL is where the server serves the console (e.g. http://127.0.0.1:9998/);
the server must run the echo app on /ws and agree to permessage-deflate
(espws-sim's default; one started with --no-deflate fails the deflate check).
Uses Debian's /usr/bin/chromium and /usr/bin/chromedriver, never Selenium
Manager (nothing is downloaded).
Run it through scripts/browser-test, which installs what it needs.

Screenshots go to reports/browser/ (console.png, console-mobile.png,
console-mobile-dark.png, console-plot-echo.png, and console-plot.png with
--sensor-url). Exit status 0 when every check passed, 1 on the
first failed check, 2 on bad usage.
"""

import argparse
import base64
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

import plot_checks

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 20  # seconds, the bound of every wait
BIN_SIZE = 71680  # 70 KiB
TEXT = "héllo wörld ✓ 😀 — ünïcödé"
TEXT2 = "second message: ∑ ≠ ∞, 中文, Ελληνικά"
HEX_IN = "de ad be ef 00 01 7f 80 ff"
HEX_PREVIEW = "de ad be ef 00 01 7f 80 ff"

ROOT = Path(__file__).resolve().parents[2]


class CheckFailed(Exception):
    pass


def deterministic_bytes(n):
    """n bytes from a fixed LCG: every byte value occurs, no short period."""
    out = bytearray(n)
    x = 0x2545F491
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


def make_driver():
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            raise CheckFailed(f"{path} not found: install Debian's chromium and chromium-driver "
                              "(scripts/browser-test does)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="espws-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900",
                 # exact heap figures, and gc(), for the plotter's memory check
                 "--enable-precise-memory-info", "--js-flags=--expose-gc",
                 f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    # Extra Chromium flags, e.g. a test certificate's pin for https (--ignore-certificate-errors-spki-list).
    for flag in os.environ.get("ESPWS_CHROMIUM_FLAGS", "").split():
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager is not used, nothing is downloaded.
    service = Service(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    driver.espws_profile = profile
    return driver


def with_token(url, token):
    if token is None:
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + [("token", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def received(driver):
    """The received log entries: [{kind, size, text}], oldest first."""
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('#log [data-dir="in"]')).map(e => ({
            kind: e.dataset.kind, size: Number(e.dataset.size),
            text: (e.querySelector('.m') || e).textContent}));""")


def wait_for(driver, what, cond):
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(lambda d: cond(d))
    except TimeoutException:
        raise CheckFailed(f"timed out after {WAIT} s waiting for {what}") from None


def wait_echo(driver, after, kind, size, text=None):
    """Wait for a received entry past index `after` with this kind and size (and text)."""
    def match(d):
        for e in received(d)[after:]:
            if e["kind"] == kind and e["size"] == size and (text is None or e["text"] == text):
                return e
        return None
    what = f"a received {kind} message of {size} bytes" + (f" reading {text!r}" if text else "")
    try:
        return wait_for(driver, what, match)
    except CheckFailed as err:
        got = received(driver)[after:]
        raise CheckFailed(f"{err}; received since: {got[-5:]!r}") from None


def text_of(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text.strip()


INTEROP_JS = r"""
const [url, done] = arguments;
const passed = [];
const sizes = [0, 1, 125, 126, 127, 65535, 65536, 1048576];
// Text of exactly n UTF-8 bytes, with multi-byte characters in it.
function textOf(n) {
  const parts = [];
  let left = n;
  while (left >= 3) { parts.push(left % 7 === 0 ? 'a' : '€'); left -= parts[parts.length - 1] === 'a' ? 1 : 3; }
  parts.push('é'.repeat(Math.floor(left / 2)), 'z'.repeat(left % 2));
  return parts.join('');
}
function bytesOf(n) { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255; return b; }
function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error('could not connect to ' + url));
  });
}
function echo(ws, message) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo within 20 s')), 20000);
    ws.onmessage = (e) => { clearTimeout(timer); resolve(e.data); };
    ws.onclose = (e) => { clearTimeout(timer); reject(new Error('closed with ' + e.code + ' before the echo')); };
    ws.send(message);
  });
}
function sameBytes(a, b) {
  const x = new Uint8Array(a), y = new Uint8Array(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
(async () => {
  const ws = await open();
  for (const n of sizes) {
    const text = textOf(n);
    const back = await echo(ws, text);
    if (back !== text) throw new Error('text of ' + n + ' bytes came back different');
    const bin = bytesOf(n);
    const backBin = await echo(ws, bin);
    if (!sameBytes(backBin, bin.buffer)) throw new Error('binary of ' + n + ' bytes came back different');
  }
  passed.push('browser echo of text and binary at ' + sizes.join(', ') + ' bytes');
  const euros = '€'.repeat(349525) + 'x';
  if ((await echo(ws, euros)) !== euros) throw new Error('fragmented text came back different');
  passed.push('browser reassembles 1 MiB of text the server sends in fragments split inside code points');
  await new Promise((r) => setTimeout(r, 3500));
  if (ws.readyState !== WebSocket.OPEN) throw new Error('closed while idle: the browser did not answer pings');
  if ((await echo(ws, 'still here')) !== 'still here') throw new Error('no echo after the idle time');
  passed.push('browser answers the server\'s pings: still open after 3.5 s idle with 1 s ping interval and pong timeout');
  const closed = await new Promise((resolve) => { ws.onclose = resolve; ws.close(1000, 'done'); });
  if (closed.code !== 1000 || !closed.wasClean) throw new Error('close ended with ' + closed.code + ', clean ' + closed.wasClean);
  passed.push('browser clean close: code 1000, wasClean true');
  done({ passed });
})().catch((e) => done({ error: String(e && e.message || e), passed }));
"""

# A WebSocket of its own to the console's URL: the permessage-deflate the server agreed to, and the
# echo of a large, repetitive text message (JSON readings), compressed both ways.
DEFLATE_SIZE = 256 * 1024
DEFLATE_JS = r"""
const [url, size, done] = arguments;
// Lines of JSON readings, deterministic, cut to exactly `size` bytes (all ASCII).
function readings(n) {
  const lines = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const line = JSON.stringify({t: 1764547200000 + i * 20, temp: +(21.37 + (i % 17) * 0.01).toFixed(2),
                                 rh: +(44.1 + (i % 5) * 0.1).toFixed(1), pressure: 1013.2, seq: i});
    lines.push(line);
    len += line.length + 1;
  }
  return lines.join('\n').slice(0, n);
}
(async () => {
  const ws = await new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error('could not connect to ' + url));
  });
  const extensions = ws.extensions;
  const text = readings(size);
  const back = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo within 20 s')), 20000);
    ws.onmessage = (e) => { clearTimeout(timer); resolve(e.data); };
    ws.onclose = (e) => { clearTimeout(timer); reject(new Error('closed with ' + e.code + ' before the echo')); };
    ws.send(text);
  });
  let first = -1;
  if (back !== text) {
    first = 0;
    while (first < back.length && first < text.length && back[first] === text[first]) first++;
  }
  const closed = await new Promise((resolve) => { ws.onclose = resolve; ws.close(1000, 'done'); });
  done({ extensions, sent: text.length, back: typeof back === 'string' ? back.length : -1,
         same: back === text, first, head: text.slice(0, 80), closeCode: closed.code });
})().catch((e) => done({ error: String(e && e.message || e) }));
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base_url", help="where the console is served, e.g. http://127.0.0.1:9998/")
    ap.add_argument("--token", help="add ?token=T to the page URL (the page passes it on to /ws)")
    ap.add_argument("--sensor-url", help="a console served by the sensor app (--rate 50): its plot is "
                    "checked and screenshot as console-plot.png")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "browser",
                    help="directory for screenshots (default: reports/browser)")
    args = ap.parse_args()
    if not re.match(r"https?://", args.base_url):
        ap.error("BASE_URL must start with http:// or https://")
    args.out.mkdir(parents=True, exist_ok=True)

    passed = []

    def ok(name):
        passed.append(name)
        print(f"ok   {name}", flush=True)

    driver = None
    try:
        driver = make_driver()
        ok(f"started {driver.capabilities.get('browserName')} "
           f"{driver.capabilities.get('browserVersion')} headless")
        url = with_token(args.base_url, args.token)
        try:
            driver.get(url)
        except WebDriverException as err:
            raise CheckFailed(f"cannot load {url} (is the server running?): {(err.msg or '').strip()}") from None
        if not driver.execute_script("return !!(window.espwsConsole && document.getElementById('state'))"):
            body = driver.execute_script("return document.documentElement.outerHTML")[:200]
            raise CheckFailed(f"{url} did not serve the console page (title {driver.title!r}): {body!r}")
        ok(f"loaded the console from {url}")

        wait_for(driver, "#state to read 'open'",
                 lambda d: "open" in text_of(d, "#state"))
        ws_url = driver.execute_script("return window.espwsConsole.url")
        if args.token is not None and dict(parse_qsl(urlsplit(ws_url).query)).get("token") != args.token:
            raise CheckFailed(f"the WebSocket URL {ws_url!r} does not carry the token")
        ok(f"connected: #state reads {text_of(driver, '#state')!r}, WebSocket {ws_url}")

        # 1. non-ASCII text typed into the text box, sent with Enter
        box = driver.find_element(By.ID, "text")
        box.clear()
        box.send_keys(TEXT)
        if box.get_attribute("value") != TEXT:
            # ChromeDriver cannot type characters outside the BMP (the emoji): put the
            # value in as a paste would, and still send with Enter in the text box.
            driver.execute_script(
                "arguments[0].value = arguments[1];"
                "arguments[0].dispatchEvent(new Event('input', {bubbles: true}))", box, TEXT)
            print("note ChromeDriver could not type the emoji: text box value set by script, sent with Enter")
        n = len(received(driver))
        box.send_keys(Keys.ENTER)
        wait_echo(driver, n, "text", len(TEXT.encode()), TEXT)
        if box.get_attribute("value") != "":
            raise CheckFailed("the text box was not emptied after sending")
        ok(f"text echo via Enter: {TEXT!r} ({len(TEXT.encode())} bytes UTF-8)")

        # 2. more text, sent with the Send button
        box.send_keys(TEXT2)
        n = len(received(driver))
        driver.find_element(By.ID, "send").click()
        wait_echo(driver, n, "text", len(TEXT2.encode()), TEXT2)
        ok(f"text echo via #send: {TEXT2!r}")

        # 3. a 70 KiB binary message through the page's own code path
        data = deterministic_bytes(BIN_SIZE)
        want = hashlib.sha256(data).hexdigest()
        n = len(received(driver))
        sent = driver.execute_script("""
            const s = atob(arguments[0]), u = new Uint8Array(s.length);
            for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
            return window.espwsConsole.sendBinary(u);""", base64.b64encode(data).decode())
        if sent is not True:
            raise CheckFailed(f"espwsConsole.sendBinary returned {sent!r}, not true")
        wait_echo(driver, n, "binary", BIN_SIZE)
        echoed_b64 = driver.execute_script("""
            const u = window.espwsConsole.lastBinary;
            if (!u) return null;
            let s = '';
            for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode.apply(null, u.subarray(i, i + 8192));
            return btoa(s);""")
        if echoed_b64 is None:
            raise CheckFailed("espwsConsole.lastBinary is not set after a binary echo")
        echoed = base64.b64decode(echoed_b64)
        got = hashlib.sha256(echoed).hexdigest()
        if echoed != data:
            first = next((i for i, (a, b) in enumerate(zip(echoed, data)) if a != b), min(len(echoed), len(data)))
            raise CheckFailed(f"binary echo differs: {len(echoed)} bytes, sha256 {got}, want {BIN_SIZE} bytes, "
                              f"sha256 {want}; first difference at byte {first}")
        ok(f"binary echo of {BIN_SIZE} bytes, content identical (sha256 {want[:16]}…)")

        # 4. invalid hex is refused with a clear message, and nothing is sent
        hexbox = driver.find_element(By.ID, "hex")
        sent_before = text_of(driver, "#sent")
        for bad, expect in (("de ad zz", "not a hex digit"), ("abc", "odd number")):
            hexbox.clear()
            hexbox.send_keys(bad)
            driver.find_element(By.ID, "send-hex").click()
            wait_for(driver, f"an error for hex {bad!r}",
                     lambda d: expect in text_of(d, "#hex-err"))
            if text_of(driver, "#sent") != sent_before:
                raise CheckFailed(f"invalid hex {bad!r} was sent anyway")
        ok(f"invalid hex refused: {text_of(driver, '#hex-err')!r}")

        # 5. a short hex message, sent with the Send hex button
        hexbox.clear()
        hexbox.send_keys(HEX_IN)
        if text_of(driver, "#hex-err"):
            raise CheckFailed("the hex error did not clear on input")
        n = len(received(driver))
        driver.find_element(By.ID, "send-hex").click()
        e = wait_echo(driver, n, "binary", 9)
        if e["text"] != HEX_PREVIEW:
            raise CheckFailed(f"hex echo shows {e['text']!r}, want {HEX_PREVIEW!r}")
        if driver.execute_script("return Array.from(window.espwsConsole.lastBinary).join(',')") != \
                "222,173,190,239,0,1,127,128,255":
            raise CheckFailed("hex echo content differs")
        ok(f"hex echo: {HEX_IN!r}")

        # 6. a file picked with the file input
        with tempfile.NamedTemporaryFile(prefix="espws-", suffix=".bin", delete=False) as f:
            fdata = bytes(range(256)) * 4 + b"end"
            f.write(fdata)
        try:
            n = len(received(driver))
            driver.find_element(By.ID, "file").send_keys(f.name)
            wait_echo(driver, n, "binary", len(fdata))
            if driver.execute_script("return Array.from(window.espwsConsole.lastBinary)") != list(fdata):
                raise CheckFailed("file echo content differs")
        finally:
            os.unlink(f.name)
        ok(f"file echo of {len(fdata)} bytes")

        # 7. counters and round-trip time
        messages = 5
        out_bytes = len(TEXT.encode()) + len(TEXT2.encode()) + BIN_SIZE + 9 + len(fdata)
        wait_for(driver, f"#sent and #received to read {messages}",
                 lambda d: text_of(d, "#sent") == str(messages) and text_of(d, "#received") == str(messages))
        rtt = text_of(driver, "#rtt")
        if not re.search(r"\d+(\.\d+)? ms", rtt):
            raise CheckFailed(f"#rtt shows {rtt!r}, no time in ms")
        bout, bin_ = text_of(driver, "#bytes-out"), text_of(driver, "#bytes-in")
        want_size = f"{out_bytes / 1024:.1f} KiB"
        if bout != want_size or bin_ != want_size:
            raise CheckFailed(f"bytes out/in read {bout!r}/{bin_!r}, want {want_size!r} ({out_bytes} bytes)")
        ok(f"counters: sent {messages}, received {messages}, bytes out/in {bout}, rtt {rtt}")

        # 8. log entries carry timestamps; the page made no request to anywhere else
        stamps = driver.execute_script(
            "return Array.from(document.querySelectorAll('#log .e time')).map(t => t.textContent)")
        if not stamps or not all(re.fullmatch(r"\d\d:\d\d:\d\d\.\d\d\d", s) for s in stamps):
            raise CheckFailed(f"log timestamps are not HH:MM:SS.mmm: {stamps[:5]!r}")
        foreign = driver.execute_script("""
            return performance.getEntriesByType('resource').map(r => r.name)
                .filter(n => !n.startsWith(location.origin) && !n.startsWith('data:'));""")
        if foreign:
            raise CheckFailed(f"the page requested other origins: {foreign!r}")
        severe = [m for m in driver.get_log("browser") if m.get("level") == "SEVERE"]
        if severe:
            raise CheckFailed(f"errors in the browser console: {severe!r}")
        ok(f"{len(stamps)} log entries with HH:MM:SS.mmm times, no external request, no console error")

        # 9. screenshots: desktop, then a phone (390x844, as a touch device), light and dark
        shot = args.out / "console.png"
        driver.save_screenshot(str(shot))
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
        driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
        time.sleep(0.3)
        width = driver.execute_script("return document.documentElement.scrollWidth")
        if width > 390:
            raise CheckFailed(f"the page is {width} px wide on a 390 px wide phone: it scrolls sideways")
        mobile = args.out / "console-mobile.png"
        driver.save_screenshot(str(mobile))
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                               {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        time.sleep(0.3)
        dark = args.out / "console-mobile-dark.png"
        driver.save_screenshot(str(dark))
        ok(f"screenshots {shot}, {mobile}, {dark}")

        # 10. the checks every independent client makes (interop/), from the page's own
        # WebSocket API: echo at each size, a fragmented text message, ping/pong, close 1000.
        # JavaScript cannot fragment what it sends nor send a ping, so those two are checked in
        # the other direction: the server's echo of 1 MiB of text arrives in fragments whose
        # boundaries fall inside code points, and the browser must answer the server's pings
        # (scripts/test runs the server with a 1 s ping interval and a 1 s pong timeout).
        driver.set_script_timeout(60)
        report = driver.execute_async_script(INTEROP_JS, ws_url)
        if report.get("error"):
            raise CheckFailed(f"interop checks: {report['error']}")
        for line in report["passed"]:
            ok(line)

        # 11. permessage-deflate (RFC 7692): a WebSocket of the page's own to the console's URL must
        # have agreed to it (ws.extensions is the server's Sec-WebSocket-Extensions answer), and
        # 256 KiB of JSON readings must come back identical: compressed by the browser, inflated
        # by the server, echoed in fragments compressed by the server, reassembled and inflated by
        # the browser. A server without deflate (espws-sim --no-deflate) fails here.
        report = driver.execute_async_script(DEFLATE_JS, ws_url, DEFLATE_SIZE)
        if report.get("error"):
            raise CheckFailed(f"deflate check: {report['error']}")
        ext = report["extensions"]
        if not ext.startswith("permessage-deflate"):
            raise CheckFailed(f"the server did not agree to permessage-deflate: ws.extensions is {ext!r} "
                              "(was it started with --no-deflate, or with whole delivery?)")
        ok(f"permessage-deflate agreed: Sec-WebSocket-Extensions {ext!r}")
        if not report["same"]:
            raise CheckFailed(f"compressed echo differs: sent {report['sent']} bytes, got {report['back']}, "
                              f"first difference at character {report['first']}")
        if report["closeCode"] != 1000:
            raise CheckFailed(f"the deflate connection closed with {report['closeCode']}, not 1000")
        ok(f"compressed echo of {report['sent']} bytes of JSON readings, identical "
           f"(starts {report['head'][:60]!r}…), closed 1000")

        # 12. the live plotter, from the page's state (plot_checks.py)
        driver.set_script_timeout(WAIT)
        plot_checks.run(driver, ok, args.out, args.sensor_url)

    except Exception as err:  # noqa: BLE001 - every failure ends the test with a message
        if isinstance(err, (CheckFailed, plot_checks.PlotCheckFailed)):
            msg = str(err)
        elif isinstance(err, WebDriverException):  # its str() carries a useless native stack
            msg = f"{type(err).__name__}: {(err.msg or '').strip()}"
        else:
            msg = "".join(traceback.format_exception_only(type(err), err)).strip()
        print(f"FAIL {msg}", file=sys.stderr, flush=True)
        if driver is not None:
            try:
                print(f"     #state: {text_of(driver, '#state')!r}, #detail: {text_of(driver, '#detail')!r}",
                      file=sys.stderr)
                for m in driver.get_log("browser")[-10:]:
                    print(f"     console {m.get('level')}: {m.get('message')}", file=sys.stderr)
                fail_shot = args.out / "console-failed.png"
                driver.save_screenshot(str(fail_shot))
                print(f"     screenshot: {fail_shot}", file=sys.stderr)
            except Exception:  # noqa: BLE001 - the browser itself may be gone
                pass
        print(f"browser: {len(passed)} passed, 1 failed")
        return 1
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001
                pass
            shutil.rmtree(driver.espws_profile, ignore_errors=True)
    print(f"browser: {len(passed)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
