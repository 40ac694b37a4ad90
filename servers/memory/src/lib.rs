//! The memory server: named shared memory segments on the board's DDR.
//!
//! [`FreeRuns`] keeps the part of the DDR no segment holds; the program
//! (`src/main.rs`) serves the segments.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

/// The free runs of a range of bytes: (offset, length), by offset, none empty and
/// none touching another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FreeRuns {
    runs: Vec<(u64, u64)>,
}

impl FreeRuns {
    /// `length` bytes from `start`, all free.
    pub fn new(start: u64, length: u64) -> FreeRuns {
        FreeRuns {
            runs: if length > 0 {
                alloc::vec![(start, length)]
            } else {
                Vec::new()
            },
        }
    }

    /// Takes `bytes` from the first run they fit in; its offset, `None` if none
    /// has room.
    pub fn allocate(&mut self, bytes: u64) -> Option<u64> {
        let place = self.runs.iter().position(|(_, length)| *length >= bytes)?;
        let (at, length) = self.runs[place];
        if length == bytes {
            self.runs.remove(place);
        } else {
            self.runs[place] = (at + bytes, length - bytes);
        }
        Some(at)
    }

    /// Gives `bytes` at `at` back (taken earlier), merged with the runs beside it.
    pub fn release(&mut self, at: u64, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let place = self.runs.partition_point(|(offset, _)| *offset < at);
        self.runs.insert(place, (at, bytes));
        if place + 1 < self.runs.len() && at + bytes == self.runs[place + 1].0 {
            self.runs[place].1 += self.runs[place + 1].1;
            self.runs.remove(place + 1);
        }
        if place > 0 && self.runs[place - 1].0 + self.runs[place - 1].1 == at {
            self.runs[place - 1].1 += self.runs[place].1;
            self.runs.remove(place);
        }
    }

    /// The free runs.
    pub fn runs(&self) -> &[(u64, u64)] {
        &self.runs
    }
}

#[cfg(test)]
mod tests {
    use super::FreeRuns;

    #[test]
    fn runs_are_taken_first_fit_and_given_back_merged() {
        let mut free = FreeRuns::new(100, 1000);
        assert_eq!(free.allocate(300), Some(100));
        assert_eq!(free.allocate(300), Some(400));
        assert_eq!(free.allocate(500), None, "400 left");
        assert_eq!(free.allocate(400), Some(700));
        assert_eq!(free.runs(), []);
        // Back out of order: merged into one run again.
        free.release(400, 300);
        assert_eq!(free.runs(), [(400, 300)]);
        free.release(100, 300);
        assert_eq!(free.runs(), [(100, 600)]);
        free.release(700, 400);
        assert_eq!(free.runs(), [(100, 1000)]);
        // A hole between two taken runs is reused first.
        let mut free = FreeRuns::new(0, 300);
        let (a, b, c) = (
            free.allocate(100).unwrap(),
            free.allocate(100).unwrap(),
            free.allocate(100).unwrap(),
        );
        free.release(b, 100);
        assert_eq!(free.allocate(50), Some(100));
        free.release(a, 100);
        free.release(c, 100);
        assert_eq!(free.runs(), [(0, 100), (150, 150)]);
        assert_eq!(FreeRuns::new(5, 0).allocate(1), None);
    }
}
