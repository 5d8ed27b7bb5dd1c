//! Blocking driver.
