//! The hosted HAL backend: a chip modelled on Linux, one process per cluster.
//!
//! - **Cluster** = one Linux process running the cluster's kernel executable.
//! - **Core** (HAL context) = one thread of it, created on first use; the kernel
//!   decides which contexts hold the board's user cores. Idle contexts park on a
//!   futex, never spin for long.
//! - **SRAM** = a memory arena of exactly the board's size for the cluster.
//! - **NoC** = one shared-memory object created by the board runner. Each cluster owns
//!   a region of it holding its outgoing channels (one per destination); it maps that
//!   region writable and every other region read-only, so a channel is writable only
//!   by its sender's process and the receiver knows the true source cluster.
//! - **Board registers** = a read-only page the runner writes: each cluster's state
//!   and boot epoch, and a ROM with the board description.
//! - **Hardware events** (cluster up, console lines, program exits, power off) go to
//!   the runner as JSON lines over an inherited pipe.
//! - **Disk** = a disk image file the runner opens for the cluster the manifest
//!   attaches it to, behind a volatile write cache in the cluster process.
//!
//! The runner (`nanvix run`) uses [`hardware`] to create all of this; a cluster
//! process uses [`platform::HostedPlatform::attach`].

pub mod console;
pub mod cores;
pub mod ddr;
pub mod disk;
pub mod futex;
pub mod hardware;
pub mod log;
pub mod noc;
pub mod platform;
pub mod probe;
pub mod protocol;
pub mod user_mode;

pub use nanvix_noc_memory::layout;
pub use platform::HostedPlatform;

/// Iterations a sender spins (with a spin hint) for room in a full channel before it
/// reports the channel full (the shared NoC's; `docs/src/hal.md`). A parking core's
/// spin adapts instead (`AdaptiveSpin`).
pub use nanvix_noc_memory::noc::SPIN_BUDGET;
