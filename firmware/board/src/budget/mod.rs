//! The sizes both firmware crates allocate, and the RAM they add up to on the original ESP32.
//!
//! The firmware takes its buffer and stack sizes from here, and the RAM tables in
//! `firmware/README.md` are [`markdown()`]'s output: a host test fails when the two differ. The
//! figures the tables rely on are checked where they can be measured:
//!
//! - sizes of types on the 32-bit targets ([`bare_metal::WORKER_FUTURE`],
//!   `espws::proto::Connection`) by `const` assertions whenever this crate (or espws) is built
//!   for a 32-bit target, as `scripts/firmware-check` and the lead's checks do for
//!   `riscv32imc-unknown-none-elf`;
//! - the bare-metal firmware's statics by `const` assertions in `firmware/esp-hal`, which builds
//!   and links here for the ESP32-C3 and ESP32-C6;
//! - the stack a connection thread touches by `tests/thread_stack.rs`, on the host.
//!
//! What cannot be measured here (ESP-IDF's own use, esp-radio's heap, the Xtensa build) is taken
//! from the vendors' documentation or estimated, and every row says which.

use crate::provision::Mode;
use espws_apps::settings::{App, Settings, RX_CARRY};

/// Bytes in a KiB.
pub const KIB: usize = 1024;

/// Where a figure comes from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A size this repository chooses (a buffer, a stack).
    Chosen,
    /// Measured on a 32-bit build (riscv32imc, release) or on the host, as the row says.
    Measured,
    /// Taken from the vendor's documentation.
    Documented,
    /// An estimate: could not be measured without the hardware or the Xtensa toolchain.
    Estimated,
}

impl Source {
    /// The word the RAM tables use.
    pub const fn label(self) -> &'static str {
        match self {
            Source::Chosen => "chosen",
            Source::Measured => "measured",
            Source::Documented => "documented",
            Source::Estimated => "estimate",
        }
    }
}

/// One line of a budget.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// What the memory is for.
    pub what: &'static str,
    /// Bytes.
    pub bytes: usize,
    /// Where the figure comes from.
    pub source: Source,
}

/// What one configuration needs, against what it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The lines, in the order of the table.
    pub items: heapless::Vec<Item, 16>,
    /// The RAM these lines must fit in, in bytes.
    pub capacity: usize,
    /// What that capacity is.
    pub capacity_what: &'static str,
}

impl Budget {
    fn push(&mut self, what: &'static str, bytes: usize, source: Source) {
        // 16 lines is more than any configuration has.
        let _ = self.items.push(Item { what, bytes, source });
    }

    /// Bytes needed.
    pub fn used(&self) -> usize {
        self.items.iter().map(|item| item.bytes).sum()
    }

    /// Bytes left over (negative when it does not fit).
    pub fn headroom(&self) -> isize {
        self.capacity as isize - self.used() as isize
    }

    /// Whether it fits.
    pub fn fits(&self) -> bool {
        self.headroom() >= 0
    }
}

/// Bare metal: esp-hal, esp-radio, esp-rtos, embassy-net (`firmware/esp-hal`).
pub mod bare_metal {
    use super::*;

    /// TCP receive window of each worker's socket. smoltcp advertises what is free of it; one
    /// full-size segment (1460 bytes) fits, so a client can always make progress.
    pub const SOCKET_RX: usize = 2048;
    /// TCP send buffer of each worker's socket: what a client may have in flight before a write
    /// waits. The console page (11.4 KB gzipped) goes out in six fills.
    pub const SOCKET_TX: usize = 2048;
    /// The size of `espws::server::embassy::worker`'s future serving a device on the 32-bit
    /// targets (riscv32imc, debug and release alike), checked by a `const` assertion in every
    /// 32-bit build with `embassy`. (2,600 before its accept loop took a slot with `let … else`
    /// instead of a `match`, whose scrutinee the future kept beside the connection; 2,640 while
    /// the connection kept its whole `Config`; 2,736 while `nonblocking::serve` kept its
    /// arguments beside the `WebSocket` they moved into; 2,832 before the driver polled
    /// embassy-net's reads directly instead of keeping a read future; 3,168 before the HTTP
    /// phase and the WebSocket became two futures awaited in turn, which share their storage.)
    pub const WORKER_FUTURE: usize = 2528;
    /// The executor's storage for one worker task of `firmware/esp-hal`: the future above, the
    /// task's own arguments and the task header (`TaskStorage`): 64 bytes over the future, as
    /// measured in the qemu-virt board's ELF (`worker_task::POOL`, 9 tasks of 2,592 bytes).
    pub const WORKER_TASK: usize = 2592;
    /// The same task serving TLS (`worker` with a `TlsServer` as its layer): the handshake's
    /// future takes the room of the plain one's. Measured in the qemu-virt board's TLS build
    /// (`worker_task::POOL`, 3 tasks of 2,768 bytes).
    pub const WORKER_TASK_TLS: usize = 2768;
    /// mbedTLS's heap for one TLS connection at its peak (the handshake): its record buffers
    /// (16 KiB in, which a browser's records need; 4 KiB out), the session and the handshake's
    /// key exchange and signature. Measured on the qemu-virt board's TLS build (riscv32,
    /// mbedTLS 3.6 through mbedtls-rs 0.3, ECDSA P-256): 28,256 bytes at the peak, 27,418 while
    /// the connection is open, read from the heap's meter on port 81.
    pub const TLS_SESSION_HEAP: usize = 28_256;
    /// mbedTLS's heap for the certificate and key, parsed once: 1,056 bytes measured for an
    /// ECDSA P-256 leaf certificate of 429 bytes (the DER stays in flash).
    pub const TLS_CREDENTIALS_HEAP: usize = 1_056;
    /// Room the TLS heap keeps beyond the sum: the allocator's block headers and alignment,
    /// and a longer certificate (chosen).
    pub const TLS_HEAP_MARGIN: usize = 4 * KIB;
    /// The heap mbedTLS needs for `settings`: nothing without TLS.
    pub const fn tls_heap(settings: &Settings<'_>) -> usize {
        if settings.tls {
            settings.max_clients * TLS_SESSION_HEAP + TLS_CREDENTIALS_HEAP + TLS_HEAP_MARGIN
        } else {
            0
        }
    }

