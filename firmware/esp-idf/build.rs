//! Passes ESP-IDF's build environment (linker arguments, cfgs) from esp-idf-sys to this crate.
fn main() {
    embuild::espidf::sysenv::output();
}
