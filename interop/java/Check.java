// Interop checks of a WebSocket echo server, using the JDK's java.net.http.WebSocket
// (no third-party dependencies).
//
// Usage: java Check.java ws://HOST:PORT/PATH      (single-file source mode)
//    or: javac -d OUT Check.java && java -cp OUT Check ws://HOST:PORT/PATH
//
// Every check opens its own connection, so one failure does not cascade into
// the next. Every wait is bounded by ESPWS_INTEROP_TIMEOUT seconds (default 10).
// Exit code: 0 if all checks pass, 1 if any fails, 2 on bad usage.

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

public class Check {
    static final String CLIENT = "java-jdk-" + Runtime.version().feature() + "-java.net.http.WebSocket";
    static final double TIMEOUT_S = Double.parseDouble(
            System.getenv().getOrDefault("ESPWS_INTEROP_TIMEOUT", "10"));
    static final long TIMEOUT_MS = (long) (TIMEOUT_S * 1000);
    static final int[] SIZES = {0, 1, 125, 126, 127, 65535, 65536, 1048576};
    static final HttpClient HTTP = HttpClient.newBuilder()
            .connectTimeout(Duration.ofMillis(TIMEOUT_MS)).build();

    static class CheckFailed extends Exception {
        private static final long serialVersionUID = 1L;
        CheckFailed(String m) { super(m); }
    }

    // ---- events delivered by the listener, consumed by the checks ----
    sealed interface Event permits Msg, Pong, Closed, Failed {}
    record Msg(boolean text, byte[] data) implements Event {}
    record Pong(byte[] data) implements Event {}
    record Closed(int code, String reason) implements Event {}
    record Failed(Throwable error) implements Event {}

    static class Collector implements WebSocket.Listener {
        final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        final StringBuilder text = new StringBuilder();
        final ByteArrayOutputStream binary = new ByteArrayOutputStream();

        @Override public void onOpen(WebSocket ws) { ws.request(1); }