    /// A worker task's size for `settings`.
    pub const fn worker_task(settings: &Settings<'_>) -> usize {
        if settings.tls {
            WORKER_TASK_TLS
        } else {
            WORKER_TASK
        }
    }
    /// What permessage-deflate would add per connection, inflating into a 512-byte window
    /// (`DeflateConfig::SMALL`): `espws::proto::deflate::Inflate<[u8; 512]>`, miniz_oxide's
    /// decompressor and its tables plus the window, on the 32-bit targets (checked by a `const`
    /// assertion in every 32-bit build without std). The bare-metal pool does not agree to
    /// compression: eight workers would need 88 KB more.
    pub const INFLATE_SMALL: usize = 11_020;
    /// `embassy_net::StackResources<N>` is `SOCKET_STORAGE * N + STACK_INNER` bytes
    /// (riscv32imc, with the firmware's embassy-net features; asserted by the firmware).
    pub const SOCKET_STORAGE: usize = 352;
    /// See [`SOCKET_STORAGE`].
    pub const STACK_INNER: usize = 448;
    /// The DHCP server task: its UDP buffers, packet buffer and lease table (measured, 4088).
    pub const DHCP_SERVER_TASK: usize = 4088;
    /// The main, network, Wi-Fi and status tasks, the `Device` and the slot counter (measured:
    /// 232 + 80 + 128 + 136 + 168 + 4, rounded up).
    pub const OTHER_TASKS: usize = 768;
    /// UDP transmit buffer of the DHCP server.
    pub const DHCP_UDP_TX: usize = 1024;
    /// UDP receive buffer of the DHCP server (a DHCP message is at most 576 bytes by default).
    pub const DHCP_UDP_RX: usize = 1024;
    /// DHCP packets the UDP socket queues each way.
    pub const DHCP_UDP_PACKETS: usize = 4;
    /// The buffer the DHCP server decodes and encodes in.
    pub const DHCP_PACKET: usize = 1024;
    /// esp-alloc's heap, which esp-radio takes its buffers and task stacks from: 100 KiB, as in
    /// esp-radio's own examples (`heap_allocator!` of 64 KiB reclaimed and 36 KiB).
    pub const WIFI_HEAP: usize = 100 * KIB;
    /// The esp-hal, esp-rtos and esp-radio statics (and `.data`): on the ESP32-C3 build, `.data`
    /// and `.bss` less everything above (measured 21.7 KiB, rounded up). The Xtensa blobs'
    /// statics could not be measured here.
    pub const PLATFORM_STATICS: usize = 24 * KIB;
    /// The least stack the main task (the executor, the interrupt handlers) must keep.
    pub const MIN_STACK: usize = 16 * KIB;

    /// Listening tasks: one per client and one that answers 503 when all are busy.
    pub const fn workers(max_clients: usize) -> usize {
        max_clients + 1
    }

    /// Sockets in the stack: every worker's, and the DHCP one (client or server).
    pub const fn sockets(max_clients: usize) -> usize {
        workers(max_clients) + 1
    }

    /// `StackResources<sockets>` in bytes.
    pub const fn stack_resources(sockets: usize) -> usize {
        SOCKET_STORAGE * sockets + STACK_INNER
    }

    /// One worker's buffers: the socket's window and send buffer, and its WebSocket receive
    /// buffer or, where the workers share buffers, its carry.
    pub const fn worker_buffers(settings: &Settings<'_>) -> usize {
        SOCKET_RX + SOCKET_TX + worker_rx(settings)
    }

    /// What a worker keeps of its own for WebSocket input: its receive buffer, or with shared
    /// buffers ([`Settings::shared_rx_buffers`]) a carry of [`RX_CARRY`] bytes.
    pub const fn worker_rx(settings: &Settings<'_>) -> usize {
        if settings.shared_rx_buffers() > 0 {
            RX_CARRY
        } else {
            settings.rx_buffer
        }
    }

    /// The receive buffers the workers share, and the pool's own state.
    pub const fn shared_rx(settings: &Settings<'_>) -> usize {
        match settings.shared_rx_buffers() {
            0 => 0,
            n => n * settings.rx_buffer + BUFFER_POOL,
        }
    }

    /// `espws::nonblocking::BufferPool` on the 32-bit targets: the free list and the wakers of
    /// connections waiting for a buffer (asserted in every 32-bit build with `embassy`).
    pub const BUFFER_POOL: usize = 400;

