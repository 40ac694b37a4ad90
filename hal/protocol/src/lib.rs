//! What a cluster's kernel and the board runner tell each other, on every platform.
//!
//! A kernel reports to the runner in [`ClusterReport`]s (the hosted platform writes
//! them as JSON lines on a pipe; the qemu-x86_64 platform as [`report_line`]s on the
//! serial console, among the console's raw bytes), and the runner asks an idle warm
//! cluster to run a program with a [`ProgramRequest`]. On qemu-x86_64 the runner
//! boots a cluster with a [`BootBundle`]: the cluster and its programs' ELFs in one
//! file QEMU loads beside the kernel (the board is in the NoC memory's ROM).
#![no_std]

extern crate alloc;

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use nanvix_hal::HardwareEvent;
use serde::{Deserialize, Serialize};

/// A report from a cluster's kernel to the runner.
///
/// Externally tagged (serde's default), so that both its encodings decode: JSON on
/// the hosted platform's pipes, postcard on the machines' consoles.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClusterReport<'a> {
    /// The kernel is up and its programs are loaded.
    Up,
    /// A program was loaded and started.
    ProgramStarted {
        /// Name.
        program: Cow<'a, str>,
        /// Program id.
        id: u32,
        /// NoC node.
        node: u32,
        /// Load base address.
        base: u64,
    },
    /// A program could not be loaded.
    ProgramRefused {
        /// Name.
        program: Cow<'a, str>,
        /// Why (its `Display` words it).
        refusal: Cow<'a, nanvix_abi::Refusal>,
    },
    /// A thread faulted and was ended; the cluster goes on.
    ThreadFault {
        /// Its program.
        program: Cow<'a, str>,
        /// The thread's id.
        thread: u64,
        /// The user core it held (0: none).
        core: u64,
        /// What happened: a `nanvix_abi::FaultKind` code (the runner words it).
        code: u32,
        /// How it touched memory: a `nanvix_hal::FaultAccess` code (the runner
        /// words it: `read`, `write`, `execute` or `none`).
        access: u32,
        /// The address touched.
        address: u64,
        /// The faulting instruction.
        instruction: u64,
        /// Return addresses, innermost first (the faulting instruction first).
        backtrace: Vec<u64>,
        /// The thread's end value (128 + the signal).
        status: i32,
    },
    /// A program ended.
    ProgramExited {
        /// Name.
        program: Cow<'a, str>,
        /// Exit status.
        status: i32,
    },
    /// One console line of a program.
    Console {
        /// Name of the writing program (`kernel` for the kernel itself).
        program: Cow<'a, str>,
        /// The line's bytes, without its newline, as the program wrote them (the
        /// runner replaces invalid UTF-8: the kernel does not), hex-encoded in JSON.
        #[serde(with = "bytes_as_hex")]
        line: Cow<'a, [u8]>,
    },
    /// A piece of a program's defmt log stream (encoded frames), hex-encoded.
    Log {
        /// Name of the logging program (`kernel` for the kernel itself).
        program: Cow<'a, str>,
        /// The frames' bytes (hex digits in JSON).
        #[serde(with = "bytes_as_hex")]
        bytes: Cow<'a, [u8]>,
    },
    /// The cluster powers off with this status.
    PowerOff {
        /// 0 when every program ended with 0.
        status: i32,
    },
    /// A program asks the board to power another cluster on with an image program.
    PowerOnCluster {
        /// Index of the cluster to power on.
        cluster: u32,
        /// The program to boot it with.
        program: Cow<'a, str>,
        /// Its arguments as the HAL passes them, NUL-separated (the runner
        /// splits them: [`split_arguments`]).
        arguments: Cow<'a, str>,
    },
    /// An idle warm cluster runs a program another cluster's kernel asked it for
    /// over the NoC: the board counts the run (and shows the request).
    ProgramRun {
        /// The image program.
        program: Cow<'a, str>,
        /// The run number.
        run: u32,
        /// The NoC node of the program that asked.
        requester_node: u32,
    },
    /// A warm cluster's programs all ended with this status: it is idle.
    Idle {
        /// 0 when every program ended with 0.
        status: i32,
    },
    /// A program staged on a machine (`program_stage`; the hosted board's clusters
    /// write the staging directory themselves): its name and ELF, for the runner to
    /// keep as that directory does.
    Stage {
        /// The staged name (`base@hash`).
        program: Cow<'a, str>,
        /// The ELF (hex digits in JSON).
        #[serde(with = "bytes_as_hex")]
        elf: Cow<'a, [u8]>,
    },
    /// A program asks the board to power another cluster off.
    PowerOffCluster {
        /// Index of the cluster to power off.
        cluster: u32,
        /// The signal that kills its programs (its status is then 128 + it).
        signal: u32,
    },
}

