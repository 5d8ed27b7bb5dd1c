//! https and wss on the board, as `firmware/esp-hal` serves them: mbedTLS's heap, virtio-rng as
//! its random source (the ESP32's is its hardware RNG), and the certificate and key the build
//! embedded (`ESPWS_TLS_CERT`, `ESPWS_TLS_KEY`).

use core::convert::Infallible;
use core::mem::MaybeUninit;

use espws::tls::mbedtls::{Tls, TlsServer};
use static_cell::{ConstStaticCell, StaticCell};

use crate::heap;
use crate::virtio::VirtioRng;

/// mbedTLS's heap: what the budget gives the ESP32-C3 for these settings.
pub const HEAP_SIZE: usize = espws_board::budget::bare_metal::tls_heap(&crate::SETTINGS);
static HEAP_MEMORY: ConstStaticCell<[MaybeUninit<u8>; HEAP_SIZE]> =
    ConstStaticCell::new([MaybeUninit::uninit(); HEAP_SIZE]);
static RNG: StaticCell<VirtioRng> = StaticCell::new();
static LIBRARY: StaticCell<Tls<'static>> = StaticCell::new();
static SERVER: StaticCell<TlsServer<'static>> = StaticCell::new();

/// Starts mbedTLS with the embedded certificate; a board without virtio-rng stops here with
/// the reason. Call once.
pub fn start() -> &'static TlsServer<'static> {
    heap::init(&HEAP_MEMORY);
    let rng = match VirtioRng::new() {
        Ok(rng) => RNG.init(rng),
        Err(e) => panic!("no random source for TLS: {e:?} (QEMU needs -device virtio-rng-device)"),
    };
    let library = LIBRARY.init(Tls::new(rng).unwrap_or_else(|e| panic!("mbedTLS: {e:?}")));
    log::info!("TLS heap: {} B", HEAP_SIZE);
    SERVER.init(espws_board::tls::server(library, espws_board::embedded_tls_files!()))
}

impl rand_core::TryRng for VirtioRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0u8; 4];
        self.fill(&mut bytes);
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        self.fill(&mut bytes);
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, out: &mut [u8]) -> Result<(), Infallible> {
        self.fill(out);
        Ok(())
    }
}

impl rand_core::TryCryptoRng for VirtioRng {}