    /// A chip's RAM as esp-hal 1.2's linker scripts lay it out.
    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    pub struct Chip {
        /// Its name.
        pub name: &'static str,
        /// The region `.data`, `.bss` and the main stack share (`dram_seg`, or the part of the
        /// shared RAM left after code placed in RAM).
        pub dram: usize,
        /// RAM the bootloader used and the app reclaims (`dram2_seg`), where the heap goes first.
        pub reclaimed: usize,
        /// Code placed in RAM that shares `dram` (RISC-V chips map one SRAM as both).
        pub code_in_dram: usize,
    }

    /// The original ESP32: `dram_seg` of 192 KiB, 98,768 bytes reclaimed (esp-hal's memory.x);
    /// its code in RAM sits in separate IRAM.
    pub const ESP32: Chip = Chip { name: "ESP32", dram: 192 * KIB, reclaimed: 98_768, code_in_dram: 0 };
    /// The ESP32-C3: 313 KiB shared by code in RAM and data, 66,320 bytes reclaimed; the
    /// firmware's code in RAM measured 38.9 KiB.
    pub const ESP32C3: Chip =
        Chip { name: "ESP32-C3", dram: 313 * KIB, reclaimed: 66_320, code_in_dram: 39_828 };
    /// The ESP32-C6: 452,112 bytes shared by code and data, 64 KiB reclaimed; code in RAM
    /// measured 61.9 KiB.
    pub const ESP32C6: Chip =
        Chip { name: "ESP32-C6", dram: 452_112, reclaimed: 65_536, code_in_dram: 63_400 };

    /// How esp-alloc's heap is split: as much as fits in the reclaimed RAM, the rest in `dram`.
    pub const fn heap_split(chip: Chip) -> (usize, usize) {
        // Whole KiB of the region (esp-hal's linker script fails the build if it does not fit).
        let reclaimed =
            if chip.reclaimed / KIB * KIB >= WIFI_HEAP { WIFI_HEAP } else { chip.reclaimed / KIB * KIB };
        (reclaimed, WIFI_HEAP - reclaimed)
    }

    /// The statics this firmware adds to `dram` (everything but the platform's and the heap).
    pub const fn app_statics(settings: &Settings<'_>, mode: Mode) -> usize {
        let n = settings.max_clients;
        let mut bytes = workers(n) * (worker_buffers(settings) + worker_task(settings))
            + shared_rx(settings)
            + tls_heap(settings)
            + stack_resources(sockets(n))
            + OTHER_TASKS;
        if matches!(mode, Mode::AccessPoint) {
            bytes += DHCP_SERVER_TASK;
        }
        if settings.uses_hub() {
            bytes += n * (settings.hub_queue + HUB_SLOT) + HUB;
        }
        bytes
    }

    /// The hub's lock and bookkeeping (measured 156).
    pub const HUB: usize = 160;
    /// One client's slot in the hub, besides its queue (measured 44).
    pub const HUB_SLOT: usize = 44;

    /// The echo app for 16 clients, the device's defaults otherwise: what the original ESP32
    /// serves on bare metal (asserted below; `firmware/README.md` shows its table).
    pub const SIXTEEN_CLIENTS: Settings<'static> =
        Settings { max_clients: 16, ..Settings::device_defaults() };

    // 16 clients with the echo app fit the original ESP32 in both Wi-Fi modes.
    const _: () = assert!(
        fits(ESP32, &SIXTEEN_CLIENTS, Mode::Station) && fits(ESP32, &SIXTEEN_CLIENTS, Mode::AccessPoint),
        "16 echo clients no longer fit the ESP32 on bare metal: see firmware/README.md"
    );

    /// The echo app over TLS for three clients: what the original ESP32 serves with https and
    /// wss on bare metal (asserted below).
    pub const THREE_TLS_CLIENTS: Settings<'static> =
        Settings { max_clients: 3, tls: true, port: 443, ..Settings::device_defaults() };

    // Three TLS clients fit the original ESP32 in both Wi-Fi modes, and so does the default.
    const _: () = assert!(
        fits(ESP32, &THREE_TLS_CLIENTS, Mode::Station) && fits(ESP32, &THREE_TLS_CLIENTS, Mode::AccessPoint),
        "three TLS clients no longer fit the ESP32 on bare metal: see firmware/README.md"
    );
    const _: () = assert!(crate::build_settings::TLS_DEFAULT_MAX_CLIENTS <= THREE_TLS_CLIENTS.max_clients);

    /// Whether a build fits a chip: the firmware asserts this at compile time.
    pub const fn fits(chip: Chip, settings: &Settings<'_>, mode: Mode) -> bool {
        let (_, heap_in_dram) = heap_split(chip);
        chip.code_in_dram + PLATFORM_STATICS + app_statics(settings, mode) + heap_in_dram + MIN_STACK
            <= chip.dram
    }

