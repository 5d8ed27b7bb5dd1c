#![no_std]
//! Apps.
