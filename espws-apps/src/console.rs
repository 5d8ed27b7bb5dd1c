//! The web console: one self-contained page, stored in flash both plain and gzipped.

/// The page as written (`console/index.html`).
pub const INDEX_HTML: &[u8] = include_bytes!("../console/index.html");

/// The page gzipped at build time; served to clients that accept gzip.
pub const INDEX_HTML_GZ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/index.html.gz"));

/// The path the console's WebSocket connects to.
pub const WS_PATH: &str = "/ws";

#[cfg(test)]
mod tests {
    use super::*;

    /// The page's budget gzipped (issue 16: under 24 KB with the plotter); the README reports
    /// the actual sizes.
    const GZ_BUDGET: usize = 24 * 1000;

    #[test]
    fn the_gzipped_page_fits_its_flash_budget() {
        assert!(INDEX_HTML_GZ.len() <= GZ_BUDGET, "{} bytes gzipped", INDEX_HTML_GZ.len());
        assert!(INDEX_HTML_GZ.len() < INDEX_HTML.len() / 2);
        assert_eq!(&INDEX_HTML_GZ[..2], &[0x1f, 0x8b], "gzip magic");
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        let page = core::str::from_utf8(INDEX_HTML).unwrap();
        for needle in ["http://", "https://", "//cdn", "@import", "fonts.g"] {
            assert!(!page.contains(needle), "the page references {needle}");
        }
        assert!(page.contains("'/ws'"), "the page connects to /ws");
    }
}
