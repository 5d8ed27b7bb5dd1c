// Interop checks of a WebSocket echo server, using .NET's System.Net.WebSockets.ClientWebSocket
// (as shipped by Mono; no third-party dependencies).
//
// Usage: mcs -out:Check.exe Check.cs && mono Check.exe ws://HOST:PORT/PATH
//
// Every check opens its own connection, so one failure does not cascade into
// the next. Every wait is bounded by ESPWS_INTEROP_TIMEOUT seconds (default 10).
// Exit code: 0 if all checks pass, 1 if any fails, 2 on bad usage.
//
// ClientWebSocket has no API to send a ping, so there is no ping check here (the
// python, node and java clients have one); it is the only client that sends a text
// message in parts of raw bytes, so its fragmented check cuts code points anywhere.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

public static class Check
{
    static readonly string Client = "dotnet-" + RuntimeName() + "-ClientWebSocket";
    static readonly double TimeoutS = double.Parse(
        Environment.GetEnvironmentVariable("ESPWS_INTEROP_TIMEOUT") ?? "10", CultureInfo.InvariantCulture);
    static readonly int[] Sizes = { 0, 1, 125, 126, 127, 65535, 65536, 1048576 };
    const int Pipelined = 200;
    static readonly UTF8Encoding Utf8 = new UTF8Encoding(false, true);

    // Characters by UTF-8 length, used to build text of an exact byte length.
    static readonly string[][] Chars = {
        null,
        Split("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-_/\\\"'{}[]<>~"),
        Split("éßñüЖжπλΩ߀"),
        Split("€中文あア✓☃한"),
        Split("😀🎉🦀𝄞🚀🌍"),
    };

    class CheckFailed : Exception
    {
        public CheckFailed(string m) : base(m) { }
    }

    class Message
    {
        public WebSocketMessageType Type;
        public byte[] Data;
        public int Frames;
    }

    static string RuntimeName()
    {
        var mono = Type.GetType("Mono.Runtime");
        if (mono != null)
        {
            var name = mono.GetMethod("GetDisplayName",
                System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static);
            if (name != null) return "mono-" + ((string)name.Invoke(null, null)).Split(' ')[0];
        }
        return Environment.Version.ToString();
    }

