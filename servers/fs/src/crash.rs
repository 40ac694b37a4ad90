//! A device with a volatile write cache, for crash tests: writes wait in the cache
//! until a flush; a simulated crash lets a random subset of them reach the medium,
//! in a random order, and drops the rest.

use crate::device::{Block, BlockDevice, DeviceError, MemoryDisk};
use alloc::vec::Vec;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// A [`MemoryDisk`] (the durable medium) behind a volatile write cache that crashes
/// after a set number of operations, or when told.
#[derive(Debug)]
pub struct CrashingDisk {
    medium: MemoryDisk,
    /// Writes since the last flush, oldest first.
    cache: Vec<(u64, Block)>,
    /// Writes and flushes left before the crash (`None`: no crash planned).
    operations_left: Option<u64>,
    /// Operations done so far.
    operations: u64,
    crashed: bool,
    random: SmallRng,
}

impl CrashingDisk {
    /// A cache in front of `medium`; the crash's choices follow `seed`.
    pub fn new(medium: MemoryDisk, seed: u64) -> CrashingDisk {
        CrashingDisk {
            medium,
            cache: Vec::new(),
            operations_left: None,
            operations: 0,
            crashed: false,
            random: SmallRng::seed_from_u64(seed),
        }
    }

    /// Crashes the device once `operations` more writes and flushes were done (the
    /// last of them does not happen).
    pub fn crash_after(&mut self, operations: u64) {
        self.operations_left = Some(operations);
    }

    /// Writes and flushes done so far (a workload's length, to sample crash points).
    pub fn operations(&self) -> u64 {
        self.operations
    }

    /// Whether the device crashed.
    pub fn crashed(&self) -> bool {
        self.crashed
    }

    /// Crashes now: each unflushed write reaches the medium or not (even odds), in
    /// a random order; later operations fail with [`DeviceError::Crashed`].
    pub fn crash(&mut self) {
        if self.crashed {
            return;
        }
        let mut cached = core::mem::take(&mut self.cache);
        cached.shuffle(&mut self.random);
        for (number, block) in cached {
            if self.random.random_bool(0.5) {
                // The cache only holds writes the medium accepted the number of.
                let _ = self.medium.write(number, &block);
            }
        }
        self.crashed = true;
    }

    /// The medium as a crash (or a clean stop, after a flush) left it.
    pub fn into_medium(self) -> MemoryDisk {
        self.medium
    }

    /// Counts one operation; crashes and fails once the planned crash point came.
    fn operate(&mut self) -> Result<(), DeviceError> {
        if self.crashed {
            return Err(DeviceError::Crashed);
        }
        if let Some(left) = self.operations_left.as_mut() {
            if *left == 0 {
                self.crash();
                return Err(DeviceError::Crashed);
            }
            *left -= 1;
        }
        self.operations += 1;
        Ok(())
    }
}

impl BlockDevice for CrashingDisk {
    fn block_count(&self) -> u64 {
        self.medium.block_count()
    }

    fn read(&mut self, number: u64, block: &mut Block) -> Result<(), DeviceError> {
        if self.crashed {
            return Err(DeviceError::Crashed);
        }
        match self
            .cache
            .iter()
            .rev()
            .find(|(cached, _)| *cached == number)
        {
            Some((_, cached)) => {
                block.copy_from_slice(cached);
                Ok(())
            }
            None => self.medium.read(number, block),
        }
    }

    fn write(&mut self, number: u64, block: &Block) -> Result<(), DeviceError> {
        if number >= self.block_count() {
            return Err(DeviceError::OutOfRange);
        }
        self.operate()?;
        self.cache.push((number, *block));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        self.operate()?;
        for (number, block) in core::mem::take(&mut self.cache) {
            self.medium.write(number, &block)?;
        }
        Ok(())
    }
}
