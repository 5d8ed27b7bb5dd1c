//! Async driver.
