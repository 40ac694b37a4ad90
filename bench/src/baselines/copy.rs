//! Copy bandwidth: within one thread (`memcpy`), and from one core to another through slots.

use super::round_trip::CacheLine;
use super::{
    CLIENT_CPU, SERVER_CPU, nanoseconds_per, parameters, pin_side, run_pair, time_trials,
    total_iterations,
};
use crate::memory::{AlignedBuffer, pattern};
use crate::options::warmup_iterations;
use crate::wait::spin_until;
use crate::{BenchError, Options, Row, UNIT_GIGABYTES_PER_SECOND, summarize};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Payload bytes a cross-core copy trial moves at scale 1.
const CROSS_CORE_BYTES: u64 = 1 << 30;

/// Bytes a `memcpy` trial copies at scale 1.
const MEMCPY_BYTES: u64 = 4 << 30;

/// Slots between producer and consumer.
const SLOTS: u64 = 4;

/// The GB/s of `bytes` moved in `nanoseconds` (bytes per ns are GB/s).
fn gigabytes_per_second(bytes: usize, nanoseconds: f64) -> f64 {
    bytes as f64 / nanoseconds
}

/// How many copies of `bytes` make `total` bytes (at least one).
fn copies_for(total: u64, bytes: usize) -> u64 {
    (total / (bytes as u64).max(1)).max(1)
}

/// Fails on a zero size.
fn check_bytes(bytes: usize) -> Result<(), BenchError> {
    if bytes == 0 {
        return Err(BenchError::InvalidOptions(
            "a copy needs at least one byte".to_string(),
        ));
    }
    Ok(())
}

/// `baseline.memcpy`: GB/s of `copy_from_slice` between two page-aligned buffers of `bytes`
/// in one thread (payload bytes, not read + written). About 4 GB per trial at scale 1.
pub fn memcpy(options: &Options, bytes: usize) -> Result<Row, BenchError> {
    options.validate()?;
    check_bytes(bytes)?;
    let iterations = options.iterations(copies_for(MEMCPY_BYTES, bytes));
    let source = AlignedBuffer::with_pattern(bytes)?;
    let mut destination = AlignedBuffer::zeroed(bytes)?;
    let times = time_trials(options.trials, iterations, |count| {
        for _ in 0..count {
            black_box(destination.as_mut_slice()).copy_from_slice(black_box(source.as_slice()));
        }
        Ok(())
    })?;
    if destination.as_slice() != source.as_slice() {
        return Err(BenchError::PeerFailed(
            "memcpy left the destination different from the source".to_string(),
        ));
    }
    let trials: Vec<f64> = times
        .iter()
        .map(|nanoseconds| gigabytes_per_second(bytes, *nanoseconds))
        .collect();
    summarize(
        "baseline.memcpy",
        parameters([
            ("bytes", bytes.to_string()),
            ("iterations", iterations.to_string()),
        ]),
        UNIT_GIGABYTES_PER_SECOND,
        &trials,
    )
}

/// What producer and consumer share besides the slots.
#[derive(Default)]
#[repr(C)]
struct CopyRing {
    /// Messages the producer published.
    published: CacheLine<AtomicU64>,
    /// Messages the consumer copied out, whose slots are free again.
    freed: CacheLine<AtomicU64>,
    /// Nonzero once a side gave up.
    abort: CacheLine<AtomicU64>,
}

/// The first byte of the slot of `message`.
fn slot_pointer(slots: &AlignedBuffer, message: u64, bytes: usize) -> *mut u8 {
    let slot = (message % SLOTS) as usize;
    slots.as_pointer().wrapping_add(slot * bytes)
}

/// `baseline.cross_core_copy`: GB/s of payload moved from a producer thread to a consumer
/// thread through 4 shared slots of `bytes`.
///
/// The producer copies its private source into the next free slot and publishes a sequence
/// number (Release); the consumer spins for it, copies the slot into its private
/// destination and publishes how many slots it freed. A trial is timed by the producer from
/// its first copy until the consumer freed the last slot. Pinned (as the options say):
/// producer on CPU 0, consumer on CPU 1. About 1 GB per trial at scale 1.
pub fn cross_core_copy(options: &Options, bytes: usize) -> Result<Row, BenchError> {
    options.validate()?;
    check_bytes(bytes)?;
    let iterations = options.iterations(copies_for(CROSS_CORE_BYTES, bytes));
    let total = total_iterations(options.trials, iterations);
    let slots_bytes = bytes
        .checked_mul(SLOTS as usize)
        .ok_or(BenchError::OutOfMemory { bytes })?;
    let slots = AlignedBuffer::zeroed(slots_bytes)?;
    let ring = CopyRing::default();
    let trials = run_pair(
        || {
            pin_side(options.pinned, CLIENT_CPU)?;
            producer(&ring, &slots, bytes, iterations, options.trials)
        },
        || {
            pin_side(options.pinned, SERVER_CPU)?;
            consumer(&ring, &slots, bytes, total)
        },
        || ring.abort.0.store(1, Ordering::Release),
    )?;
    summarize(
        "baseline.cross_core_copy",
        parameters([
            ("bytes", bytes.to_string()),
            ("pinned", options.pinned.to_string()),
            ("iterations", iterations.to_string()),
        ]),
        UNIT_GIGABYTES_PER_SECOND,
        &trials,
    )
}

