//! Console input of a hosted cluster: its standard input, read by a device thread.
//!
//! The runner connects the terminal to the standard input of the cluster that holds
//! the console (the others get `/dev/null`, which ends at once). A device thread
//! reads it into a bounded queue (when the queue is full it stops reading, so the
//! pipe back to the runner fills: backpressure, no loss) and unparks the core
//! waiting for input, like an interrupt.

use crate::cores::HostedCores;
use nanvix_hal::{ConsoleInput, CoreId, Cores, EndOfInput};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Bytes of input held before the device thread stops reading.
pub const QUEUE_BYTES: usize = 64 * 1024;

#[derive(Default)]
struct Queue {
    bytes: VecDeque<u8>,
    ended: bool,
}

/// The console input device.
pub struct HostedConsoleInput {
    queue: Arc<Mutex<Queue>>,
    /// The core waiting for input, plus one (0: none).
    waiter: Arc<AtomicUsize>,
    cores: Arc<HostedCores>,
}

impl HostedConsoleInput {
    /// Starts the device thread reading `source` (the process' standard input).
    pub fn start(
        cores: Arc<HostedCores>,
        mut source: impl Read + Send + 'static,
    ) -> std::io::Result<Self> {
        let queue = Arc::new(Mutex::new(Queue::default()));
        let waiter = Arc::new(AtomicUsize::new(0));
        let (thread_queue, thread_waiter, thread_cores) =
            (Arc::clone(&queue), Arc::clone(&waiter), Arc::clone(&cores));
        std::thread::Builder::new()
            .name("console-input".into())
            .spawn(move || {
                let mut chunk = [0u8; 4096];
                loop {
                    while thread_queue.lock().bytes.len() >= QUEUE_BYTES {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    let read = source.read(&mut chunk);
                    {
                        let mut queue = thread_queue.lock();
                        match read {
                            Ok(0) | Err(_) => queue.ended = true,
                            Ok(count) => queue.bytes.extend(&chunk[..count]),
                        }
                    }
                    let core = thread_waiter.swap(0, Ordering::AcqRel);
                    if core != 0 {
                        thread_cores.unpark(core - 1 as CoreId);
                    }
                    if thread_queue.lock().ended {
                        return;
                    }
                }
            })?;
        Ok(HostedConsoleInput {
            queue,
            waiter,
            cores,
        })
    }
}

impl ConsoleInput for HostedConsoleInput {
    fn try_read(&self, buffer: &mut [u8]) -> Result<usize, EndOfInput> {
        let mut queue = self.queue.lock();
        if queue.bytes.is_empty() {
            return if queue.ended { Err(EndOfInput) } else { Ok(0) };
        }
        let count = buffer.len().min(queue.bytes.len());
        for (slot, byte) in buffer.iter_mut().zip(queue.bytes.drain(..count)) {
            *slot = byte;
        }
        Ok(count)
    }

    fn wait(&self) {
        self.waiter
            .store(self.cores.current() + 1, Ordering::Release);
        {
            let queue = self.queue.lock();
            if !queue.bytes.is_empty() || queue.ended {
                self.waiter.store(0, Ordering::Release);
                return;
            }
        }
        self.cores.park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_read_in_order_then_ends() {
        let cores = HostedCores::boot(1).unwrap();
        let input = HostedConsoleInput::start(cores, &b"hello\nworld\n"[..]).unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 5];
        loop {
            match input.try_read(&mut buffer) {
                Ok(0) => input.wait(),
                Ok(count) => received.extend_from_slice(&buffer[..count]),
                Err(EndOfInput) => break,
            }
        }
        assert_eq!(received, b"hello\nworld\n");
        assert_eq!(input.try_read(&mut buffer), Err(EndOfInput));
    }
}