    /// The budget of `dram` on `chip`.
    pub fn budget(chip: Chip, settings: &Settings<'_>, mode: Mode) -> Budget {
        let n = settings.max_clients;
        let mut b = Budget {
            items: heapless::Vec::new(),
            capacity: chip.dram - chip.code_in_dram,
            capacity_what: "dram_seg (.data, .bss and the main stack)",
        };
        if settings.shared_rx_buffers() > 0 {
            b.push(
                "worker buffers: (clients + 1) x (socket rx + tx + 256 B carry)",
                workers(n) * worker_buffers(settings),
                Source::Chosen,
            );
            b.push("shared WebSocket receive buffers and their pool", shared_rx(settings), Source::Chosen);
        } else {
            b.push(
                "worker buffers: (clients + 1) x (socket rx + tx + WebSocket rx)",
                workers(n) * worker_buffers(settings),
                Source::Chosen,
            );
        }
        if settings.tls {
            b.push(
                "worker tasks in the executor's pool: (clients + 1) x 2,768 (riscv32, TLS)",
                workers(n) * WORKER_TASK_TLS,
                Source::Measured,
            );
            b.push(
                "TLS heap (mbedTLS): clients x 28,256 + certificate and key 1,056 + 4 KiB",
                tls_heap(settings),
                Source::Measured,
            );
        } else {
            b.push(
                "worker tasks in the executor's pool: (clients + 1) x 2,592 (riscv32)",
                workers(n) * WORKER_TASK,
                Source::Measured,
            );
        }
        b.push(
            "embassy-net sockets (StackResources): workers + DHCP",
            stack_resources(sockets(n)),
            Source::Measured,
        );
        if matches!(mode, Mode::AccessPoint) {
            b.push("DHCP server task (edge-dhcp: UDP buffers, leases)", DHCP_SERVER_TASK, Source::Measured);
        }
        b.push("other tasks, Device, slot counter", OTHER_TASKS, Source::Measured);
        if settings.uses_hub() {
            b.push(
                "hub queues: clients x ESPWS_HUB_QUEUE",
                n * (settings.hub_queue + HUB_SLOT) + HUB,
                Source::Chosen,
            );
        }
        let (_, heap_in_dram) = heap_split(chip);
        b.push("esp-alloc heap for esp-radio, part in dram_seg", heap_in_dram, Source::Chosen);
        b.push(
            "esp-hal, esp-rtos, esp-radio statics and .data (on the C3)",
            PLATFORM_STATICS,
            Source::Measured,
        );
        b.push("main stack, at least", MIN_STACK, Source::Chosen);
        b
    }
}

/// ESP-IDF: std, lwIP and a thread per connection (`firmware/esp-idf`).
pub mod esp_idf {
    use super::*;
    use crate::build_settings::SettingsStrings;

