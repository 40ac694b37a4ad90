//! The cluster console: `print!` and `println!` for programs.

use crate::runtime::kcall;
use nanvix_abi::{Errno, Kcall};

/// A sink of the program's output: writes the bytes, or says why not.
pub type OutputSink = fn(&[u8]) -> Result<usize, Errno>;

/// Where the program's output goes instead of the console, once set.
static OUTPUT: spin::Once<OutputSink> = spin::Once::new();

/// Sends the program's output (`print!`, `println!`, [`write`]) to `sink` from now
/// on, for the rest of its life (a program whose spawner redirected its standard
/// output: libnanvix sets it before `main`); false if a sink was set already.
pub fn redirect_output(sink: OutputSink) -> bool {
    let mut set = false;
    OUTPUT.call_once(|| {
        set = true;
        sink
    });
    set
}

/// Writes bytes to the program's output (the console unless it was redirected);
/// returns how many were written.
pub fn write(bytes: &[u8]) -> Result<usize, Errno> {
    match OUTPUT.get() {
        Some(sink) => sink(bytes),
        None => write_console(bytes),
    }
}

/// Writes bytes to the console itself, whatever the output's redirection (standard
/// error, panics); returns how many were written.
pub fn write_console(bytes: &[u8]) -> Result<usize, Errno> {
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

/// A `core::fmt::Write` sink that buffers on the stack and writes to the program's
/// output, or to the console itself.
pub struct Console {
    buffer: [u8; 256],
    used: usize,
    /// To the console whatever the output's redirection (standard error).
    console_only: bool,
}

impl Console {
    /// An empty writer to the program's output.
    pub const fn new() -> Console {
        Console {
            buffer: [0; 256],
            used: 0,
            console_only: false,
        }
    }

    /// An empty writer to the console itself (standard error).
    pub const fn error() -> Console {
        Console {
            buffer: [0; 256],
            used: 0,
            console_only: true,
        }
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        let bytes = &self.buffer[..self.used];
        let _ = if self.console_only {
            write_console(bytes)
        } else {
            write(bytes)
        };
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

#[doc(hidden)]
pub fn eprint_arguments(arguments: core::fmt::Arguments<'_>) {
    let mut console = Console::error();
    let _ = core::fmt::Write::write_fmt(&mut console, arguments);
    console.flush();
}

/// Prints a line to the console itself, whatever the output's redirection
/// (standard error).
#[macro_export]
macro_rules! eprintln {
    ($($argument:tt)*) => { $crate::console::eprint_arguments(format_args!("{}\n", format_args!($($argument)*))) };
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
