//! How the device joins Wi-Fi, decided from the strings it was built with: a station on the
//! user's network, or an access point of its own.
//!
//! Both firmware crates read `WIFI_SSID`, `WIFI_PASS`, `AP_SSID` and `AP_PASS` with
//! `option_env!` and hand them here; everything else (the rules, the defaults, the access
//! point's addresses, the lines logged on the serial console) lives in this module, where host
//! tests cover it.
//!
//! | Built with | The device |
//! |---|---|
//! | `WIFI_SSID` and `WIFI_PASS` | joins that network as a station; its router's DHCP gives it an address |
//! | `WIFI_SSID` and an empty `WIFI_PASS` | joins that open network |
//! | neither | opens a WPA2 access point `espws-XXXX` (the last two MAC bytes in hex) or `AP_SSID`, password `AP_PASS` or [`DEFAULT_AP_PASS`], at 192.168.4.1/24 with a DHCP server |
//! | only one of `WIFI_SSID` and `WIFI_PASS` | refuses to build ([`WifiStrings::assert_valid`] in a `const`) |
//!
//! [`WifiStrings::check`] is a `const fn`, so a firmware crate can refuse a bad password at build
//! time; [`plan`] checks again at start and the firmware logs the error if it ever fails there.

use core::fmt::Write as _;
use core::net::Ipv4Addr;

use espws_apps::settings::Settings;

/// The access point's own address, and the gateway it announces over DHCP.
pub const AP_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 168, 4, 1);
/// The access point's network prefix length: 192.168.4.0/24.
pub const AP_PREFIX_LEN: u8 = 24;
/// The first address the access point's DHCP server leases.
pub const DHCP_FIRST: Ipv4Addr = Ipv4Addr::new(192, 168, 4, 2);
/// The last address the access point's DHCP server leases: 10 clients, more than the 8 WebSocket
/// clients the device serves by default (a phone may keep a lease it no longer uses).
pub const DHCP_LAST: Ipv4Addr = Ipv4Addr::new(192, 168, 4, 11);
/// The access point's Wi-Fi channel.
pub const AP_CHANNEL: u8 = 1;
/// Stations the access point admits at once. Each costs the Wi-Fi driver memory; four
/// browsers or scripts are plenty for a bench device, and one station may open several
/// WebSockets.
pub const AP_MAX_STATIONS: u16 = 4;
/// How many addresses the access point's DHCP server leases: a firmware sizes its lease table
/// with it.
pub const DHCP_LEASES: usize = (DHCP_LAST.to_bits() - DHCP_FIRST.to_bits() + 1) as usize;
/// How long a DHCP lease lasts, in seconds.
pub const DHCP_LEASE_SECS: u32 = 2 * 60 * 60;
/// The access point's WPA2 password when the firmware is built without `AP_PASS`. It is
/// printed in the README: anyone nearby who reads it can join, so set `AP_PASS` for anything
/// but a bench test.
pub const DEFAULT_AP_PASS: &str = "espws-device";
/// The access point's SSID is this followed by the last two MAC bytes in hex.
pub const AP_SSID_PREFIX: &str = "espws-";
/// The longest SSID 802.11 allows, in bytes.
pub const MAX_SSID: usize = 32;
/// The shortest WPA2 passphrase.
pub const MIN_PASS: usize = 8;
/// The longest WPA2 passphrase (64 characters would be a raw hex key, not a passphrase).
pub const MAX_PASS: usize = 63;

// The default must itself be a valid WPA2 passphrase.
const _: () = match check_pass(Var::ApPass, DEFAULT_AP_PASS) {
    Ok(()) => {}
    Err(_) => panic!("DEFAULT_AP_PASS is not a valid WPA2 passphrase"),
};

/// The build-time variable a string came from, for error messages.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Var {
    /// `WIFI_SSID`: the network to join as a station.
    WifiSsid,
    /// `WIFI_PASS`: its password.
    WifiPass,
    /// `AP_SSID`: the access point's SSID instead of `espws-XXXX`.
    ApSsid,
    /// `AP_PASS`: the access point's WPA2 password instead of [`DEFAULT_AP_PASS`].
    ApPass,
}

