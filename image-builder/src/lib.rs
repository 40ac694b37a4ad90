//! The nanvix CLI's library: manifests, builds, the hosted board runner, docs.

pub mod bench;
pub mod builder;
pub mod docs;
pub mod events;
pub mod footprint;
pub mod image;
pub mod logs;
pub mod manifest;
pub mod packing;
pub mod qemu;
pub mod rootfs;
pub mod runner;
pub mod strip;
pub mod symbols;

use std::path::PathBuf;

/// The workspace root: `NANVIX_ROOT` if set, else where this crate was built from.
pub fn workspace_root() -> PathBuf {
    match std::env::var_os("NANVIX_ROOT") {
        Some(root) => PathBuf::from(root),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default(),
    }
}