    /// The text elements (code points, with surrogate pairs kept whole) of s.
    static string[] Split(string s)
    {
        var parts = new List<string>();
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i])) { parts.Add(s.Substring(i, 2)); i++; }
            else parts.Add(s.Substring(i, 1));
        }
        return parts.ToArray();
    }

    /// Text whose UTF-8 encoding is exactly n bytes long, mixing 1- to 4-byte characters.
    static string MakeText(int n, int seed)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder();
        int left = n;
        while (left > 0)
        {
            int k = rng.Next(1, Math.Min(4, left) + 1);
            sb.Append(Chars[k][rng.Next(Chars[k].Length)]);
            left -= k;
        }
        var s = sb.ToString();
        if (Utf8.GetByteCount(s) != n) throw new InvalidOperationException("test bug: text of the wrong length");
        return s;
    }

    static byte[] MakeBinary(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    static string FirstDiff(byte[] sent, byte[] got)
    {
        int n = Math.Min(sent.Length, got.Length);
        for (int i = 0; i < n; i++)
            if (sent[i] != got[i])
                return string.Format("first difference at byte {0}: sent 0x{1:x2}, got 0x{2:x2}", i, sent[i], got[i]);
        return string.Format("length differs: sent {0} bytes, got {1} bytes", sent.Length, got.Length);
    }

    static bool Same(byte[] a, byte[] b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) return false;
        return true;
    }

    /// A token cancelled after the timeout: every wait of a check is bounded by it.
    static CancellationToken Deadline()
    {
        return new CancellationTokenSource(TimeSpan.FromSeconds(TimeoutS)).Token;
    }

    static async Task<T> Within<T>(Task<T> task, string what)
    {
        var done = await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(TimeoutS)));
        if (done != task) throw new CheckFailed(string.Format("timeout after {0:g} s waiting for {1}", TimeoutS, what));
        return await task;
    }

    static async Task Within(Task task, string what)
    {
        var done = await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(TimeoutS)));
        if (done != task) throw new CheckFailed(string.Format("timeout after {0:g} s waiting for {1}", TimeoutS, what));
        await task;
    }

    static async Task<ClientWebSocket> Open(Uri url)
    {
        var ws = new ClientWebSocket();
        // No keepalive pings of our own: the checks should see only what they send.
        ws.Options.KeepAliveInterval = TimeSpan.Zero;
        await Within(ws.ConnectAsync(url, Deadline()), "the opening handshake");
        return ws;
    }

    /// One whole message, however many frames (ReceiveAsync results) it arrives in.
    static async Task<Message> Receive(ClientWebSocket ws)
    {
        var buffer = new byte[64 * 1024];
        var data = new MemoryStream();
        int frames = 0;
        while (true)
        {
            var r = await Within(ws.ReceiveAsync(new ArraySegment<byte>(buffer), Deadline()), "a message");
            if (r.MessageType == WebSocketMessageType.Close)
                throw new CheckFailed(string.Format("the server closed ({0} {1}) instead of sending a message",
                    (int?)r.CloseStatus, r.CloseStatusDescription));
            data.Write(buffer, 0, r.Count);
            frames++;
            if (r.EndOfMessage)
                return new Message { Type = r.MessageType, Data = data.ToArray(), Frames = frames };
        }
    }

    static async Task CloseQuietly(ClientWebSocket ws)
    {
        try
        {
            if (ws.State == WebSocketState.Open)
                await Within(ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "check done", Deadline()), "close");
        }
        catch (Exception) { }
        ws.Dispose();
    }

    static async Task<string> CheckEcho(Uri url, bool text, int size)
    {
        int seed = size * 2 + (text ? 1 : 0);
        string s = text ? MakeText(size, seed) : null;
        byte[] sent = text ? Utf8.GetBytes(s) : MakeBinary(size, seed);
        var ws = await Open(url);
        try
        {
            var type = text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
            // Reading runs alongside the send: a device with small TCP windows streams the echo
            // back while the message still arrives, and neither side may wait for the other.
            var receiving = Task.Run(() => Receive(ws));
            await Within(ws.SendAsync(new ArraySegment<byte>(sent), type, true, Deadline()), "send to complete");
            var got = await Within(receiving, "the echo");
            if (got.Type != type)
                throw new CheckFailed(string.Format("sent a {0} message, echo came back as {1}", type, got.Type));
            if (!Same(sent, got.Data)) throw new CheckFailed(FirstDiff(sent, got.Data));
            return string.Format("{0} bytes{1} echoed identically", size, text ? ", " + s.Length + " UTF-16 units" : "");
        }
        finally { await CloseQuietly(ws); }
    }

    /// A text message sent as raw byte fragments (endOfMessage: false, then true), cut inside
    /// code points; the echo must be the whole text.
    static async Task<string> CheckFragmented(Uri url, byte[][] fragments, string label)
    {
        var whole = new MemoryStream();
        foreach (var f in fragments) whole.Write(f, 0, f.Length);
        var all = whole.ToArray();
        Utf8.GetString(all); // the whole message is valid UTF-8, or the test is wrong
        var ws = await Open(url);
        try
        {
            for (int i = 0; i < fragments.Length; i++)
            {
                bool last = i == fragments.Length - 1;
                await Within(ws.SendAsync(new ArraySegment<byte>(fragments[i]), WebSocketMessageType.Text, last,
                    Deadline()), "send of fragment " + (i + 1));
            }
            var got = await Receive(ws);
            if (got.Type != WebSocketMessageType.Text)
                throw new CheckFailed("sent a fragmented text message, echo came back as binary");
            if (!Same(all, got.Data)) throw new CheckFailed(FirstDiff(all, got.Data));
            var sizes = new List<string>();
            foreach (var f in fragments) sizes.Add(f.Length + "B");
            return string.Format("{0}: sent {1} frames [{2}], endOfMessage only on the last; echo equals the whole {3}-byte text",
                label, fragments.Length, string.Join(" | ", sizes), all.Length);
        }
        finally { await CloseQuietly(ws); }
    }

    /// Sends every message before reading any echo; the echoes must come back in order.
    static async Task<string> CheckPipelined(Uri url)
    {
        var ws = await Open(url);
        try
        {
            var messages = new List<byte[]>();
            for (int i = 0; i < Pipelined; i++)
                messages.Add(Utf8.GetBytes(string.Format("pipelined {0:D3} {1}", i, MakeText(i * 5 % 97, i))));
            // Reading runs alongside, so that neither side's buffers can fill and stop the other.
            var reading = Task.Run(async () =>
            {
                var got = new List<byte[]>();
                for (int i = 0; i < Pipelined; i++) got.Add((await Receive(ws)).Data);
                return got;
            });
            var clock = Stopwatch.StartNew();
            foreach (var m in messages)
                await Within(ws.SendAsync(new ArraySegment<byte>(m), WebSocketMessageType.Text, true, Deadline()),
                    "send to complete");
            var sentIn = clock.Elapsed.TotalMilliseconds;
            var echoes = await Within(reading, "all " + Pipelined + " echoes");
            for (int i = 0; i < Pipelined; i++)
                if (!Same(messages[i], echoes[i]))
                    throw new CheckFailed(string.Format("echo {0} is not message {0}: {1}", i,
                        Encoding.UTF8.GetString(echoes[i], 0, Math.Min(echoes[i].Length, 13))));
            return string.Format("{0} messages sent back to back in {1:F1} ms, echoed in order in {2:F1} ms",
                Pipelined, sentIn, clock.Elapsed.TotalMilliseconds);
        }
        finally { await CloseQuietly(ws); }
    }

    static async Task<string> CheckClose(Uri url)
    {
        var ws = await Open(url);
        var clock = Stopwatch.StartNew();
        await Within(ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "interop done", Deadline()), "close handshake");
        var ms = clock.Elapsed.TotalMilliseconds;
        if (ws.State != WebSocketState.Closed)
            throw new CheckFailed("state after the close handshake is " + ws.State + ", expected Closed");
        if (ws.CloseStatus != WebSocketCloseStatus.NormalClosure)
            throw new CheckFailed(string.Format("server close frame has code {0} (reason {1}), expected 1000",
                (int?)ws.CloseStatus, ws.CloseStatusDescription));
        ws.Dispose();
        return string.Format("server answered with close code 1000 (reason '{0}'); State Closed after {1:F1} ms",
            ws.CloseStatusDescription, ms);
    }

    static async Task<int> Run(Uri url)
    {
        var checks = new List<KeyValuePair<string, Func<Task<string>>>>();
        foreach (var text in new[] { true, false })
            foreach (var size in Sizes)
            {
                bool t = text; int n = size;
                checks.Add(new KeyValuePair<string, Func<Task<string>>>(
                    "echo-" + (t ? "text" : "binary") + "-" + n, () => CheckEcho(url, t, n)));
            }
        var euro = new[] {
            Concat(Encoding.ASCII.GetBytes("fragment one: price 5 "), new byte[] { 0xe2, 0x82 }),
            Concat(new byte[] { 0xac }, Encoding.ASCII.GetBytes(", fragment two")),
        };
        var emoji = new[] {
            Concat(Encoding.ASCII.GetBytes("three frames: "), new byte[] { 0xf0 }),
            new byte[] { 0x9f, 0x98 },
            Concat(new byte[] { 0x80 }, Encoding.ASCII.GetBytes(" <- grinning face")),
        };
        checks.Add(new KeyValuePair<string, Func<Task<string>>>("fragmented-text-split-3byte-char",
            () => CheckFragmented(url, euro, "U+20AC EURO SIGN (e2 82 | ac)")));
        checks.Add(new KeyValuePair<string, Func<Task<string>>>("fragmented-text-split-4byte-char",
            () => CheckFragmented(url, emoji, "U+1F600 GRINNING FACE (f0 | 9f 98 | 80)")));
        checks.Add(new KeyValuePair<string, Func<Task<string>>>("pipelined-" + Pipelined, () => CheckPipelined(url)));
        checks.Add(new KeyValuePair<string, Func<Task<string>>>("close-1000", () => CheckClose(url)));

        Console.WriteLine("[{0}] checking {1} (timeout {2:g} s per wait)", Client, url, TimeoutS);
        Console.WriteLine("[{0}] note: ClientWebSocket cannot send a ping; no ping check", Client);
        int passed = 0, failed = 0;
        var total = Stopwatch.StartNew();
        foreach (var check in checks)
        {
            var clock = Stopwatch.StartNew();
            string detail;
            bool ok;
            try
            {
                detail = await check.Value();
                ok = true;
            }
            catch (CheckFailed e) { detail = e.Message; ok = false; }
            catch (Exception e)
            {
                var inner = e is AggregateException && e.InnerException != null ? e.InnerException : e;
                detail = inner.GetType().Name + ": " + inner.Message;
                ok = false;
            }
            if (ok) passed++; else failed++;
            Console.WriteLine("{0} {1} ({2:F1} ms): {3}", ok ? "PASS" : "FAIL", check.Key,
                clock.Elapsed.TotalMilliseconds, detail);
        }
        Console.WriteLine("[{0}] total time {1:F2} s", Client, total.Elapsed.TotalSeconds);
        Console.WriteLine("{0}: {1} passed, {2} failed", Client, passed, failed);
        return failed == 0 ? 0 : 1;
    }

    static byte[] Concat(byte[] a, byte[] b)
    {
        var r = new byte[a.Length + b.Length];
        Buffer.BlockCopy(a, 0, r, 0, a.Length);
        Buffer.BlockCopy(b, 0, r, a.Length, b.Length);
        return r;
    }

    public static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        Uri url;
        if (args.Length != 1 || !(args[0].StartsWith("ws://") || args[0].StartsWith("wss://"))
            || !Uri.TryCreate(args[0], UriKind.Absolute, out url))
        {
            Console.Error.WriteLine("usage: mono Check.exe ws://HOST:PORT/PATH");
            return 2;
        }
        Console.OutputEncoding = new UTF8Encoding(false);
        return Run(url).GetAwaiter().GetResult();
    }
}