    /// Stack of each connection thread (`Server::with_thread_stack`) in release builds.
    ///
    /// `tests/thread_stack.rs` paints a connection thread's stack on the host and drives it
    /// through the console page, the upgrade, echoes of every frame length class, a fragmented
    /// message and a ping, with a logger that formats every record: our code reaches 4,319
    /// bytes deep (x86_64, release; 4,815 while the WebSocket phase was inlined into the
    /// thread's body beside the HTTP phase, 3,735 in the round before). The test requires that one and a half times that, plus
    /// [`BELOW_OUR_CODE`], fit: 64-bit frames against Xtensa's register-window save areas.
    pub const CONNECTION_STACK: usize = 10 * KIB;
    /// The same for debug builds, whose unoptimised frames are four times deeper (15,943
    /// bytes on the host; debug builds keep each step's temporaries). A debug build with 8 clients does not fit
    /// the ESP32 (see the README).
    pub const CONNECTION_STACK_DEBUG: usize = 32 * KIB;
    /// Stack of each connection thread serving TLS (`ESPWS_TLS_CERT`), release builds.
    ///
    /// `tests/thread_stack.rs` (with `--features mbedtls-host`) paints a connection thread that
    /// runs an mbedTLS server handshake (mbedtls-rs on the host, TLS 1.2 and then 1.3) and then
    /// everything the plain measurement does, over TLS: it reaches 5,759 bytes deep (x86_64,
    /// release, as `scripts/firmware-check` builds it; 5,679 in a build of the test alone; the
    /// handshake alone 4,671 in TLS 1.2 and 5,399 in 1.3). The test holds it to
    /// [`CONNECTION_STACK`]'s rule (half as much again, plus [`BELOW_OUR_CODE`]) plus
    /// [`ESP_TLS_FRAMES`]: 12,734 bytes of these 14 KiB.
    pub const CONNECTION_STACK_TLS: usize = 14 * KIB;
    /// The same for debug builds (17,399 bytes on the host, 30,194 by the rule).
    pub const CONNECTION_STACK_TLS_DEBUG: usize = 36 * KIB;
    /// What a TLS connection thread needs on the device besides the host's measurement: esp-tls's
    /// own frames above mbedTLS (`esp_tls_server_session_create`, its read and write wrappers)
    /// and ESP-IDF's mbedTLS port, which drives the chip's AES, SHA and bignum accelerators
    /// (estimate: neither runs on the host).
    pub const ESP_TLS_FRAMES: usize = 2 * KIB;
    /// Stack ESP-IDF itself uses below our calls: lwIP's socket layer handing work to its
    /// thread, newlib and the UART driver writing log lines, an interrupt's saved context.
    pub const BELOW_OUR_CODE: usize = 2 * KIB;
    /// The accept loop's thread: `Server::run`, spawning connection threads, refusing with 503.
    pub const ACCEPT_STACK: usize = 6 * KIB;
    /// The main task (`CONFIG_ESP_MAIN_TASK_STACK_SIZE` in sdkconfig.defaults): brings Wi-Fi up,
    /// starts the threads and returns, which deletes the task and frees its stack, so it is not
    /// in the steady-state budget.
    pub const MAIN_STACK: usize = 8 * KIB;
    /// The status-tick thread: formats 128 bytes and copies them into the queues.
    pub const STATUS_STACK: usize = 4 * KIB;
    /// A hub-draining thread (broadcast or ticks), one per client: `tests/thread_stack.rs`
    /// measures 583 bytes of our code on the host in a release build (2,615 in debug), held to
    /// the same rule as [`CONNECTION_STACK`]; it writes to the socket and may log, as a
    /// connection thread does.
    pub const HUB_DRAIN_STACK: usize = 6 * KIB;
    /// What a hub-draining thread copies out at a time, from the heap.
    pub const HUB_DRAIN_CHUNK: usize = KIB;
    /// espws's reaper thread, which closes refused and finished sockets politely: espws's own
    /// figure, taken from it (the budget said 32 KiB while espws gives it 16).
    #[cfg(feature = "std")]
    pub const REAPER_STACK: usize = espws::server::REAPER_STACK;
    /// The same figure where espws's std server is not built (the bare-metal boards, which never
    /// run it, still compute ESP-IDF's budget in their tests).
    #[cfg(not(feature = "std"))]
    pub const REAPER_STACK: usize = 16 * KIB;
    /// A FreeRTOS task's control block and the pthread bookkeeping, per thread (estimate).
    pub const TASK_OVERHEAD: usize = 512;
    /// Per connection on the heap besides its receive buffer: lwIP's socket, netconn and PCB,
    /// the client's record and thread name (estimate).
    pub const CONNECTION_HEAP: usize = 512;
    /// lwIP's send buffer per TCP connection (`CONFIG_LWIP_TCP_SND_BUF_DEFAULT`, two segments
    /// of 1440): what a client that stops reading can pin in lwIP's heap until the write times
    /// out.
    pub const TCP_SND_BUF: usize = 2880;
    /// lwIP's receive window (`CONFIG_LWIP_TCP_WND_DEFAULT`, ESP-IDF's default). Received data
    /// stays in Wi-Fi's receive buffers, whose number sdkconfig.defaults caps.
    pub const TCP_WND: usize = 5760;
    /// lwIP sockets (`CONFIG_LWIP_MAX_SOCKETS`): the listener, 8 clients, one being refused and
    /// six lingering or closing.
    pub const LWIP_MAX_SOCKETS: usize = 16;
    /// Sockets the server needs besides its clients: the listener, one being refused with 503,
    /// and at least two lingering in the reaper.
    pub const SOCKETS_BESIDES_CLIENTS: usize = 4;
    /// mbedTLS's heap per TLS connection at the handshake's peak: 28,256 bytes measured on the
    /// emulated RV32 board (`firmware/qemu-virt`: mbedTLS 3.6 through mbedtls-rs, a metered
    /// heap) with 16 KiB input and 4 KiB output records, which are ESP-IDF's defaults
    /// (`CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN`, `CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN`). An estimate
    /// for ESP-IDF, whose mbedTLS its own sdkconfig configures. The budget counts every client
    /// at this peak: all of them may be in their handshakes at once.
    pub const TLS_SESSION_PEAK: usize = 28_256;
    /// The same board's heap per open TLS connection, once its handshake is over.
    pub const TLS_SESSION_OPEN: usize = 27_418;
    /// The certificate and key as mbedTLS parses them (1,056 bytes on the same board, for a
    /// self-signed P-256 certificate). esp-tls parses them for every session
    /// (`set_server_config`), so on ESP-IDF this is per connection.
    pub const TLS_CREDENTIALS: usize = 1_056;
    /// The copy of the certificate's DER that mbedTLS's parser keeps for every session; the
    /// firmware asserts that its certificate is no larger.
    pub const TLS_CERT_DER_MAX: usize = KIB;
    /// esp-tls's own state per session beyond what the board's figure holds: its `esp_tls_t`
    /// carries an entropy context and two certificate structures it does not use here (832 and
    /// 744 bytes each on x86_64, less on the ESP32), and its error record (estimate).
    pub const ESP_TLS_STATE: usize = 2 * KIB;
    /// Everything TLS adds to a connection's heap on ESP-IDF.
    pub const TLS_PER_CONNECTION: usize =
        TLS_SESSION_PEAK + TLS_CREDENTIALS + TLS_CERT_DER_MAX + ESP_TLS_STATE;

    /// The device's defaults with a certificate (`ESPWS_TLS_CERT`) and nothing else set: its
    /// client count is [`TLS_DEFAULT_MAX_CLIENTS`](crate::build_settings::TLS_DEFAULT_MAX_CLIENTS).
    pub const TLS_DEFAULTS: Settings<'static> =
        SettingsStrings { tls_cert: Some("device.pem"), ..SettingsStrings::EMPTY }.unwrap_or_stop();

    // The default client count with TLS fits ESP-IDF in both Wi-Fi modes.
    const _: () = assert!(
        fits(&TLS_DEFAULTS, Mode::Station) && fits(&TLS_DEFAULTS, Mode::AccessPoint),
        "the TLS default (build_settings::TLS_DEFAULT_MAX_CLIENTS) no longer fits ESP-IDF: see firmware/README.md"
    );

    /// The stack of each connection thread for `settings`, in a debug or a release build.
    pub const fn connection_stack(settings: &Settings<'_>, debug: bool) -> usize {
        match (settings.tls, debug) {
            (false, false) => CONNECTION_STACK,
            (false, true) => CONNECTION_STACK_DEBUG,
            (true, false) => CONNECTION_STACK_TLS,
            (true, true) => CONNECTION_STACK_TLS_DEBUG,
        }
    }