/// A request from the runner to an idle warm cluster: run this image program.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProgramRequest {
    /// The image program.
    pub program: String,
    /// Its arguments, NUL-separated, as the HAL passes them on.
    pub arguments: String,
    /// The run the board counts it as in the cluster's epoch (the kernel stamps it
    /// on the program's messages).
    pub run: u32,
}

impl<'a> ClusterReport<'a> {
    /// The report of a hardware event.
    pub fn from_event(event: &HardwareEvent<'a>) -> ClusterReport<'a> {
        match *event {
            HardwareEvent::ClusterUp => ClusterReport::Up,
            HardwareEvent::ProgramStarted {
                program,
                id,
                node,
                base,
            } => ClusterReport::ProgramStarted {
                program: Cow::Borrowed(program),
                id,
                node,
                base: base as u64,
            },
            HardwareEvent::ProgramExited { program, status } => ClusterReport::ProgramExited {
                program: Cow::Borrowed(program),
                status,
            },
            HardwareEvent::ThreadFault {
                program,
                thread,
                core,
                fault,
                backtrace,
            } => ClusterReport::ThreadFault {
                program: Cow::Borrowed(program),
                thread: thread as u64,
                core: core as u64,
                code: fault.kind as u32,
                access: fault.access as u32,
                address: fault.address as u64,
                instruction: fault.instruction as u64,
                backtrace: backtrace.iter().map(|address| *address as u64).collect(),
                status: fault.status,
            },
            HardwareEvent::ProgramRefused { program, refusal } => ClusterReport::ProgramRefused {
                program: Cow::Borrowed(program),
                refusal: Cow::Borrowed(refusal),
            },
            HardwareEvent::ProgramRun {
                program,
                run,
                requester_node,
            } => ClusterReport::ProgramRun {
                program: Cow::Borrowed(program),
                run,
                requester_node,
            },
        }
    }

    /// One console line of `program`.
    pub fn console(program: &'a str, line: &'a [u8]) -> ClusterReport<'a> {
        ClusterReport::Console {
            program: Cow::Borrowed(program),
            line: Cow::Borrowed(line),
        }
    }

    /// A piece of `program`'s defmt log stream.
    pub fn log(program: &'a str, bytes: &'a [u8]) -> ClusterReport<'a> {
        ClusterReport::Log {
            program: Cow::Borrowed(program),
            bytes: Cow::Borrowed(bytes),
        }
    }

    /// `elf` staged as `program` on a machine.
    pub fn stage(program: &'a str, elf: &'a [u8]) -> ClusterReport<'a> {
        ClusterReport::Stage {
            program: Cow::Borrowed(program),
            elf: Cow::Borrowed(elf),
        }
    }
}

/// A report's bytes: two hex digits each in a text encoding (the hosted pipes'
/// JSON), raw in a binary one (postcard, which a machine's report line carries in
/// hex already).
mod bytes_as_hex {
    use alloc::borrow::Cow;
    use alloc::vec::Vec;
    use serde::de::{Error, Visitor};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&hex::encode(bytes))
        } else {
            serializer.serialize_bytes(bytes)
        }
    }

    pub fn deserialize<'de, 'a, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Cow<'a, [u8]>, D::Error> {
        let bytes = if deserializer.is_human_readable() {
            let text = alloc::string::String::deserialize(deserializer)?;
            hex::decode(&text).map_err(|_| D::Error::custom("not hex digits"))?
        } else {
            deserializer.deserialize_byte_buf(Bytes)?
        };
        Ok(Cow::Owned(bytes))
    }

    /// Takes bytes as they come.
    struct Bytes;

    impl Visitor<'_> for Bytes {
        type Value = Vec<u8>;

        fn expecting(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            formatter.write_str("bytes")
        }

        fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
            Ok(bytes.to_vec())
        }

        fn visit_byte_buf<E: Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(bytes)
        }
    }
}

/// Arguments as the HAL passes them (NUL-separated) as a list (empty ones dropped).
pub fn split_arguments(arguments: &str) -> Vec<String> {
    arguments
        .split('\0')
        .filter(|argument| !argument.is_empty())
        .map(str::to_string)
        .collect()
}