impl Var {
    /// The variable's name.
    pub const fn name(self) -> &'static str {
        match self {
            Var::WifiSsid => "WIFI_SSID",
            Var::WifiPass => "WIFI_PASS",
            Var::ApSsid => "AP_SSID",
            Var::ApPass => "AP_PASS",
        }
    }
}

/// Why the Wi-Fi strings cannot be used.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ProvisionError {
    /// An SSID is empty.
    EmptySsid(Var),
    /// An SSID is longer than [`MAX_SSID`] bytes.
    SsidTooLong(Var),
    /// A password is shorter than [`MIN_PASS`] characters.
    PassTooShort(Var),
    /// A password is longer than [`MAX_PASS`] characters.
    PassTooLong(Var),
    /// A password has a character outside printable ASCII, which WPA2 passphrases are made of.
    PassNotPrintable(Var),
    /// `WIFI_SSID` is set without `WIFI_PASS`, or the other way round; the variable named is the
    /// missing one.
    Missing(Var),
}

impl ProvisionError {
    /// What went wrong and what to do, in one sentence: a `const fn`, so that a build can stop
    /// with it.
    pub const fn message(self) -> &'static str {
        use ProvisionError::*;
        match self {
            EmptySsid(Var::WifiSsid) => "WIFI_SSID is empty: set it to the network's name, or unset it for access-point mode",
            EmptySsid(_) => "AP_SSID is empty: set it to 1 to 32 bytes, or unset it for espws-XXXX",
            SsidTooLong(Var::WifiSsid) => "WIFI_SSID is longer than 32 bytes, which no Wi-Fi network can be",
            SsidTooLong(_) => "AP_SSID is longer than 32 bytes: Wi-Fi allows at most 32",
            PassTooShort(Var::WifiPass) => "WIFI_PASS is shorter than 8 characters: WPA2 passwords have 8 to 63 (leave it empty for an open network)",
            PassTooShort(_) => "AP_PASS is shorter than 8 characters: WPA2 needs 8 to 63",
            PassTooLong(Var::WifiPass) => "WIFI_PASS is longer than 63 characters: WPA2 passwords have 8 to 63",
            PassTooLong(_) => "AP_PASS is longer than 63 characters: WPA2 allows 8 to 63",
            PassNotPrintable(Var::WifiPass) => "WIFI_PASS has a character that is not printable ASCII, which WPA2 passwords are made of",
            PassNotPrintable(_) => "AP_PASS has a character that is not printable ASCII, which WPA2 passwords are made of",
            Missing(Var::WifiPass) => "WIFI_SSID is set but WIFI_PASS is not: set WIFI_PASS too (empty for an open network), or unset WIFI_SSID for access-point mode",
            Missing(_) => "WIFI_PASS is set but WIFI_SSID is not: set WIFI_SSID to the network's name, or unset WIFI_PASS for access-point mode",
        }
    }
}

impl core::fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for ProvisionError {}

/// Which mode the strings select, before the MAC address is known.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Join the network named by `WIFI_SSID`.
    Station,
    /// Open an access point.
    AccessPoint,
}

/// The Wi-Fi strings the firmware was built with, each `None` when unset.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct WifiStrings<'a> {
    /// `WIFI_SSID`.
    pub wifi_ssid: Option<&'a str>,
    /// `WIFI_PASS`.
    pub wifi_pass: Option<&'a str>,
    /// `AP_SSID`.
    pub ap_ssid: Option<&'a str>,
    /// `AP_PASS`.
    pub ap_pass: Option<&'a str>,
}

