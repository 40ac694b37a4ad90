//! The NoC over one shared memory: its layout, the board's ROM and registers, the channels.
//!
//! Every platform whose clusters share a memory runs the same NoC over it: the
//! hosted board (a memory file the runner creates and every cluster process maps)
//! and qemu-x86_64 (the same file, an ivshmem device in every machine). The runner
//! writes the board's ROM and each cluster's registers ([`memory`]); each cluster
//! writes its own region, whose channels ([`noc`]) carry its messages, data chunks
//! and sync signals; where they lie is [`layout`]. How a cluster sleeps and wakes
//! another is its platform's [`noc::Doorbell`].
#![no_std]

extern crate alloc;

pub mod layout;
pub mod memory;
pub mod noc;

pub use layout::{DataGeometry, Layout};
pub use memory::{NocMemory, Place, Registers, RomError, decode_rom, read_board, write_rom};
pub use noc::{Doorbell, SharedNoc};
