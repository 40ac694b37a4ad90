//! The kernel executable's defmt global logger: frames go to the runner as `kernel` logs.
//!
//! Core threads may log at once, so a parking mutex (the hosted lock rule: spin
//! briefly, then sleep) guards the encoder; each frame is encoded into a buffer and
//! sent with [`BoardControl::log_bytes`] under program name `kernel` when it ends.
//! Frames logged before the kernel exists wait in the buffer (up to
//! [`EARLY_BYTES_MAX`]). A thread that logs again while writing a frame (from a
//! `defmt::Format` implementation) does not deadlock: the nested frame is dropped.
//! Timestamps are microseconds since the process started.

use lock_api::RawMutex as _;
use nanvix_hal::{BoardControl, Platform};
use std::cell::{Cell, UnsafeCell};
use std::sync::OnceLock;
use std::time::Instant;

/// Most bytes of frames kept while no kernel exists to send them; older ones are
/// dropped beyond that.
pub const EARLY_BYTES_MAX: usize = 64 * 1024;

/// The program name kernel frames travel under.
const PROGRAM: &str = "kernel";

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Microseconds since the first timestamp (at the first log frame or [`start`]).
fn microseconds() -> u64 {
    let started = STARTED.get_or_init(Instant::now);
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Starts the timestamp clock; call first thing in `main`.
pub fn start() {
    let _ = STARTED.get_or_init(Instant::now);
}

defmt::timestamp!("{=u64:us}", microseconds());

/// The encoder and the frames not yet sent.
struct State {
    encoder: defmt::Encoder,
    frames: Vec<u8>,
}

/// [`State`] behind a lock that is taken in `acquire` and freed in `release`, which
/// are separate calls, so no guard object can span them.
struct Shared {
    lock: parking_lot::RawMutex,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only reached through `with_state`, whose callers hold `lock`.
unsafe impl Sync for Shared {}

static SHARED: Shared = Shared {
    lock: parking_lot::RawMutex::INIT,
    state: UnsafeCell::new(State {
        encoder: defmt::Encoder::new(),
        frames: Vec::new(),
    }),
};

thread_local! {
    /// How many frames this thread has open: 1 while writing one, more when a log
    /// call nests inside it (those are dropped).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Runs `action` on the logger state.
///
/// # Safety
/// The calling thread must hold `SHARED.lock`.
unsafe fn with_state<T>(action: impl FnOnce(&mut State) -> T) -> T {
    // SAFETY: the caller holds the lock, so no other reference to the state exists.
    action(unsafe { &mut *SHARED.state.get() })
}

/// Whether the calling thread writes the outermost frame (not a nested one).
fn outermost() -> bool {
    DEPTH.with(|depth| depth.get() == 1)
}

#[defmt::global_logger]
struct Logger;

// SAFETY: `acquire` takes `SHARED.lock` (once per thread: nested frames of the same
// thread are counted and dropped, never encoded); `write`, `flush` and `release`
// touch the state only while the calling thread holds it.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        let depth = DEPTH.with(|depth| {
            depth.set(depth.get() + 1);
            depth.get()
        });
        if depth > 1 {
            return;
        }
        SHARED.lock.lock();
        // SAFETY: this thread took the lock just above.
        unsafe {
            with_state(|state| {
                let State { encoder, frames } = state;
                encoder.start_frame(|data| frames.extend_from_slice(data));
            })
        }
    }

    unsafe fn flush() {}

    unsafe fn release() {
        let outer = outermost();
        DEPTH.with(|depth| depth.set(depth.get().saturating_sub(1)));
        if !outer {
            return;
        }
        // SAFETY: the outermost frame of this thread holds the lock (taken in acquire).
        unsafe {
            with_state(|state| {
                let State { encoder, frames } = state;
                encoder.end_frame(|data| frames.extend_from_slice(data));
                send(frames);
            });
            // SAFETY: taken by this thread in `acquire`, released exactly once here.
            SHARED.lock.unlock();
        }
    }

    unsafe fn write(bytes: &[u8]) {
        if !outermost() {
            return;
        }
        // SAFETY: the outermost frame of this thread holds the lock (taken in acquire).
        unsafe {
            with_state(|state| {
                let State { encoder, frames } = state;
                encoder.write(bytes, |data| frames.extend_from_slice(data));
            })
        }
    }
}

/// Sends the buffered frames to the runner once the kernel (and its board) exists.
fn send(frames: &mut Vec<u8>) {
    match crate::KERNEL.get() {
        Some(kernel) => {
            for chunk in frames.chunks(nanvix_abi::LOG_CHUNK_MAX) {
                kernel.platform().board().log_bytes(PROGRAM, chunk);
            }
            frames.clear();
        }
        None if frames.len() > EARLY_BYTES_MAX => {
            // Too much before boot: keep the newest frames, starting at a frame end.
            let cut = frames.len() - EARLY_BYTES_MAX;
            let start = frames[cut..]
                .iter()
                .position(|&byte| byte == 0)
                .map_or(frames.len(), |end| cut + end + 1);
            frames.drain(..start);
        }
        None => {}
    }
}