impl WifiStrings<'_> {
    /// Checks the strings and says which mode they select.
    ///
    /// Station mode needs both `WIFI_SSID` and `WIFI_PASS`; the access point's strings are
    /// checked only in access-point mode (in station mode they are not used).
    pub const fn check(&self) -> Result<Mode, ProvisionError> {
        match (self.wifi_ssid, self.wifi_pass) {
            (Some(ssid), Some(pass)) => {
                if let Err(e) = check_ssid(Var::WifiSsid, ssid) {
                    return Err(e);
                }
                // An empty password means an open network.
                if !pass.is_empty() {
                    if let Err(e) = check_pass(Var::WifiPass, pass) {
                        return Err(e);
                    }
                }
                Ok(Mode::Station)
            }
            (Some(_), None) => Err(ProvisionError::Missing(Var::WifiPass)),
            (None, Some(_)) => Err(ProvisionError::Missing(Var::WifiSsid)),
            (None, None) => {
                if let Some(ssid) = self.ap_ssid {
                    if let Err(e) = check_ssid(Var::ApSsid, ssid) {
                        return Err(e);
                    }
                }
                if let Some(pass) = self.ap_pass {
                    if let Err(e) = check_pass(Var::ApPass, pass) {
                        return Err(e);
                    }
                }
                Ok(Mode::AccessPoint)
            }
        }
    }

    /// Stops the build with the error's message when the strings cannot be used: call it in a
    /// `const` of the firmware crate.
    pub const fn assert_valid(&self) {
        if let Err(e) = self.check() {
            panic!("{}", e.message());
        }
    }
}

const fn check_ssid(var: Var, ssid: &str) -> Result<(), ProvisionError> {
    if ssid.is_empty() {
        Err(ProvisionError::EmptySsid(var))
    } else if ssid.len() > MAX_SSID {
        Err(ProvisionError::SsidTooLong(var))
    } else {
        Ok(())
    }
}

const fn check_pass(var: Var, pass: &str) -> Result<(), ProvisionError> {
    let bytes = pass.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] < 0x20 || bytes[i] > 0x7e {
            return Err(ProvisionError::PassNotPrintable(var));
        }
        i += 1;
    }
    // Printable ASCII: bytes are characters.
    if bytes.len() < MIN_PASS {
        Err(ProvisionError::PassTooShort(var))
    } else if bytes.len() > MAX_PASS {
        Err(ProvisionError::PassTooLong(var))
    } else {
        Ok(())
    }
}

/// What the firmware does to get on Wi-Fi.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan<'a> {
    /// Join a network; its router's DHCP server gives the address.
    Station(Station<'a>),
    /// Open an access point.
    AccessPoint(AccessPoint<'a>),
}

/// A network to join.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Station<'a> {
    /// Its SSID.
    pub ssid: &'a str,
    /// Its WPA2 password; empty for an open network.
    pub pass: &'a str,
}

impl Station<'_> {
    /// Whether the network is open (no password).
    pub fn is_open(&self) -> bool {
        self.pass.is_empty()
    }
}

/// The device's own WPA2 access point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessPoint<'a> {
    /// Its SSID: `AP_SSID`, or `espws-` and the last two MAC bytes in hex.
    pub ssid: heapless::String<MAX_SSID>,
    /// Its WPA2 password.
    pub pass: &'a str,
    /// Whether `pass` is [`DEFAULT_AP_PASS`] because `AP_PASS` was not set.
    pub default_pass: bool,
    /// The device's address on it, also the gateway announced over DHCP.
    pub address: Ipv4Addr,
    /// The network's prefix length.
    pub prefix_len: u8,
    /// The addresses the DHCP server leases.
    pub dhcp: DhcpRange,
}

impl AccessPoint<'_> {
    /// The netmask of [`prefix_len`](Self::prefix_len), as DHCP announces it.
    pub fn netmask(&self) -> Ipv4Addr {
        netmask(self.prefix_len)
    }
}

/// The addresses a DHCP server leases, and for how long.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DhcpRange {
    /// The first address leased.
    pub first: Ipv4Addr,
    /// The last address leased.
    pub last: Ipv4Addr,
    /// Lease time in seconds.
    pub lease_secs: u32,
}

impl DhcpRange {
    /// How many addresses the range holds.
    pub fn len(&self) -> usize {
        (u32::from(self.last).saturating_sub(u32::from(self.first)) + 1) as usize
    }

    /// Whether the range is empty (it never is: `last` is at least `first`).
    pub fn is_empty(&self) -> bool {
        u32::from(self.last) < u32::from(self.first)
    }
}

