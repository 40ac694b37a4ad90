//! The name server: names of (node, port), released when their node's cluster dies.
//!
//! This crate holds the server's state and rules ([`registry`]); the program that
//! serves them over mailboxes comes next (issue 6).

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod registry;