/// The byte a machine's console input ends with (ASCII end of transmission,
/// Ctrl-D): its serial port has no end of its own, so the runner sends this when
/// the terminal's input ends.
pub const END_OF_INPUT: u8 = 0x04;

/// The byte that starts a report line on a serial console (ASCII record separator:
/// no program writes it on a console line, which the kernel makes valid UTF-8
/// without control bytes other than tabs).
pub const REPORT_MARK: char = '\u{1e}';

/// `report` as one console line: [`REPORT_MARK`], then its postcard encoding in
/// hex digits (no newline). Postcard, not JSON: the kernel already decodes its boot
/// bundle with it, where a JSON serializer cost its image 4 KB more.
pub fn report_line(report: &ClusterReport<'_>) -> String {
    let mut line = String::new();
    line.push(REPORT_MARK);
    // A report of strings, numbers and bytes always serializes.
    line.push_str(&hex::encode(
        postcard::to_allocvec(report).unwrap_or_default(),
    ));
    line
}

/// Why a console line that starts like a report is not one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportLineError {
    /// Its text is not hex digits.
    NotHex,
    /// Its bytes do not decode as a report.
    Undecodable,
}

/// The report a console line carries: `None` for a line that is not a report
/// (plain console output), an error for one that starts like a report but does not
/// decode.
pub fn parse_report_line(line: &str) -> Option<Result<ClusterReport<'static>, ReportLineError>> {
    let text = line.strip_prefix(REPORT_MARK)?;
    Some(match hex::decode(text) {
        Ok(bytes) => postcard::from_bytes(&bytes).map_err(|_| ReportLineError::Undecodable),
        Err(_) => Err(ReportLineError::NotHex),
    })
}

/// The first bytes of a [`BootBundle`] file ("NXQB").
pub const BUNDLE_MAGIC: [u8; 4] = *b"NXQB";
/// The bundle format's version (after the magic, little-endian).
pub const BUNDLE_VERSION: u32 = 4;

/// What the runner hands a qemu-x86_64 cluster's kernel at boot (QEMU's `-initrd`
/// file, which its PVH loader passes as the first module): which cluster this is,
/// its programs and the ELFs they and later spawns may load. The board is the one
/// the NoC memory's ROM describes (the machine reads it there: one copy, one
/// decoder in the kernel).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootBundle<'a> {
    /// Index of the cluster on the board.
    pub cluster: u32,
    /// Boot epoch of this incarnation.
    pub epoch: u32,
    /// Blocks of the disk the machine has as an ivshmem device (0: none).
    pub disk_blocks: u64,
    /// Bytes of the board's DDR the machine has as an ivshmem device (0: none).
    pub ddr_bytes: u64,
    /// Whether the cluster stays on, idle, when its programs end (a warm cluster,
    /// booted on request), taking the runner's program requests.
    pub warm: bool,
    /// Programs to load at boot, in order; program ids are their positions.
    #[serde(borrow)]
    pub programs: Vec<BootProgram<'a>>,
    /// ELFs by name: every program the boot list names, and the image's others
    /// (what `program_spawn` may start).
    #[serde(borrow)]
    pub library: Vec<LibraryProgram<'a>>,
}

/// One program to load at boot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootProgram<'a> {
    /// Its name: a [`LibraryProgram`]'s.
    pub name: &'a str,
    /// Arguments after the name.
    pub arguments: Vec<String>,
    /// Heap size in bytes.
    pub heap_bytes: u64,
    /// Main-thread stack size in bytes.
    pub stack_bytes: u64,
    /// Whether the console input goes to it.
    pub console_input: bool,
}

/// A program's ELF, by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryProgram<'a> {
    /// Its name.
    pub name: &'a str,
    /// The ELF's bytes.
    pub elf: &'a [u8],
}

/// Why a boot bundle did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleError {
    /// It does not start with [`BUNDLE_MAGIC`].
    NotABundle,
    /// Its format version is not [`BUNDLE_VERSION`].
    Version(u32),
    /// Its contents do not decode.
    Corrupt,
}

impl ufmt::uDisplay for BundleError {
    fn fmt<W: ufmt::uWrite + ?Sized>(
        &self,
        formatter: &mut ufmt::Formatter<'_, W>,
    ) -> Result<(), W::Error> {
        match self {
            BundleError::NotABundle => formatter.write_str("not a boot bundle (no NXQB magic)"),
            BundleError::Version(version) => ufmt::uwrite!(
                formatter,
                "boot bundle version {}, this kernel reads {}",
                *version,
                BUNDLE_VERSION
            ),
            BundleError::Corrupt => formatter.write_str("the boot bundle's contents do not decode"),
        }
    }
}