/// Decides how to get on Wi-Fi: checks `strings` and, for an access point, names it from `mac`
/// (the access point interface's MAC address).
pub fn plan<'a>(strings: &WifiStrings<'a>, mac: [u8; 6]) -> Result<Plan<'a>, ProvisionError> {
    match strings.check()? {
        Mode::Station => Ok(Plan::Station(Station {
            ssid: strings.wifi_ssid.unwrap_or_default(),
            pass: strings.wifi_pass.unwrap_or_default(),
        })),
        Mode::AccessPoint => {
            let ssid = match strings.ap_ssid {
                Some(ssid) => {
                    let mut owned = heapless::String::new();
                    // Checked above: at most 32 bytes.
                    let _ = owned.push_str(ssid);
                    owned
                }
                None => ap_ssid(mac),
            };
            Ok(Plan::AccessPoint(AccessPoint {
                ssid,
                pass: strings.ap_pass.unwrap_or(DEFAULT_AP_PASS),
                default_pass: strings.ap_pass.is_none(),
                address: AP_ADDRESS,
                prefix_len: AP_PREFIX_LEN,
                dhcp: DhcpRange { first: DHCP_FIRST, last: DHCP_LAST, lease_secs: DHCP_LEASE_SECS },
            }))
        }
    }
}

/// `espws-` and the last two bytes of `mac` in upper-case hex, such as `espws-3FA2`: devices on
/// one bench get different names.
pub fn ap_ssid(mac: [u8; 6]) -> heapless::String<MAX_SSID> {
    let mut ssid = heapless::String::new();
    // 10 bytes always fit in 32.
    let _ = write!(ssid, "{AP_SSID_PREFIX}{:02X}{:02X}", mac[4], mac[5]);
    ssid
}

/// The netmask of a prefix length: 24 gives 255.255.255.0.
pub const fn netmask(prefix_len: u8) -> Ipv4Addr {
    let bits = match prefix_len {
        0 => 0,
        n if n >= 32 => u32::MAX,
        n => u32::MAX << (32 - n),
    };
    Ipv4Addr::from_bits(bits)
}

/// The longest line [`console_line`] and [`websocket_line`] write.
pub const MAX_LINE: usize = 96;

/// `console: open http://192.168.4.1/ in a browser`: the line the firmware logs once it has an
/// address, the same words as the simulator's. `https` when the device serves TLS; the port
/// appears when it is not the scheme's own (80, 443), and a `?token=` hint when connections
/// need the token (the token itself is never logged).
pub fn console_line(address: Ipv4Addr, settings: &Settings<'_>) -> heapless::String<MAX_LINE> {
    let mut line = heapless::String::new();
    let scheme = if settings.tls { "https" } else { "http" };
    let hint = TokenHint(settings.policy.token.is_some());
    let _ = write!(line, "console: open {scheme}://{}/{hint} in a browser", Host(address, settings));
    line
}

/// `WebSocket URL: ws://192.168.4.1/ws` (or `wss://`), logged after [`console_line`].
pub fn websocket_line(address: Ipv4Addr, settings: &Settings<'_>) -> heapless::String<MAX_LINE> {
    let mut line = heapless::String::new();
    let scheme = if settings.tls { "wss" } else { "ws" };
    let hint = TokenHint(settings.policy.token.is_some());
    let _ = write!(
        line,
        "WebSocket URL: {scheme}://{}{}{hint}",
        Host(address, settings),
        espws_apps::console::WS_PATH
    );
    line
}

/// The longest line [`join_line`] writes.
pub const MAX_JOIN_LINE: usize = 160;

/// How to reach an access point: `join the Wi-Fi network "espws-3FA2" (WPA2, password
/// espws-device)`. A password set with `AP_PASS` is not printed, only the default one is (it is
/// in the README anyway).
pub fn join_line(ap: &AccessPoint<'_>) -> heapless::String<MAX_JOIN_LINE> {
    let mut line = heapless::String::new();
    let _ = if ap.default_pass {
        write!(line, "join the Wi-Fi network \"{}\" (WPA2, default password {})", ap.ssid, ap.pass)
    } else {
        write!(line, "join the Wi-Fi network \"{}\" (WPA2, the AP_PASS the firmware was built with)", ap.ssid)
    };
    line
}

