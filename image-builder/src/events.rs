//! The board's event stream: one JSON object per line with `--events json`.
//!
//! Every event has an `event` tag and the milliseconds since the board started
//! (`ms`). Tests and tools read these instead of grepping console text.

use serde::{Deserialize, Serialize};

/// One thing that happened on the board.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The board's hardware is ready; clusters are about to boot.
    BoardUp {
        /// Board name.
        board: String,
        /// Clusters the manifest boots.
        clusters: usize,
    },
    /// `--gdb`: the cluster's kernel stopped itself at its start; a debugger may
    /// attach to `pid` and continue it (or `kill -CONT pid`).
    WaitingForDebugger {
        /// Cluster name.
        cluster: String,
        /// Host process id to attach to.
        pid: u32,
    },
    /// `--gdb` on the qemu-x86_64 platform: the cluster's machine is stopped at its
    /// first instruction with QEMU's debugger stub listening at `address`; `kernel`
    /// is the kernel ELF to load its symbols from.
    MachineWaitsForDebugger {
        /// Cluster name.
        cluster: String,
        /// Where the stub listens (`127.0.0.1:PORT`).
        address: String,
        /// The kernel ELF.
        kernel: String,
    },
    /// `--gdb`: where the debugged cluster's program ELF is, and its load base.
    DebugSymbols {
        /// Cluster name.
        cluster: String,
        /// Program name.
        program: String,
        /// The ELF, written for the debugger.
        path: String,
        /// Where the program was loaded.
        base: u64,
    },
    /// A cluster's kernel is up with its programs loaded.
    ClusterUp {
        /// Cluster name.
        cluster: String,
        /// Host process id of the cluster (for fault injection in tests).
        pid: u32,
        /// Boot epoch.
        epoch: u32,
    },
    /// A program was loaded and started.
    ProgramStarted {
        /// Cluster name.
        cluster: String,
        /// Program name.
        program: String,
        /// Program id on its cluster.
        id: u32,
        /// NoC node it is bound to.
        node: u32,
    },
    /// A program was refused by the loader.
    ProgramRefused {
        /// Cluster name.
        cluster: String,
        /// Program name.
        program: String,
        /// Why.
        reason: String,
    },
    /// A thread of a program faulted and was ended; its cluster goes on.
    ThreadFault {
        /// Cluster name.
        cluster: String,
        /// Program name.
        program: String,
        /// The thread's id.
        thread: u64,
        /// The user core it held (0: none).
        core: u64,
        /// What happened, in words.
        kind: String,
        /// `read`, `write`, `execute` or `none`.
        access: String,
        /// The address touched.
        address: u64,
        /// The thread's end value (128 + the signal).
        status: i32,
        /// The backtrace, innermost first: `function+0xoffset (address) at
        /// file:line` (the place where the line tables give one), or the bare
        /// address.
        backtrace: Vec<String>,
    },
    /// One console line of a program (or of the kernel, as program `kernel`).
    Console {
        /// Cluster name.
        cluster: String,
        /// Program name.
        program: String,
        /// The line.
        line: String,
    },
    /// One decoded defmt log frame of a program (or of the kernel, as program
    /// `kernel`), at or above the run's `--log-level`.
    Log {
        /// Cluster name.
        cluster: String,
        /// Program name.
        program: String,
        /// `trace`, `debug`, `info`, `warn` or `error`; `None` for `defmt::println!`.
        level: Option<String>,
        /// The decoded timestamp (programs: raw cycles of the core), if the ELF has one.
        timestamp: Option<String>,
        /// The formatted message.
        message: String,
    },
    /// Raw output of a cluster process (for example a kernel panic message).
    KernelOutput {
        /// Cluster name.
        cluster: String,
        /// The line.
        line: String,
    },
    /// A program ended.
    ProgramExited {
        /// Cluster name.
        cluster: String,
        /// Program name.
        program: String,
        /// Exit status.
        status: i32,
    },
    /// A cluster powered off by itself after its last program ended.
    ClusterOff {
        /// Cluster name.
        cluster: String,
        /// 0 when every program ended with 0.
        status: i32,
    },
    /// A cluster died: its process was killed or crashed without powering off.
    ClusterDied {
        /// Cluster name.
        cluster: String,
        /// Whether the manifest marks it critical (then the board stops).
        critical: bool,
        /// Why, for humans: "killed by signal 9 (SIGKILL)".
        reason: String,
        /// The signal, if a signal ended it.
        signal: Option<i32>,
        /// The exit code, if it exited.
        code: Option<i32>,
    },
    /// A program asked the board to power a cluster on or off.
    Power {
        /// Cluster of the asking program.
        cluster: String,
        /// The cluster to power on or off.
        target: String,
        /// `on PROGRAM` or `off`.
        action: String,
        /// Why the board did nothing, if it did nothing.
        refused: Option<String>,
    },
    /// A warm cluster's programs all ended (the last with `status`): it stays on,
    /// idle, for the next program.
    ClusterIdle {
        /// Cluster name.
        cluster: String,
        /// 0 when every program ended with 0.
        status: i32,
    },
    /// A Ctrl-C (SIGINT to the runner) was forwarded to the cluster that takes the
    /// terminal's input, as byte 0x03 on its console input.
    Interrupt {
        /// Cluster name.
        cluster: String,
    },
    /// A SIGTERM to the runner was passed to init on the boot cluster, which stops
    /// the servers in order; the board powers off when it is done.
    ShutdownRequested {
        /// The boot cluster's name.
        cluster: String,
    },
    /// The board is stopping every cluster.
    BoardStop {
        /// Why.
        reason: String,
    },
    /// The board is off; the runner exits with `status`.
    BoardOff {
        /// 0: every cluster powered off with 0; 1: a critical cluster died or the
        /// board was stopped; 2: a non-critical cluster died or failed.
        status: i32,
    },
}