        @Override public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data); // copied before returning
            if (last) {
                events.add(new Msg(true, text.toString().getBytes(StandardCharsets.UTF_8)));
                text.setLength(0);
            }
            ws.request(1);
            return null;
        }

        @Override public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            binary.writeBytes(b);
            if (last) {
                events.add(new Msg(false, binary.toByteArray()));
                binary.reset();
            }
            ws.request(1);
            return null;
        }

        @Override public CompletionStage<?> onPong(WebSocket ws, ByteBuffer data) {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            events.add(new Pong(b));
            ws.request(1);
            return null;
        }

        @Override public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
            events.add(new Closed(code, reason));
            return null;
        }

        @Override public void onError(WebSocket ws, Throwable error) {
            events.add(new Failed(error));
        }

        Event next(String what, long deadlineNanos) throws CheckFailed, InterruptedException {
            long left = deadlineNanos - System.nanoTime();
            Event e = left > 0 ? events.poll(left, TimeUnit.NANOSECONDS) : null;
            if (e == null) throw new CheckFailed("timeout after " + fmt(TIMEOUT_S) + " s waiting for " + what);
            return e;
        }
    }

    static String fmt(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }

    static long deadline() { return System.nanoTime() + TIMEOUT_MS * 1_000_000L; }

    static <T> T await(CompletableFuture<T> f, String what) throws Exception {
        try {
            return f.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new CheckFailed("timeout after " + fmt(TIMEOUT_S) + " s waiting for " + what);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw new CheckFailed(what + " failed: " + c.getClass().getSimpleName()
                    + (c.getMessage() != null ? ": " + c.getMessage() : ""));
        }
    }

    record Conn(WebSocket ws, Collector col) implements AutoCloseable {
        @Override public void close() {
            // Best effort, not awaited: start a normal close, the next check does not depend on it.
            if (!ws.isOutputClosed()) ws.sendClose(WebSocket.NORMAL_CLOSURE, "");
        }
    }

    static Conn open(String url) throws Exception {
        Collector col = new Collector();
        WebSocket ws = await(HTTP.newWebSocketBuilder()
                .connectTimeout(Duration.ofMillis(TIMEOUT_MS))
                .buildAsync(URI.create(url), col), "connection");
        return new Conn(ws, col);
    }

    static Msg nextMessage(Collector col, String what) throws Exception {
        Event e = col.next(what, deadline());
        if (e instanceof Msg m) return m;
        if (e instanceof Closed c) throw new CheckFailed("connection closed while waiting for " + what
                + ": code " + c.code() + " " + c.reason());
        if (e instanceof Failed f) throw new CheckFailed("error while waiting for " + what + ": "
                + f.error().getClass().getSimpleName() + ": " + f.error().getMessage());
        throw new CheckFailed("unexpected " + e + " while waiting for " + what);
    }

    // ---- content ----
    static final String[] CHARS = {
        null,
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-_/\\\"'{}[]<>~",
        "éßñüЖжπλΩ߀",
        "€中文あア✓☃한",
        "😀🎉🦀𝄞🚀🌍",
    };

    /** Text whose UTF-8 encoding is exactly nbytes long, mixing 1-4 byte characters. */
    static String makeText(int nbytes, long seed) {
        Random rng = new Random(seed);
        StringBuilder sb = new StringBuilder();
        int left = nbytes;
        while (left > 0) {
            int k = 1 + rng.nextInt(Math.min(4, left));
            int[] pool = CHARS[k].codePoints().toArray();
            sb.appendCodePoint(pool[rng.nextInt(pool.length)]);
            left -= k;
        }
        String s = sb.toString();
        if (s.getBytes(StandardCharsets.UTF_8).length != nbytes) throw new AssertionError("test bug: text length");
        return s;
    }

    static byte[] makeBinary(int nbytes, long seed) {
        byte[] b = new byte[nbytes];
        new Random(seed).nextBytes(b);
        return b;
    }

    static String firstDiff(byte[] a, byte[] b) {
        int n = Math.min(a.length, b.length);
        for (int i = 0; i < n; i++) {
            if (a[i] != b[i]) {
                return String.format("first difference at byte %d: sent 0x%02x, got 0x%02x", i, a[i] & 0xff, b[i] & 0xff);
            }
        }
        return "length differs: sent " + a.length + " bytes, got " + b.length + " bytes";
    }

    // ---- checks ----
    static String checkEcho(String url, boolean text, int size) throws Exception {
        long seed = size * 2L + (text ? 1 : 0);
        String s = text ? makeText(size, seed) : null;
        byte[] sent = text ? s.getBytes(StandardCharsets.UTF_8) : makeBinary(size, seed);
        try (Conn c = open(url)) {
            if (text) await(c.ws().sendText(s, true), "send to complete");
            else await(c.ws().sendBinary(ByteBuffer.wrap(sent.clone()), true), "send to complete");
            Msg m = nextMessage(c.col(), "echo");
            if (text && !m.text()) throw new CheckFailed("sent a text message, echo came back as binary (" + m.data().length + " bytes)");
            if (!text && m.text()) throw new CheckFailed("sent a binary message, echo came back as text");
            if (!Arrays.equals(sent, m.data())) throw new CheckFailed(firstDiff(sent, m.data()));
        }
        return size + " bytes" + (text ? ", " + s.codePointCount(0, s.length()) + " code points" : "") + " echoed identically";
    }

    static String checkFragmented(String url, List<String> parts) throws Exception {
        String whole = String.join("", parts);
        byte[] wholeBytes = whole.getBytes(StandardCharsets.UTF_8);
        List<String> desc = new ArrayList<>();
        for (String p : parts) {
            byte[] b = p.getBytes(StandardCharsets.UTF_8);
            desc.add(b.length + "B \"" + p + "\" (" + HexFormat.ofDelimiter(" ").formatHex(b, 0, Math.min(3, b.length))
                    + " ... " + HexFormat.ofDelimiter(" ").formatHex(b, Math.max(0, b.length - 3), b.length) + ")");
        }
        try (Conn c = open(url)) {
            for (int i = 0; i < parts.size(); i++) {
                // sendText(part, last=false) -> one TEXT/CONT frame with FIN=0 per part.
                await(c.ws().sendText(parts.get(i), i == parts.size() - 1), "part " + (i + 1) + " to be sent");
            }
            Msg m = nextMessage(c.col(), "echo");
            if (!m.text()) throw new CheckFailed("sent a fragmented text message, echo came back as binary");
            if (!Arrays.equals(wholeBytes, m.data())) throw new CheckFailed(firstDiff(wholeBytes, m.data()));
        }
        return "sent " + parts.size() + " parts via sendText(part, last), each frame starting and/or ending with a "
                + "multi-byte character, split at code point boundaries only (the JDK refuses to split a code point: "
                + "see interop/README.md) [" + String.join(" | ", desc) + "], echo equals the whole "
                + wholeBytes.length + "-byte text";
    }

    static String checkPing(String url) throws Exception {
        byte[] rnd = new byte[8];
        new java.security.SecureRandom().nextBytes(rnd);
        byte[] payload = ("espws-ping-" + HexFormat.of().formatHex(rnd)).getBytes(StandardCharsets.US_ASCII);
        try (Conn c = open(url)) {
            long t0 = System.nanoTime();
            await(c.ws().sendPing(ByteBuffer.wrap(payload)), "ping to be sent");
            long dl = deadline();
            int others = 0;
            while (true) {
                Event e = c.col().next("pong with matching payload", dl);
                if (e instanceof Pong p) {
                    if (Arrays.equals(p.data(), payload)) break;
                    others++;
                } else if (e instanceof Closed cl) {
                    throw new CheckFailed("connection closed while waiting for pong: code " + cl.code());
                } else if (e instanceof Failed f) {
                    throw new CheckFailed("error while waiting for pong: " + f.error());
                }
            }
            double ms = (System.nanoTime() - t0) / 1e6;
            return String.format("pong with payload '%s' received after %.1f ms%s",
                    new String(payload, StandardCharsets.US_ASCII), ms,
                    others > 0 ? " (ignored " + others + " pong(s) with other payloads)" : "");
        }
    }

    static String checkClose(String url) throws Exception {
        Conn c = open(url);
        WebSocket ws = c.ws();
        long t0 = System.nanoTime();
        await(ws.sendClose(WebSocket.NORMAL_CLOSURE, "interop done"), "close frame to be sent");
        Event e;
        try {
            e = c.col().next("server's close frame", deadline());
        } catch (CheckFailed f) {
            ws.abort();
            throw new CheckFailed("no close frame received from the server: " + f.getMessage());
        }
        double ms = (System.nanoTime() - t0) / 1e6;
        if (e instanceof Failed f) throw new CheckFailed("error during close handshake: " + f.error());
        if (!(e instanceof Closed cl)) throw new CheckFailed("unexpected " + e + " during close handshake");
        if (cl.code() == 1006) {
            // The JDK reports 1006 when the connection ended without a close frame.
            throw new CheckFailed(String.format("no close frame received from the server (connection ended, 1006, after %.1f ms)", ms));
        }
        if (cl.code() != 1000) {
            throw new CheckFailed("server close frame has code " + cl.code() + " (reason '" + cl.reason() + "'), expected 1000");
        }
        if (!ws.isInputClosed() || !ws.isOutputClosed()) {
            throw new CheckFailed("after the close handshake: inputClosed=" + ws.isInputClosed()
                    + " outputClosed=" + ws.isOutputClosed());
        }
        return String.format("server answered with close code 1000 (reason '%s'); both directions closed after %.1f ms",
                cl.reason(), ms);
    }

    interface CheckFn { String run() throws Exception; }
    record NamedCheck(String name, CheckFn fn) {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1 || !(args[0].startsWith("ws://") || args[0].startsWith("wss://"))) {
            System.err.println("usage: java Check.java ws://HOST:PORT/PATH");
            System.exit(2);
        }
        String url = args[0];
        List<NamedCheck> checks = new ArrayList<>();
        for (boolean text : new boolean[] {true, false}) {
            for (int size : SIZES) {
                checks.add(new NamedCheck("echo-" + (text ? "text" : "binary") + "-" + size, () -> checkEcho(url, text, size)));
            }
        }
        checks.add(new NamedCheck("fragmented-text-multibyte-at-boundaries", () -> checkFragmented(url,
                List.of("fragment one: price 5 €", "€ fragment two 😀", "😀 three 中", "文"))));
        checks.add(new NamedCheck("ping-pong", () -> checkPing(url)));
        checks.add(new NamedCheck("close-1000", () -> checkClose(url)));

        System.out.println("[" + CLIENT + "] checking " + url + " (timeout " + fmt(TIMEOUT_S) + " s per wait)");
        System.out.println("[" + CLIENT + "] note: java.net.http.WebSocket cannot split one character's UTF-8 bytes "
                + "between frames; the fragmented check splits only at code point boundaries");
        int passed = 0, failed = 0;
        long tStart = System.nanoTime();
        for (NamedCheck chk : checks) {
            long t0 = System.nanoTime();
            boolean ok;
            String detail;
            try {
                detail = chk.fn().run();
                ok = true;
            } catch (CheckFailed e) {
                ok = false;
                detail = e.getMessage();
            } catch (Exception e) {
                ok = false;
                detail = e.getClass().getSimpleName() + ": " + e.getMessage();
            }
            double ms = (System.nanoTime() - t0) / 1e6;
            if (ok) passed++; else failed++;
            System.out.printf("%s %s (%.1f ms): %s%n", ok ? "PASS" : "FAIL", chk.name(), ms, detail);
        }
        System.out.printf("[%s] total time %.2f s%n", CLIENT, (System.nanoTime() - tStart) / 1e9);
        System.out.println(CLIENT + ": " + passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
