//! The name server: names of (node, port), released when their holder's cluster dies.
//!
//! [`registry`] holds the names and the rules; the program (`src/main.rs`) serves
//! them over mailboxes with `nanvix-rpc`.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod registry;