/// `192.168.4.1`, or `192.168.4.1:8080` off port 80.
/// The address, and the port when it is not the scheme's own.
struct Host<'s>(Ipv4Addr, &'s Settings<'s>);

impl core::fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (self.1.port, self.1.tls) {
            (80, false) | (443, true) => write!(f, "{}", self.0),
            (port, _) => write!(f, "{}:{}", self.0, port),
        }
    }
}

struct TokenHint(bool);

impl core::fmt::Display for TokenHint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 {
            f.write_str("?token=<your token>")
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x24, 0x0a, 0xc4, 0x11, 0x3f, 0xa2];

    fn strings<'a>(
        wifi_ssid: Option<&'a str>,
        wifi_pass: Option<&'a str>,
        ap_ssid: Option<&'a str>,
        ap_pass: Option<&'a str>,
    ) -> WifiStrings<'a> {
        WifiStrings { wifi_ssid, wifi_pass, ap_ssid, ap_pass }
    }

    #[test]
    fn ssid_and_password_select_station_mode() {
        let plan = plan(&strings(Some("home"), Some("correct horse"), None, None), MAC).unwrap();
        assert_eq!(plan, Plan::Station(Station { ssid: "home", pass: "correct horse" }));
    }

    #[test]
    fn an_empty_password_joins_an_open_network() {
        let Plan::Station(station) = plan(&strings(Some("cafe"), Some(""), None, None), MAC).unwrap() else {
            panic!("station expected")
        };
        assert!(station.is_open());
    }

    #[test]
    fn station_mode_ignores_the_access_point_strings() {
        // A bad AP_PASS does not matter when the device joins a network.
        let plan = plan(&strings(Some("home"), Some("correct horse"), Some(""), Some("x")), MAC);
        assert!(matches!(plan, Ok(Plan::Station(_))));
    }

    #[test]
    fn nothing_set_opens_the_default_access_point() {
        let Plan::AccessPoint(ap) = plan(&WifiStrings::default(), MAC).unwrap() else {
            panic!("access point expected")
        };
        assert_eq!(ap.ssid.as_str(), "espws-3FA2");
        assert_eq!(ap.pass, DEFAULT_AP_PASS);
        assert!(ap.default_pass);
        assert_eq!(ap.address, Ipv4Addr::new(192, 168, 4, 1));
        assert_eq!(ap.prefix_len, 24);
        assert_eq!(ap.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(ap.dhcp.first, Ipv4Addr::new(192, 168, 4, 2));
        assert_eq!(ap.dhcp.last, Ipv4Addr::new(192, 168, 4, 11));
        assert_eq!(ap.dhcp.len(), 10);
        assert_eq!(ap.dhcp.len(), DHCP_LEASES);
        assert!(!ap.dhcp.is_empty());
    }

    #[test]
    fn the_access_point_takes_its_configured_name_and_password() {
        let Plan::AccessPoint(ap) =
            plan(&strings(None, None, Some("bench-7"), Some("a long secret")), MAC).unwrap()
        else {
            panic!("access point expected")
        };
        assert_eq!((ap.ssid.as_str(), ap.pass, ap.default_pass), ("bench-7", "a long secret", false));
    }

    #[test]
    fn the_dhcp_range_is_inside_the_access_points_network_and_excludes_it() {
        let mask = u32::from(netmask(AP_PREFIX_LEN));
        for ip in [DHCP_FIRST, DHCP_LAST] {
            assert_eq!(u32::from(ip) & mask, u32::from(AP_ADDRESS) & mask, "{ip}");
            assert_ne!(ip, AP_ADDRESS);
        }
        assert!(u32::from(DHCP_FIRST) <= u32::from(DHCP_LAST));
    }

    #[test]
    fn the_ssid_comes_from_the_last_two_mac_bytes() {
        assert_eq!(ap_ssid([0; 6]).as_str(), "espws-0000");
        assert_eq!(ap_ssid([1, 2, 3, 4, 0xff, 0x0e]).as_str(), "espws-FF0E");
    }

    #[test]
    fn wpa2_passwords_need_8_to_63_printable_characters() {
        fn ap(pass: &str) -> Result<Mode, ProvisionError> {
            strings(None, None, None, Some(pass)).check()
        }
        assert_eq!(ap("1234567"), Err(ProvisionError::PassTooShort(Var::ApPass)));
        assert_eq!(ap("12345678"), Ok(Mode::AccessPoint));
        assert_eq!(ap(&"x".repeat(63)), Ok(Mode::AccessPoint));
        assert_eq!(ap(&"x".repeat(64)), Err(ProvisionError::PassTooLong(Var::ApPass)));
        assert_eq!(ap("tab\there!"), Err(ProvisionError::PassNotPrintable(Var::ApPass)));
        assert_eq!(ap("pässwort123"), Err(ProvisionError::PassNotPrintable(Var::ApPass)));
        assert_eq!(ap("with spaces ok"), Ok(Mode::AccessPoint));
        fn sta(pass: &str) -> Result<Mode, ProvisionError> {
            strings(Some("home"), Some(pass), None, None).check()
        }
        assert_eq!(sta("short"), Err(ProvisionError::PassTooShort(Var::WifiPass)));
        assert_eq!(sta(&"y".repeat(64)), Err(ProvisionError::PassTooLong(Var::WifiPass)));
    }

    #[test]
    fn ssids_need_1_to_32_bytes() {
        fn ap(ssid: &str) -> Result<Mode, ProvisionError> {
            strings(None, None, Some(ssid), None).check()
        }
        assert_eq!(ap(""), Err(ProvisionError::EmptySsid(Var::ApSsid)));
        assert_eq!(ap(&"s".repeat(32)), Ok(Mode::AccessPoint));
        assert_eq!(ap(&"s".repeat(33)), Err(ProvisionError::SsidTooLong(Var::ApSsid)));
        // Bytes, not characters: 11 three-byte characters are 33 bytes.
        assert_eq!(ap(&"€".repeat(11)), Err(ProvisionError::SsidTooLong(Var::ApSsid)));
        fn sta(ssid: &str) -> Result<Mode, ProvisionError> {
            strings(Some(ssid), Some("12345678"), None, None).check()
        }
        assert_eq!(sta(""), Err(ProvisionError::EmptySsid(Var::WifiSsid)));
        assert_eq!(sta(&"s".repeat(33)), Err(ProvisionError::SsidTooLong(Var::WifiSsid)));
    }

    #[test]
    fn half_a_station_configuration_is_refused() {
        assert_eq!(
            strings(Some("home"), None, None, None).check(),
            Err(ProvisionError::Missing(Var::WifiPass))
        );
        assert_eq!(
            strings(None, Some("12345678"), None, None).check(),
            Err(ProvisionError::Missing(Var::WifiSsid))
        );
    }

    #[test]
    fn every_error_names_its_variable() {
        for var in [Var::WifiSsid, Var::WifiPass, Var::ApSsid, Var::ApPass] {
            let errors = [
                ProvisionError::EmptySsid(var),
                ProvisionError::SsidTooLong(var),
                ProvisionError::PassTooShort(var),
                ProvisionError::PassTooLong(var),
                ProvisionError::PassNotPrintable(var),
            ];
            for e in errors {
                let expected = match (e, var) {
                    (ProvisionError::EmptySsid(_) | ProvisionError::SsidTooLong(_), Var::WifiSsid) => {
                        "WIFI_SSID"
                    }
                    (ProvisionError::EmptySsid(_) | ProvisionError::SsidTooLong(_), _) => "AP_SSID",
                    (_, Var::WifiPass) => "WIFI_PASS",
                    (_, _) => "AP_PASS",
                };
                assert!(e.message().starts_with(expected), "{e:?}: {}", e.message());
            }
        }
        assert!(ProvisionError::Missing(Var::WifiPass).message().contains("WIFI_PASS"));
        assert!(ProvisionError::Missing(Var::WifiSsid).message().contains("WIFI_SSID"));
        assert_eq!(
            std::format!("{}", ProvisionError::PassTooShort(Var::ApPass)),
            ProvisionError::PassTooShort(Var::ApPass).message()
        );
    }

    #[test]
    fn the_checks_run_at_compile_time() {
        const MODE: Mode =
            match (WifiStrings { wifi_ssid: None, wifi_pass: None, ap_ssid: None, ap_pass: None }).check() {
                Ok(mode) => mode,
                Err(_) => panic!(),
            };
        const _: () =
            WifiStrings { wifi_ssid: Some("net"), wifi_pass: Some("12345678"), ap_ssid: None, ap_pass: None }
                .assert_valid();
        assert_eq!(MODE, Mode::AccessPoint);
    }

    #[test]
    fn assert_valid_panics_with_the_message() {
        let result = std::panic::catch_unwind(|| strings(None, None, None, Some("short")).assert_valid());
        let payload = result.unwrap_err();
        let text = payload.downcast_ref::<std::string::String>().map(|s| s.as_str()).unwrap_or_default();
        assert_eq!(text, ProvisionError::PassTooShort(Var::ApPass).message());
    }

    #[test]
    fn netmasks() {
        assert_eq!(netmask(0), Ipv4Addr::new(0, 0, 0, 0));
        assert_eq!(netmask(8), Ipv4Addr::new(255, 0, 0, 0));
        assert_eq!(netmask(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(netmask(30), Ipv4Addr::new(255, 255, 255, 252));
        assert_eq!(netmask(32), Ipv4Addr::new(255, 255, 255, 255));
        assert_eq!(netmask(40), Ipv4Addr::new(255, 255, 255, 255));
    }

    #[test]
    fn the_log_lines_say_where_to_go() {
        let ip = Ipv4Addr::new(192, 168, 4, 1);
        let plain = Settings::device_defaults();
        let mut token = Settings { port: 8080, ..plain };
        token.policy.token = Some("secret");
        assert_eq!(console_line(ip, &plain).as_str(), "console: open http://192.168.4.1/ in a browser");
        assert_eq!(
            console_line(Ipv4Addr::new(10, 0, 0, 23), &token).as_str(),
            "console: open http://10.0.0.23:8080/?token=<your token> in a browser"
        );
        assert_eq!(websocket_line(ip, &plain).as_str(), "WebSocket URL: ws://192.168.4.1/ws");
        assert_eq!(
            websocket_line(ip, &token).as_str(),
            "WebSocket URL: ws://192.168.4.1:8080/ws?token=<your token>"
        );
        // TLS: https and wss, and 443 goes without saying.
        let tls = Settings { tls: true, port: 443, ..plain };
        assert_eq!(console_line(ip, &tls).as_str(), "console: open https://192.168.4.1/ in a browser");
        assert_eq!(websocket_line(ip, &tls).as_str(), "WebSocket URL: wss://192.168.4.1/ws");
        let tls_elsewhere = Settings { port: 8443, ..tls };
        assert_eq!(websocket_line(ip, &tls_elsewhere).as_str(), "WebSocket URL: wss://192.168.4.1:8443/ws");
        // The longest address, port and hint still fit.
        let mut longest = Settings { tls: true, port: 65535, ..plain };
        longest.policy.token = Some("secret");
        let broadcast = Ipv4Addr::new(255, 255, 255, 255);
        assert!(console_line(broadcast, &longest).ends_with(" in a browser"));
        assert!(websocket_line(broadcast, &longest).ends_with("<your token>"));
    }

    #[test]
    fn the_join_line_prints_only_the_default_password() {
        let Plan::AccessPoint(ap) = plan(&WifiStrings::default(), MAC).unwrap() else { panic!() };
        assert_eq!(
            join_line(&ap).as_str(),
            "join the Wi-Fi network \"espws-3FA2\" (WPA2, default password espws-device)"
        );
        let longest = "n".repeat(32);
        let Plan::AccessPoint(ap) =
            plan(&strings(None, None, Some(&longest), Some("top secret!")), MAC).unwrap()
        else {
            panic!()
        };
        let line = join_line(&ap);
        assert!(!line.contains("top secret"), "{line}");
        assert!(line.ends_with("built with)"), "the longest SSID still fits: {line}");
    }
}
