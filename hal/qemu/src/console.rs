//! The serial console: the first 16550 port, which QEMU carries to its standard
//! output; one core writes a line at a time.

use crate::machine::{in_byte, out_byte};
use core::sync::atomic::{AtomicBool, Ordering};

/// The first serial port's data register.
const SERIAL_PORT: u16 = 0x3f8;
/// Its line status register; bit 5: the transmitter takes a byte.
const SERIAL_LINE_STATUS: u16 = SERIAL_PORT + 5;

/// Held by the core writing a line.
static WRITING: AtomicBool = AtomicBool::new(false);

/// `say!("...", ...)`: a line on the console, written with `ufmt` (its `{}`,
/// `{:?}`, `{:#x}`; arguments after the string) up to [`LINE_MAX`] bytes, the
/// rest cut, then sent whole, so that cores' lines do not interleave.
#[macro_export]
macro_rules! say {
    ($($argument:tt)*) => {{
        let mut line = $crate::console::Line::new();
        // Writing to a `Line` cannot fail.
        let _ = ufmt::uwrite!(line, $($argument)*);
        line.send();
    }};
}

/// The longest line [`say!`] sends, its end of line included.
const LINE_MAX: usize = 512;

/// A line being written ([`say!`]).
pub struct Line {
    bytes: [u8; LINE_MAX],
    length: usize,
}

impl Line {
    /// An empty line.
    pub fn new() -> Line {
        Line {
            bytes: [0; LINE_MAX],
            length: 0,
        }
    }

    /// Sends the line, its end of line added, to the console.
    pub fn send(mut self) {
        let end = self.length.min(LINE_MAX - 1);
        self.bytes[end] = b'\n';
        let text = core::str::from_utf8(&self.bytes[..=end]).unwrap_or("(cut)\n");
        let _ = core::fmt::Write::write_str(&mut Console, text);
    }
}

impl Default for Line {
    fn default() -> Line {
        Line::new()
    }
}

impl ufmt_write::uWrite for Line {
    type Error = core::convert::Infallible;

    fn write_str(&mut self, text: &str) -> Result<(), core::convert::Infallible> {
        let room = LINE_MAX - self.length;
        // Cut on a character boundary.
        let mut take = text.len().min(room);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.length..self.length + take].copy_from_slice(&text.as_bytes()[..take]);
        self.length += take;
        Ok(())
    }
}

/// The console, for `write!` (each `write_str` is whole on the line: cores do not
/// interleave inside one).
pub struct Console;

impl core::fmt::Write for Console {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        while WRITING
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        for byte in text.bytes() {
            if byte == b'\n' {
                send(b'\r');
            }
            send(byte);
        }
        WRITING.store(false, Ordering::Release);
        Ok(())
    }
}

/// Sends one byte once the transmitter takes it.
fn send(byte: u8) {
    while in_byte(SERIAL_LINE_STATUS) & 0x20 == 0 {
        core::hint::spin_loop();
    }
    out_byte(SERIAL_PORT, byte);
}

/// Its line status bit 0: a received byte waits.
const RECEIVED: u8 = 0x01;

/// Whether a byte the terminal sent waits at the serial port.
pub fn input_waiting() -> bool {
    in_byte(SERIAL_LINE_STATUS) & RECEIVED != 0
}

/// The next byte the terminal sent, if one waits.
pub fn try_receive() -> Option<u8> {
    input_waiting().then(|| in_byte(SERIAL_PORT))
}
