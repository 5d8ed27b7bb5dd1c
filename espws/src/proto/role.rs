//! Which end of the connection this machine is, and where a client's masking keys come from.

/// A source of masking keys: each call must return four fresh, unpredictable bytes (RFC 6455
/// section 5.3), taken from the platform's random number generator (`getrandom` on a PC, the
/// chip's RNG on a device). A plain function so that it costs one pointer per connection and no
/// type parameter: the machine calls it once per frame it sends, and never stores the keys.
pub type MaskKeys = fn() -> [u8; 4];

/// Which end of a WebSocket connection a [`Connection`](super::Connection) is.
#[derive(Copy, Clone)]
pub enum Role {
    /// Sends unmasked frames and requires masked ones (1002 otherwise).
    Server,
    /// Masks every frame it sends with a fresh key from the source, and requires unmasked
    /// frames (1002 otherwise).
    Client(MaskKeys),
}

impl Role {
    /// Whether this is the server end.
    pub const fn is_server(&self) -> bool {
        matches!(self, Role::Server)
    }

    /// A fresh masking key for the next frame sent: `None` for a server.
    #[inline(always)]
    pub fn next_mask(&self) -> Option<[u8; 4]> {
        match self {
            Role::Server => None,
            Role::Client(keys) => Some(keys()),
        }
    }
}

impl core::fmt::Debug for Role {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(if self.is_server() { "Server" } else { "Client" })
    }
}

impl PartialEq for Role {
    /// Roles are equal when they are the same end; key sources are not compared.
    fn eq(&self, other: &Self) -> bool {
        self.is_server() == other.is_server()
    }
}

impl Eq for Role {}
