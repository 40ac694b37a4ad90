//! The cluster console: `print!` and `println!` for programs.

use crate::runtime::kcall;
use nanvix_abi::{Errno, Kcall};

/// Writes bytes to the console; returns how many were written.
pub fn write(bytes: &[u8]) -> Result<usize, Errno> {
    kcall(
        Kcall::ConsoleWrite,
        [bytes.as_ptr() as usize, bytes.len(), 0, 0, 0],
    )
}

/// Reads console input into `buffer`, blocking until some arrives; `Ok(0)` means
/// the input ended. Only the program the manifest gives the console input may read
/// (`Errno::Access` otherwise).
pub fn read(buffer: &mut [u8]) -> Result<usize, Errno> {
    kcall(
        Kcall::ConsoleRead,
        [buffer.as_mut_ptr() as usize, buffer.len(), 0, 0, 0],
    )
}

/// A `core::fmt::Write` sink that buffers on the stack and writes to the console.
pub struct Console {
    buffer: [u8; 256],
    used: usize,
}

impl Console {
    /// An empty console writer.
    pub const fn new() -> Console {
        Console {
            buffer: [0; 256],
            used: 0,
        }
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        let _ = write(&self.buffer[..self.used]);
        self.used = 0;
    }
}

impl Default for Console {
    fn default() -> Self {
        Console::new()
    }
}

impl core::fmt::Write for Console {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        for chunk in text.as_bytes().chunks(self.buffer.len()) {
            if self.used + chunk.len() > self.buffer.len() {
                self.flush();
            }
            self.buffer[self.used..self.used + chunk.len()].copy_from_slice(chunk);
            self.used += chunk.len();
        }
        Ok(())
    }
}

#[doc(hidden)]
pub fn print_arguments(arguments: core::fmt::Arguments<'_>) {
    let mut console = Console::new();
    let _ = core::fmt::Write::write_fmt(&mut console, arguments);
    console.flush();
}

/// Prints to the cluster console.
#[macro_export]
macro_rules! print {
    ($($argument:tt)*) => { $crate::console::print_arguments(format_args!($($argument)*)) };
}

/// Prints a line to the cluster console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($argument:tt)*) => { $crate::console::print_arguments(format_args!("{}\n", format_args!($($argument)*))) };
}