/// An event with its time.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Timed {
    /// Milliseconds since the board started (microsecond resolution).
    pub ms: f64,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

impl Event {
    /// The human form printed without `--events json`.
    pub fn human(&self) -> String {
        match self {
            Event::BoardUp { board, clusters } => {
                format!("[board] {board}: booting {clusters} clusters")
            }
            Event::ClusterUp {
                cluster,
                pid,
                epoch,
            } => format!("[board] {cluster} up (pid {pid}, epoch {epoch})"),
            Event::ProgramStarted { .. } => String::new(),
            Event::MachineWaitsForDebugger {
                cluster,
                address,
                kernel,
            } => format!(
                "[board] {cluster}'s machine is stopped for a debugger: gdb -ex 'target remote {address}' {kernel} (then `continue`)"
            ),
            Event::WaitingForDebugger { cluster, pid } => format!(
                "[board] {cluster} is stopped for a debugger: gdb -p {pid} (then `continue`), or kill -CONT {pid}"
            ),
            Event::DebugSymbols {
                cluster,
                program,
                path,
                base,
            } => format!("[board] {cluster}/{program} in gdb: add-symbol-file {path} -o {base:#x}"),
            Event::ProgramRefused {
                cluster,
                program,
                reason,
            } => {
                format!("[{cluster}] program {program} refused: {reason}")
            }
            Event::Console {
                cluster,
                program,
                line,
            } => format!("[{cluster}/{program}] {line}"),
            Event::ThreadFault {
                cluster,
                program,
                thread,
                core,
                kind,
                access,
                address,
                status,
                backtrace,
            } => {
                let what = if access == "none" {
                    kind.clone()
                } else {
                    format!("{kind} ({access} at {address:#x})")
                };
                let heading = if kind == "panic" { "panic" } else { "fault" };
                let mut text = format!(
                    "[{cluster}/{program}] {heading}: thread {thread} on core {core}: {what}; the thread ended with status {status}"
                );
                for (depth, frame) in backtrace.iter().enumerate() {
                    text.push_str(&format!("\n[{cluster}/{program}]   #{depth} {frame}"));
                }
                text
            }
            Event::Log {
                cluster,
                program,
                level,
                timestamp,
                message,
            } => {
                let mut line = format!("[{cluster}/{program}] ");
                if let Some(level) = level {
                    line.push_str(&format!("{:<6}", level.to_uppercase()));
                }
                if let Some(timestamp) = timestamp {
                    line.push_str(timestamp);
                    line.push(' ');
                }
                line.push_str(message);
                line
            }
            Event::KernelOutput { cluster, line } => format!("[{cluster}] {line}"),
            Event::ProgramExited {
                cluster,
                program,
                status,
            } => {
                if *status == 0 {
                    String::new()
                } else {
                    format!("[{cluster}] program {program} exited with status {status}")
                }
            }
            Event::Power {
                cluster,
                target,
                action,
                refused,
            } => match refused {
                None => format!("[board] {cluster} powers {target} {action}"),
                Some(reason) => {
                    format!("[board] {cluster} asked to power {target} {action}: refused: {reason}")
                }
            },
            Event::ClusterOff { cluster, status } => {
                format!("[board] {cluster} powered off (status {status})")
            }
            Event::ClusterDied {
                cluster,
                critical,
                reason,
                ..
            } => format!(
                "[board] {cluster} died: {reason}{}",
                if *critical {
                    " (critical: stopping the board)"
                } else {
                    ""
                }
            ),
            Event::Interrupt { cluster } => format!("[board] Ctrl-C forwarded to {cluster}"),
            Event::ClusterIdle { cluster, status } => {
                format!("[board] {cluster} idle, warm (status {status})")
            }
            Event::ShutdownRequested { cluster } => {
                format!("[board] shutting down: init on {cluster} stops the servers")
            }
            Event::BoardStop { reason } => format!("[board] stopping: {reason}"),
            Event::BoardOff { status } => format!("[board] off (status {status})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(level: Option<&str>, timestamp: Option<&str>) -> Event {
        Event::Log {
            cluster: "cc0".into(),
            program: "hello".into(),
            level: level.map(String::from),
            timestamp: timestamp.map(String::from),
            message: "hello from cc0".into(),
        }
    }

    #[test]
    fn log_events_read_well_in_both_forms() {
        assert_eq!(
            log(Some("info"), Some("12.345")).human(),
            "[cc0/hello] INFO  12.345 hello from cc0"
        );
        assert_eq!(
            log(Some("error"), None).human(),
            "[cc0/hello] ERROR hello from cc0"
        );
        assert_eq!(log(None, Some("7")).human(), "[cc0/hello] 7 hello from cc0");
        let json = serde_json::to_string(&log(Some("warn"), None)).unwrap();
        assert_eq!(
            json,
            r#"{"event":"log","cluster":"cc0","program":"hello","level":"warn","timestamp":null,"message":"hello from cc0"}"#
        );
        assert_eq!(
            serde_json::from_str::<Event>(&json).unwrap(),
            log(Some("warn"), None)
        );
    }
}
