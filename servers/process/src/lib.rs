//! The process server: programs spawned on free compute clusters, waited for, killed, reaped.
//!
//! [`table`] holds the processes and the rules, [`staging`] the names programs from
//! the file system are staged under; the program (`src/main.rs`) serves
//! them over mailboxes and watches the board's cluster states.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod staging;
pub mod table;