/// The producer: a warm-up, then `trials` timed batches of `iterations` messages; returns
/// the GB/s of each trial.
fn producer(
    ring: &CopyRing,
    slots: &AlignedBuffer,
    bytes: usize,
    iterations: u64,
    trials: usize,
) -> Result<Vec<f64>, BenchError> {
    let source = AlignedBuffer::with_pattern(bytes)?;
    let mut sent: u64 = 0;
    let mut send = |count: u64| -> Result<(), BenchError> {
        for _ in 0..count {
            let message = sent;
            spin_until(
                || ring.freed.0.load(Ordering::Acquire) + SLOTS > message,
                &ring.abort.0,
            )
            .map_err(|failure| failure.into_error("consumer", "a free slot"))?;
            let slot = slot_pointer(slots, message, bytes);
            // SAFETY: the slot lies inside `slots` (`bytes` at a multiple of `bytes` below
            // 4 × `bytes`); the consumer freed it (the Acquire load above orders its reads
            // before these writes) and reads it again only once `published` says so; the
            // source is a different allocation.
            unsafe { std::ptr::copy_nonoverlapping(source.as_slice().as_ptr(), slot, bytes) };
            sent += 1;
            ring.published.0.store(sent, Ordering::Release);
        }
        let end = sent;
        spin_until(
            || ring.freed.0.load(Ordering::Acquire) == end,
            &ring.abort.0,
        )
        .map_err(|failure| failure.into_error("consumer", "the last slot to be freed"))
    };
    send(warmup_iterations(iterations))?;
    let mut results = Vec::with_capacity(trials);
    for _ in 0..trials {
        let start = Instant::now();
        send(iterations)?;
        let nanoseconds = nanoseconds_per(start.elapsed(), iterations);
        results.push(gigabytes_per_second(bytes, nanoseconds));
    }
    Ok(results)
}

/// The consumer: copies `total` messages out of the slots, then checks the last one.
fn consumer(
    ring: &CopyRing,
    slots: &AlignedBuffer,
    bytes: usize,
    total: u64,
) -> Result<(), BenchError> {
    let mut destination = AlignedBuffer::zeroed(bytes)?;
    for message in 0..total {
        spin_until(
            || ring.published.0.load(Ordering::Acquire) > message,
            &ring.abort.0,
        )
        .map_err(|failure| failure.into_error("producer", "a published slot"))?;
        let slot = slot_pointer(slots, message, bytes);
        let target = black_box(destination.as_mut_slice()).as_mut_ptr();
        // SAFETY: the slot lies inside `slots`; the Acquire load of `published` orders the
        // producer's writes before these reads, and the producer writes the slot again only
        // after `freed` (stored below) frees it; the destination is private to this thread.
        unsafe { std::ptr::copy_nonoverlapping(slot.cast_const(), target, bytes) };
        black_box(destination.as_slice());
        ring.freed.0.store(message + 1, Ordering::Release);
    }
    let received = destination.as_slice();
    if received
        .iter()
        .enumerate()
        .any(|(index, byte)| *byte != pattern(index))
    {
        return Err(BenchError::PeerFailed(
            "the consumer received bytes different from the source".to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_row, exclusive, tiny};
    use super::*;

    #[test]
    fn memcpy_measures() {
        let _exclusive = exclusive();
        let options = tiny(false);
        for bytes in [4096, 1 << 20] {
            let row = memcpy(&options, bytes).expect("measures");
            check_row(&row, "baseline.memcpy", &options);
            assert_eq!(row.unit, UNIT_GIGABYTES_PER_SECOND);
            assert_eq!(row.parameters["bytes"], bytes.to_string());
        }
    }

    #[test]
    fn cross_core_copy_measures() {
        let _exclusive = exclusive();
        for (bytes, pinned) in [(4096, true), (1000, false), (1 << 20, true)] {
            let options = tiny(pinned);
            let row = cross_core_copy(&options, bytes).expect("measures");
            check_row(&row, "baseline.cross_core_copy", &options);
            assert_eq!(row.unit, UNIT_GIGABYTES_PER_SECOND);
            assert_eq!(row.parameters["bytes"], bytes.to_string());
        }
    }

    #[test]
    fn zero_bytes_are_refused() {
        let options = tiny(false);
        assert!(matches!(
            memcpy(&options, 0),
            Err(BenchError::InvalidOptions(_))
        ));
        assert!(matches!(
            cross_core_copy(&options, 0),
            Err(BenchError::InvalidOptions(_))
        ));
    }
}