    /// Whether `settings` would serve the hub over TLS, which esp-tls's sessions cannot take
    /// (its draining thread is a second writer: see `espws::tls::external`). The firmware
    /// refuses such a build.
    pub const fn hub_over_tls(settings: &Settings<'_>) -> bool {
        settings.tls && settings.uses_hub()
    }

    /// The most clients `settings` could serve in both Wi-Fi modes, whatever its own count
    /// (0 when not even one fits).
    pub const fn most_clients(settings: &Settings<'_>) -> usize {
        let mut n = max_clients_for_sockets();
        while n > 0 {
            let s = Settings { max_clients: n, ..*settings };
            if fits(&s, Mode::Station) && fits(&s, Mode::AccessPoint) {
                return n;
            }
            n -= 1;
        }
        0
    }

    /// Free heap Espressif measured on an ESP32 during a full-speed iperf TCP stream with the
    /// "Minimum" Wi-Fi/lwIP rank (4 static and 8 dynamic receive buffers, 8 dynamic transmit
    /// buffers, no AMPDU receive, 8 KB TCP windows): 185.2 KB, counted as 185,200 bytes.
    /// sdkconfig.defaults uses that rank's Wi-Fi buffers and smaller TCP windows. Source:
    /// ESP-IDF docs, api-guides/wifi-driver/wifi-performance-and-power-save, "How to Configure
    /// Parameters".
    pub const AVAILABLE_HEAP: usize = 185_200;
    /// The access point's extra state: its netif, lwIP's DHCP server and the Wi-Fi driver's
    /// per-station records (estimate; Espressif's figure is for a station).
    pub const ACCESS_POINT_EXTRA: usize = 6 * KIB;

    /// The most clients lwIP's sockets allow.
    pub const fn max_clients_for_sockets() -> usize {
        LWIP_MAX_SOCKETS - SOCKETS_BESIDES_CLIENTS
    }

    /// Whether the worst case fits: the firmware asserts this at compile time.
    pub const fn fits(settings: &Settings<'_>, mode: Mode) -> bool {
        used(settings, mode) <= AVAILABLE_HEAP
    }

    const fn used(settings: &Settings<'_>, mode: Mode) -> usize {
        let n = settings.max_clients;
        let mut bytes = n * (connection_stack(settings, false) + TASK_OVERHEAD)
            + n * settings.rx_buffer
            + n * CONNECTION_HEAP
            + n * TCP_SND_BUF
            + ACCEPT_STACK
            + TASK_OVERHEAD
            + REAPER_STACK
            + TASK_OVERHEAD;
        if settings.tick.is_some() {
            bytes += STATUS_STACK + TASK_OVERHEAD;
        }
        if matches!(settings.app, App::Sensor) {
            bytes += STATUS_STACK + TASK_OVERHEAD;
        }
        if settings.uses_hub() {
            bytes += n * (settings.hub_queue + HUB_DRAIN_STACK + TASK_OVERHEAD + HUB_DRAIN_CHUNK);
        }
        if settings.tls {
            bytes += n * TLS_PER_CONNECTION;
        }
        if matches!(mode, Mode::AccessPoint) {
            bytes += ACCESS_POINT_EXTRA;
        }
        bytes
    }

    /// The budget of the heap ESP-IDF leaves, worst case (every client stalled with a full
    /// send buffer).
    pub fn budget(settings: &Settings<'_>, mode: Mode) -> Budget {
        let n = settings.max_clients;
        let mut b = Budget {
            items: heapless::Vec::new(),
            capacity: AVAILABLE_HEAP,
            capacity_what: "heap left by ESP-IDF, Wi-Fi and lwIP (Espressif's measurement)",
        };
        b.push(
            if settings.tls {
                "connection threads: clients x (14 KiB stack for TLS + task)"
            } else {
                "connection threads: clients x (10 KiB stack + task)"
            },
            n * (connection_stack(settings, false) + TASK_OVERHEAD),
            Source::Chosen,
        );
        if settings.tls {
            b.push(
                "mbedTLS per session at the handshake peak: clients x 28,256 (RV32 board)",
                n * TLS_SESSION_PEAK,
                Source::Estimated,
            );
            b.push(
                "certificate and key, parsed per session: clients x (1,056 + DER <= 1 KiB)",
                n * (TLS_CREDENTIALS + TLS_CERT_DER_MAX),
                Source::Estimated,
            );
            b.push("esp-tls's own state per session: clients x 2 KiB", n * ESP_TLS_STATE, Source::Estimated);
        }
        b.push("receive buffers: clients x rx_buffer", n * settings.rx_buffer, Source::Chosen);
        b.push("lwIP socket and client record: clients x 512", n * CONNECTION_HEAP, Source::Estimated);
        b.push("lwIP send buffers, every client stalled: clients x 2,880", n * TCP_SND_BUF, Source::Chosen);
        b.push(
            "accept thread (6 KiB; the main task has returned)",
            ACCEPT_STACK + TASK_OVERHEAD,
            Source::Chosen,
        );
        b.push("espws reaper thread (16 KiB, espws's choice)", REAPER_STACK + TASK_OVERHEAD, Source::Chosen);
        if settings.tick.is_some() {
            b.push("status-tick thread", STATUS_STACK + TASK_OVERHEAD, Source::Chosen);
        }
        if matches!(settings.app, App::Sensor) {
            b.push("sensor thread (as the status thread)", STATUS_STACK + TASK_OVERHEAD, Source::Chosen);
        }
        if settings.uses_hub() {
            b.push(
                "hub: clients x (queue + draining thread + chunk)",
                n * (settings.hub_queue + HUB_DRAIN_STACK + TASK_OVERHEAD + HUB_DRAIN_CHUNK),
                Source::Chosen,
            );
        }
        if matches!(mode, Mode::AccessPoint) {
            b.push(
                "access point: netif, DHCP server, station records",
                ACCESS_POINT_EXTRA,
                Source::Estimated,
            );
        }
        b
    }
}

