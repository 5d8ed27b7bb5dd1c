//! The bare-metal worker task's size, and the inflate state's, checked against the budget on
//! every 32-bit build.

#[cfg(all(feature = "embassy", target_pointer_width = "32"))]
use super::bare_metal;

/// The size of the future an async function of eight arguments returns, in a `const`.
pub const fn future_size<F, A, B, C, D, E, G, H, I, Fut>(_: &F) -> usize
where
    F: FnOnce(A, B, C, D, E, G, H, I) -> Fut,
{
    core::mem::size_of::<Fut>()
}

/// The size of the future of `espws::server::embassy::worker` serving a device, for this
/// target.
#[cfg(feature = "embassy")]
pub const WORKER_FUTURE_SIZE: usize =
    future_size::<
        _,
        embassy_net::Stack<'static>,
        u16,
        &'static espws::ServeConfig<'static>,
        &'static espws_apps::device::Device<'static>,
        &'static espws::server::Slots,
        u32,
        espws::server::embassy::WorkerBuffers<'static, 'static>,
        espws::server::embassy::Tcp,
        _,
    >(&espws::server::embassy::worker::<espws_apps::device::Device<'static>, espws::server::embassy::Tcp>);

// The table's per-worker figure, checked on every 32-bit build with the pool.
#[cfg(all(feature = "embassy", target_pointer_width = "32"))]
const _: () = assert!(
    WORKER_FUTURE_SIZE <= bare_metal::WORKER_FUTURE,
    "the worker's future grew: update budget::bare_metal::WORKER_FUTURE and WORKER_TASK, and firmware/README.md"
);

// The inflate state a device connection would need for permessage-deflate (inline without std).
#[cfg(all(not(feature = "std"), target_pointer_width = "32"))]
const _: () = assert!(
    core::mem::size_of::<espws::proto::deflate::Inflate<[u8; 512]>>() == super::bare_metal::INFLATE_SMALL,
    "the inflate state changed size: update budget::bare_metal::INFLATE_SMALL and firmware/README.md"
);
