//! The program's defmt global logger and timestamp: frames go out through `log_write`.
//!
//! One spin lock guards the encoder and a chunk of `LOG_CHUNK_MAX` bytes. `acquire`
//! takes the lock and starts a frame, `write` encodes into the chunk (handing a full
//! chunk to the kernel), and `release` ends the frame, hands the chunk to the kernel
//! and frees the lock. So each frame reaches the board in one `log_write` unless it is
//! larger than a chunk. Errors of `log_write` are dropped: logging never fails.

use crate::log::{CHUNK_MAX, write_frames};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

// Timestamps are raw cycles of the calling core (see `crate::log`).
defmt::timestamp!("{=u64}", crate::clock::cycles());

/// Encoded bytes waiting for `log_write`.
struct Chunk {
    bytes: [u8; CHUNK_MAX],
    used: usize,
}

impl Chunk {
    /// Appends encoded bytes, handing full chunks to the kernel.
    fn push(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = CHUNK_MAX - self.used;
            let taken = room.min(data.len());
            self.bytes[self.used..self.used + taken].copy_from_slice(&data[..taken]);
            self.used += taken;
            data = &data[taken..];
            if self.used == CHUNK_MAX {
                self.flush();
            }
        }
    }

    /// Hands what is buffered to the kernel.
    fn flush(&mut self) {
        if self.used > 0 {
            let _ = write_frames(&self.bytes[..self.used]);
            self.used = 0;
        }
    }
}

/// The logger's state: only touched by the holder of [`TAKEN`].
struct State {
    encoder: defmt::Encoder,
    chunk: Chunk,
}

/// [`State`] shared between threads; [`TAKEN`] serialises every access.
struct Shared(UnsafeCell<State>);

// SAFETY: the state is only reached through `with_state`, which callers use only
// while holding `TAKEN` (between `acquire` and `release`), so one thread at a time.
unsafe impl Sync for Shared {}

static TAKEN: AtomicBool = AtomicBool::new(false);
static STATE: Shared = Shared(UnsafeCell::new(State {
    encoder: defmt::Encoder::new(),
    chunk: Chunk {
        bytes: [0; CHUNK_MAX],
        used: 0,
    },
}));

/// Runs `action` on the logger state.
///
/// # Safety
/// The caller must hold `TAKEN` (be between `acquire` and `release`).
unsafe fn with_state(action: impl FnOnce(&mut State)) {
    // SAFETY: the caller holds `TAKEN`, so no other reference to the state exists.
    action(unsafe { &mut *STATE.0.get() })
}

#[defmt::global_logger]
struct Logger;

// SAFETY: `acquire` takes a spin lock before touching the state, so the logger is
// thread-safe; `write`, `flush` and `release` run only between `acquire` and
// `release`, as the trait requires of their callers.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        while TAKEN
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        // SAFETY: we hold `TAKEN` from here until `release`.
        unsafe {
            with_state(|state| {
                let State { encoder, chunk } = state;
                encoder.start_frame(|data| chunk.push(data));
            })
        }
    }

    unsafe fn flush() {
        // SAFETY: the caller is between `acquire` and `release`, so it holds `TAKEN`.
        unsafe { with_state(|state| state.chunk.flush()) }
    }

    unsafe fn release() {
        // SAFETY: the caller is between `acquire` and `release`, so it holds `TAKEN`.
        unsafe {
            with_state(|state| {
                let State { encoder, chunk } = state;
                encoder.end_frame(|data| chunk.push(data));
                chunk.flush();
            })
        }
        TAKEN.store(false, Ordering::Release);
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: the caller is between `acquire` and `release`, so it holds `TAKEN`.
        unsafe {
            with_state(|state| {
                let State { encoder, chunk } = state;
                encoder.write(bytes, |data| chunk.push(data));
            })
        }
    }
}