#[cfg(any(test, feature = "std"))]
mod markdown;
mod worker_future;

#[cfg(any(test, feature = "std"))]
pub use markdown::markdown;
pub use worker_future::future_size;
#[cfg(feature = "embassy")]
pub use worker_future::WORKER_FUTURE_SIZE;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_settings::SettingsStrings;

    fn defaults() -> Settings<'static> {
        Settings::device_defaults()
    }

    #[test]
    fn the_defaults_fit_the_esp32_in_every_configuration() {
        let s = defaults();
        for mode in [Mode::Station, Mode::AccessPoint] {
            let idf = esp_idf::budget(&s, mode);
            assert!(idf.fits(), "ESP-IDF {mode:?}: {idf:?}");
            assert_eq!(idf.fits(), esp_idf::fits(&s, mode));
            for chip in [bare_metal::ESP32, bare_metal::ESP32C3, bare_metal::ESP32C6] {
                let hal = bare_metal::budget(chip, &s, mode);
                assert!(hal.fits(), "esp-hal on {} {mode:?}: {hal:?}", chip.name);
                assert_eq!(hal.fits(), bare_metal::fits(chip, &s, mode), "{}", chip.name);
            }
        }
    }

    #[test]
    fn the_defaults_leave_room_for_the_application() {
        let s = defaults();
        for mode in [Mode::Station, Mode::AccessPoint] {
            assert!(esp_idf::budget(&s, mode).headroom() >= 8 * KIB as isize, "{mode:?}");
            assert!(
                bare_metal::budget(bare_metal::ESP32, &s, mode).headroom() >= 16 * KIB as isize,
                "{mode:?}"
            );
        }
    }

    #[test]
    fn sixteen_echo_clients_fit_the_esp32_on_bare_metal_only_with_shared_buffers() {
        let sixteen = bare_metal::SIXTEEN_CLIENTS;
        assert_eq!(sixteen.shared_rx_buffers(), espws_apps::settings::SHARED_RX_BUFFERS);
        for mode in [Mode::Station, Mode::AccessPoint] {
            let budget = bare_metal::budget(bare_metal::ESP32, &sixteen, mode);
            assert!(budget.fits(), "{mode:?}: {budget:?}");
            assert_eq!(budget.fits(), bare_metal::fits(bare_metal::ESP32, &sixteen, mode));
        }
        // Each worker owning its 4 KiB buffer (whole-message delivery) would not fit.
        let mut whole = sixteen;
        whole.connection.delivery = espws::proto::Delivery::Whole;
        assert_eq!(whole.shared_rx_buffers(), 0);
        assert!(!bare_metal::fits(bare_metal::ESP32, &whole, Mode::Station));
        // The difference is the workers' buffers: 17 x 4 KiB against 3 shared and 17 carries.
        let own = bare_metal::budget(bare_metal::ESP32, &whole, Mode::Station).used();
        let shared = bare_metal::budget(bare_metal::ESP32, &sixteen, Mode::Station).used();
        assert_eq!(
            own - shared,
            17 * 4096 - (3 * 4096 + bare_metal::BUFFER_POOL + 17 * espws_apps::settings::RX_CARRY)
        );
    }

    #[test]
    fn the_default_clients_fit_lwips_sockets() {
        assert!(defaults().max_clients <= esp_idf::max_clients_for_sockets());
    }

    #[test]
    fn the_hub_costs_its_queues_and_can_overflow_the_esp32() {
        let broadcast = SettingsStrings { app: Some("broadcast"), ..SettingsStrings::EMPTY }.unwrap_or_stop();
        let echo = defaults();
        let chip = bare_metal::ESP32;
        let extra = bare_metal::budget(chip, &broadcast, Mode::Station).used()
            - bare_metal::budget(chip, &echo, Mode::Station).used();
        // The hub's queues, and each worker owning its buffer: the hub's apps deliver whole
        // messages, so the workers share none.
        assert_eq!(broadcast.shared_rx_buffers(), 0);
        let own_buffers = 9 * 4096 - bare_metal::shared_rx(&echo) - 9 * espws_apps::settings::RX_CARRY;
        assert_eq!(extra, 8 * (8 * KIB + bare_metal::HUB_SLOT) + bare_metal::HUB + own_buffers);
        // 8 KiB queues for 8 clients do not fit beside everything else on the ESP32 ...
        assert!(!bare_metal::fits(chip, &broadcast, Mode::AccessPoint));
        // ... 2 KiB queues do.
        let small =
            SettingsStrings { app: Some("broadcast"), hub_queue: Some("2048"), ..SettingsStrings::EMPTY }
                .unwrap_or_stop();
        assert!(bare_metal::fits(chip, &small, Mode::AccessPoint));
        // A thread per client for the hub does not fit ESP-IDF with 8 clients; 4 do.
        assert!(!esp_idf::fits(&small, Mode::Station));
        let four = SettingsStrings {
            app: Some("broadcast"),
            hub_queue: Some("2048"),
            max_clients: Some("4"),
            ..SettingsStrings::EMPTY
        }
        .unwrap_or_stop();
        assert!(esp_idf::fits(&four, Mode::AccessPoint));
    }

    #[test]
    fn tls_on_esp_idf_costs_a_session_and_a_deeper_stack_per_client() {
        let tls = esp_idf::TLS_DEFAULTS;
        assert_eq!(tls.max_clients, crate::build_settings::TLS_DEFAULT_MAX_CLIENTS);
        let clients = |settings: &Settings<'static>, n| Settings { max_clients: n, ..*settings };
        let per_client = |settings: &Settings<'static>| {
            esp_idf::budget(&clients(settings, 3), Mode::Station).used()
                - esp_idf::budget(&clients(settings, 2), Mode::Station).used()
        };
        assert_eq!(
            per_client(&tls) - per_client(&defaults()),
            esp_idf::TLS_PER_CONNECTION + esp_idf::CONNECTION_STACK_TLS - esp_idf::CONNECTION_STACK
        );
        // Two TLS clients fit in both modes, three not in the access point's: the default is
        // the most that fit.
        assert_eq!(esp_idf::most_clients(&tls), tls.max_clients);
        for mode in [Mode::Station, Mode::AccessPoint] {
            let budget = esp_idf::budget(&tls, mode);
            assert!(budget.fits(), "{mode:?}: {budget:?}");
            assert_eq!(budget.fits(), esp_idf::fits(&tls, mode));
        }
        assert!(!esp_idf::fits(&clients(&tls, 3), Mode::AccessPoint));
        // Eight plain clients still fit; eight TLS clients are refused.
        assert!(esp_idf::most_clients(&defaults()) >= defaults().max_clients);
        assert!(!esp_idf::fits(&clients(&tls, 8), Mode::Station));
    }

    #[test]
    fn tls_threads_get_the_tls_stack() {
        let tls = esp_idf::TLS_DEFAULTS;
        assert_eq!(esp_idf::connection_stack(&tls, false), esp_idf::CONNECTION_STACK_TLS);
        assert_eq!(esp_idf::connection_stack(&tls, true), esp_idf::CONNECTION_STACK_TLS_DEBUG);
        assert_eq!(esp_idf::connection_stack(&defaults(), false), esp_idf::CONNECTION_STACK);
        assert_eq!(esp_idf::connection_stack(&defaults(), true), esp_idf::CONNECTION_STACK_DEBUG);
    }

    #[test]
    fn the_hub_over_tls_is_refused_on_esp_idf() {
        let tls = SettingsStrings { tls_cert: Some("device.pem"), ..SettingsStrings::EMPTY };
        assert!(!esp_idf::hub_over_tls(&tls.unwrap_or_stop()));
        for hub in
            [SettingsStrings { app: Some("sensor"), ..tls }, SettingsStrings { tick_ms: Some("1000"), ..tls }]
        {
            assert!(esp_idf::hub_over_tls(&hub.unwrap_or_stop()), "{hub:?}");
        }
        let plain_broadcast = SettingsStrings { app: Some("broadcast"), ..SettingsStrings::EMPTY };
        assert!(!esp_idf::hub_over_tls(&plain_broadcast.unwrap_or_stop()));
    }

    #[test]
    fn the_heap_goes_to_reclaimed_ram_first() {
        assert_eq!(bare_metal::heap_split(bare_metal::ESP32), (96 * KIB, 4 * KIB));
        assert_eq!(bare_metal::heap_split(bare_metal::ESP32C3), (64 * KIB, 36 * KIB));
        assert_eq!(bare_metal::heap_split(bare_metal::ESP32C6), (64 * KIB, 36 * KIB));
    }

    #[test]
    fn the_stack_resources_formula_matches_the_measurement() {
        // 10 sockets measured 3,968 bytes on riscv32imc.
        assert_eq!(bare_metal::stack_resources(10), 3968);
        assert_eq!(bare_metal::sockets(8), 10);
    }

    #[test]
    fn sizes_on_this_host_bound_the_32_bit_ones_from_above() {
        // The host's pointers are twice as wide; were a type smaller here than the table's
        // 32-bit figure, the figure would be suspect.
        #[cfg(target_pointer_width = "64")]
        {
            let connection = core::mem::size_of::<espws::proto::Connection>();
            assert!((400..=2 * 480).contains(&connection), "Connection is {connection} bytes");
        }
    }

    #[test]
    fn the_readme_tables_are_the_budget() {
        let readme = include_str!("../../../README.md");
        let begin = "<!-- budget:begin (generated by espws_board::budget::markdown; a test compares) -->\n";
        let end = "<!-- budget:end -->";
        let start = readme.find(begin).expect("firmware/README.md has the budget markers") + begin.len();
        let stop = readme[start..].find(end).expect("the end marker") + start;
        let expected = markdown(&defaults());
        assert!(
            readme[start..stop].trim() == expected.trim(),
            "firmware/README.md's RAM tables are stale; replace them with:\n\n{expected}"
        );
    }
}
