//! libnanvix's lower half: kcall stubs, runtime, entry, allocator, console, NoC, mailboxes, threads, signals.
//!
//! Programs link `libnanvix`, which re-exports all of this crate by the same paths
//! and adds the POSIX-like calls on the system's servers; the servers' api crates
//! build on this crate (libnanvix builds on them). A program is a `#![no_std]`,
//! `#![no_main]` binary that names its main function with [`entry!`] and talks to
//! the kernel only through it:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! #![forbid(unsafe_code)]
//! libnanvix::entry!(main);
//! fn main() -> i32 {
//!     libnanvix::println!("hello from {}", libnanvix::cluster::this().unwrap().name());
//!     0
//! }
//! ```
//!
//! Every call returns `Result<_, Errno>`; nothing panics on a kernel error.
#![no_std]

extern crate alloc;

// Workspace-wide host builds (clippy, `cargo test --workspace`) unify features
// across every crate: the host tools' serde has `std`, and a program that uses serde
// (a server, its clients) then links std, which brings its own panic handler and
// allocator. `host` links std into every program of such a build, so `entry!`
// leaves both to std there. Real program builds (`nanvix build`, which builds the
// programs by themselves) never enable it.
#[cfg(feature = "host")]
extern crate std;

pub mod clock;
pub mod cluster;
pub mod console;
pub mod data;
pub mod ddr;
pub mod device;
pub mod disk;
pub mod kernel;
pub mod log;
pub mod mailbox;
pub mod memory;
pub mod noc;
pub mod portal;
pub mod process;
pub mod programs;
pub mod runtime;
pub mod signal;
pub mod sync;
pub mod syncs;
pub mod testing;
pub mod thread;

pub use defmt;
pub use nanvix_abi as abi;
pub use nanvix_abi::Errno;

/// Names the program's main function: `libnanvix::entry!(main);` where
/// `fn main() -> i32` returns the exit status. It also gives the program its global
/// allocator and panic handler (outside `cfg(test)`, and in builds where std is not
/// linked anyway: see the `host` feature).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// The program entry the kernel calls with the start block.
        #[unsafe(no_mangle)]
        extern "C" fn _start(info: *const $crate::abi::StartInfo) -> i32 {
            // SAFETY: only the kernel calls `_start`, with a valid start block.
            unsafe { $crate::runtime::start(info, $main) }
        }

        $crate::__program_lang_items!();
    };
}

/// The program's global allocator, panic handler and unwinding stubs (`entry!`
/// expands this in the program crate).
#[cfg(not(feature = "host"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __program_lang_items {
    () => {
        /// The program's heap.
        #[cfg(not(test))]
        #[global_allocator]
        static NANVIX_HEAP: $crate::runtime::Heap = $crate::runtime::Heap;

        /// Reports a panic and ends the thread.
        #[cfg(not(test))]
        #[panic_handler]
        fn nanvix_panic(information: &core::panic::PanicInfo<'_>) -> ! {
            $crate::runtime::panic(information)
        }

        /// Never called: programs are built with panic=abort, but the prebuilt
        /// libcore references the personality routine.
        #[cfg(not(test))]
        #[unsafe(no_mangle)]
        extern "C" fn rust_eh_personality() {}

        /// Never called, as above (referenced by liballoc built with panic=unwind).
        #[cfg(not(test))]
        #[unsafe(no_mangle)]
        extern "C" fn _Unwind_Resume() -> ! {
            $crate::process::exit(134)
        }
    };
}

/// In a host build std supplies all of them (see the `host` feature).
#[cfg(feature = "host")]
#[doc(hidden)]
#[macro_export]
macro_rules! __program_lang_items {
    () => {};
}