/// The same text as [`ufmt::uDisplay`] (its one source), for the host.
impl core::fmt::Display for BundleError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        nanvix_hal::text::display(self, formatter)
    }
}

impl<'a> BootBundle<'a> {
    /// The bundle's bytes: magic, version, then the fields (postcard).
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::from(BUNDLE_MAGIC);
        bytes.extend_from_slice(&BUNDLE_VERSION.to_le_bytes());
        // Strings, numbers and byte slices always serialize.
        bytes.extend_from_slice(&postcard::to_allocvec(self).unwrap_or_default());
        bytes
    }

    /// Reads a bundle from `bytes` (its ELFs borrow from them).
    pub fn decode(bytes: &'a [u8]) -> Result<BootBundle<'a>, BundleError> {
        let rest = bytes
            .strip_prefix(&BUNDLE_MAGIC)
            .ok_or(BundleError::NotABundle)?;
        let (version, rest) = rest.split_first_chunk::<4>().ok_or(BundleError::Corrupt)?;
        let version = u32::from_le_bytes(*version);
        if version != BUNDLE_VERSION {
            return Err(BundleError::Version(version));
        }
        postcard::from_bytes(rest).map_err(|_| BundleError::Corrupt)
    }

    /// The ELF named `name`.
    pub fn elf(&self, name: &str) -> Option<&'a [u8]> {
        self.library
            .iter()
            .find(|program| program.name == name)
            .map(|program| program.elf)
    }
}

/// The staging store of a board of machines: the programs staged while it runs
/// (`program_stage`), which the runner appends as machines report them and every
/// machine reads (an ivshmem device of its own). A kernel never writes it.
///
/// ```text
/// [ magic u32 | count u32 | 8 spare bytes ]
/// [ entry 0 .. ENTRIES_MAX: name (64 bytes, NUL-padded), offset u64, length u64 ]
/// [ ELF bytes from DATA_START on ]
/// ```
/// The runner writes an ELF's bytes, then its entry, then the count: a reader that
/// reads the count first sees only whole entries, and an entry never changes.
pub mod staging {
    /// The store's first word ("NXST").
    pub const MAGIC: u32 = 0x5453_584e;
    /// Offset of the entry count.
    pub const COUNT: usize = 4;
    /// Offset of the first entry.
    pub const ENTRIES: usize = 16;
    /// Bytes of an entry: the name, then the ELF's offset and length.
    pub const ENTRY_BYTES: usize = 80;
    /// Bytes of an entry's name.
    pub const NAME_BYTES: usize = 64;
    /// Entries the store holds at most.
    pub const ENTRIES_MAX: usize = 256;
    /// Offset of the first ELF's bytes.
    pub const DATA_START: usize = 32 << 10;
    /// Bytes of the store's file (a power of two: a BAR's size; sparse on the host).
    pub const STORE_BYTES: u64 = 64 << 20;

    /// Offset of entry `index`.
    pub const fn entry(index: usize) -> usize {
        ENTRIES + index * ENTRY_BYTES
    }

    const _: () = assert!(entry(ENTRIES_MAX) <= DATA_START);
    const _: () = assert!(STORE_BYTES.is_power_of_two());

    /// An entry's name, from its `NAME_BYTES` (NUL-padded); `None` if not UTF-8.
    pub fn name(bytes: &[u8]) -> Option<&str> {
        let end = bytes
            .iter()
            .position(|byte| *byte == 0)
            .unwrap_or(bytes.len());
        core::str::from_utf8(&bytes[..end]).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn bundle(elf: &[u8]) -> BootBundle<'_> {
        BootBundle {
            cluster: 0,
            epoch: 1,
            disk_blocks: 0,
            ddr_bytes: 0,
            warm: false,
            programs: vec![BootProgram {
                name: "hello",
                arguments: vec!["rounds=1".to_string()],
                heap_bytes: 4096,
                stack_bytes: 8192,
                console_input: false,
            }],
            library: vec![LibraryProgram { name: "hello", elf }],
        }
    }

    #[test]
    fn a_bundle_round_trips_and_its_elfs_borrow_from_the_bytes() {
        let elf = [0x7f, b'E', b'L', b'F', 1, 2, 3];
        let bytes = bundle(&elf).encode();
        let decoded = BootBundle::decode(&bytes).unwrap();
        assert_eq!(decoded, bundle(&elf));
        let found = decoded.elf("hello").unwrap();
        assert!(bytes.as_ptr_range().contains(&found.as_ptr()));
        assert_eq!(decoded.elf("other"), None);
    }

    #[test]
    fn a_bad_bundle_is_refused_with_its_reason() {
        let bytes = bundle(&[1, 2, 3]).encode();
        assert_eq!(BootBundle::decode(b"ELF\0"), Err(BundleError::NotABundle));
        let mut newer = bytes.clone();
        newer[4] = BUNDLE_VERSION as u8 + 1;
        assert_eq!(
            BootBundle::decode(&newer),
            Err(BundleError::Version(BUNDLE_VERSION + 1))
        );
        assert_eq!(BootBundle::decode(&bytes[..6]), Err(BundleError::Corrupt));
        for cut in 8..bytes.len() {
            assert!(BootBundle::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn bytes_travel_as_hex_and_anything_else_is_refused() {
        let report = ClusterReport::PowerOff { status: 300 };
        let line = report_line(&report);
        let digits = line.strip_prefix(REPORT_MARK).unwrap();
        assert!(
            digits
                .bytes()
                .all(|digit| matches!(digit, b'0'..=b'9' | b'a'..=b'f'))
        );
        assert_eq!(parse_report_line(&line), Some(Ok(report)));
        for bad in ["0", "0g", "+1", "é1"] {
            let line = alloc::format!("{REPORT_MARK}{bad}");
            assert_eq!(
                parse_report_line(&line),
                Some(Err(ReportLineError::NotHex)),
                "{bad}"
            );
        }
    }

    #[test]
    fn reports_travel_as_marked_lines_and_other_lines_are_not_reports() {
        let report = ClusterReport::ProgramExited {
            program: "hello".into(),
            status: 3,
        };
        let line = report_line(&report);
        assert!(line.starts_with(REPORT_MARK) && !line.contains('\n'));
        assert_eq!(parse_report_line(&line).unwrap().unwrap(), report);
        assert!(parse_report_line("hello from cc0").is_none());
        assert_eq!(
            parse_report_line("\u{1e}{\"up\":null}"),
            Some(Err(ReportLineError::NotHex))
        );
        assert_eq!(
            parse_report_line("\u{1e}7f"),
            Some(Err(ReportLineError::Undecodable)),
            "no variant 127"
        );
        // Bytes travel raw in the line (hex once), as hex digits in JSON.
        let log = ClusterReport::log("kernel", &[0, 0xab, 0x7f]);
        assert_eq!(parse_report_line(&report_line(&log)), Some(Ok(log.clone())));
        let json = serde_json::to_string(&log).unwrap();
        assert!(json.contains("\"00ab7f\""), "{json}");
        assert_eq!(serde_json::from_str::<ClusterReport>(&json).unwrap(), log);
        // A console line's bytes arrive as the program wrote them, UTF-8 or not:
        // the runner, not the kernel, replaces what is not.
        let console = ClusterReport::console("hello", b"caf\xc3\xa9 \xff");
        assert_eq!(
            parse_report_line(&report_line(&console)),
            Some(Ok(console.clone()))
        );
        let json = serde_json::to_string(&console).unwrap();
        assert!(json.contains("\"636166c3a920ff\""), "{json}");
        assert_eq!(
            serde_json::from_str::<ClusterReport>(&json).unwrap(),
            console
        );
    }

    #[test]
    fn a_refusal_travels_as_data_and_the_runner_words_it() {
        use nanvix_abi::{Errno, LoadError, Refusal};
        for (refusal, words) in [
            (
                Refusal::Load(LoadError::AbiVersion { found: 9 }),
                "built for kcall ABI 9",
            ),
            (Refusal::OutOfMemory { requested: 4096 }, "4096 bytes"),
            (
                Refusal::Unavailable("no ELF of that name".into()),
                "no ELF of that name",
            ),
            (Refusal::Errno(Errno::NoEntry as i32), "ENOENT"),
            (Refusal::Errno(-7), "error -7"),
        ] {
            let report = ClusterReport::ProgramRefused {
                program: "hello".into(),
                refusal: Cow::Owned(refusal.clone()),
            };
            assert_eq!(
                parse_report_line(&report_line(&report)),
                Some(Ok(report.clone()))
            );
            let json = serde_json::to_string(&report).unwrap();
            assert_eq!(
                serde_json::from_str::<ClusterReport>(&json).unwrap(),
                report
            );
            let worded = alloc::format!("{refusal}");
            assert!(worded.contains(words), "{worded}");
        }
    }
}
