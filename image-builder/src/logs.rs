//! Decoding of defmt log streams: the frames clusters send, read back with each ELF's table.
//!
//! Every program (and the hosted kernel, as program `kernel`) logs defmt frames,
//! rzcobs-encoded and ended by a zero byte. Clusters forward them to the runner in
//! `ClusterReport::Log`s. [`LogDecoders`] keeps one stream per (cluster, program),
//! parses each ELF's `.defmt` table once, on first use, and turns complete frames into
//! [`DecodedFrame`]s. Whatever cannot be decoded becomes one [`LogOutput::Problem`]
//! line: bad input never panics and never blocks the runner.

use defmt_decoder::{DecodeError, Encoding, Table};
use std::collections::BTreeMap;
use std::fmt;

/// Longest incomplete frame kept while waiting for its end (bytes); a stream that
/// goes on longer without a frame end is dropped as malformed.
pub const PENDING_MAX: usize = 64 * 1024;

/// A defmt log level, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `trace!`.
    Trace,
    /// `debug!`.
    Debug,
    /// `info!`.
    Info,
    /// `warn!`.
    Warn,
    /// `error!`.
    Error,
}

impl LogLevel {
    /// Every level, lowest first.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ];

    /// The lowercase name: `trace`, `debug`, `info`, `warn`, `error`.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }

    /// The level of that lowercase name.
    pub fn from_name(name: &str) -> Option<LogLevel> {
        LogLevel::ALL.into_iter().find(|level| level.name() == name)
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// One decoded log frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedFrame {
    /// Its level; `None` for `defmt::println!`.
    pub level: Option<LogLevel>,
    /// The decoded timestamp, if the ELF defines one.
    pub timestamp: Option<String>,
    /// The formatted message.
    pub message: String,
}

/// What a piece of log stream turned into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogOutput {
    /// A decoded frame.
    Frame(DecodedFrame),
    /// A line for humans saying what could not be decoded and was dropped.
    Problem(String),
}

/// Why a program's frames cannot be decoded at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableError {
    /// The runner has no ELF for the program.
    NoElf,
    /// The ELF has no `.defmt` section.
    NoTable,
    /// The `.defmt` table does not parse (for example another defmt version).
    Unreadable(String),
    /// The frames use an encoding the runner does not split (only rzcobs is).
    Encoding(Encoding),
}

impl fmt::Display for TableError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::NoElf => write!(formatter, "the runner has no ELF for it"),
            TableError::NoTable => write!(
                formatter,
                "its ELF has no .defmt table (not linked with ld/nanvix-defmt.x, or stripped)"
            ),
            TableError::Unreadable(reason) => {
                write!(formatter, "its .defmt table cannot be read: {reason}")
            }
            TableError::Encoding(encoding) => write!(
                formatter,
                "its frames use the {encoding:?} encoding; the runner decodes rzcobs only"
            ),
        }
    }
}

/// The bytes of one (cluster, program) stream not yet ended by a zero byte.
#[derive(Default)]
struct Stream {
    pending: Vec<u8>,
    /// Whether the stream's unusable table was already reported.
    told_unusable: bool,
}

/// The log decoders of one board run.
pub struct LogDecoders<'a> {
    elves: BTreeMap<String, &'a [u8]>,
    tables: BTreeMap<String, Result<Table, TableError>>,
    streams: BTreeMap<(usize, String), Stream>,
}

impl<'a> LogDecoders<'a> {
    /// Decoders for the programs (and `kernel`) whose ELF bytes `elves` holds by name.
    pub fn new(elves: BTreeMap<String, &'a [u8]>) -> LogDecoders<'a> {
        LogDecoders {
            elves,
            tables: BTreeMap::new(),
            streams: BTreeMap::new(),
        }
    }

    /// Decodes `program`'s stream with the ELF `elf` from now on (a program staged
    /// while the board runs).
    pub fn add_elf(&mut self, program: &str, elf: &'a [u8]) {
        self.elves.insert(program.to_string(), elf);
        self.tables.remove(program);
    }

    /// Uses `table` for `program` instead of reading one from an ELF (for tests).
    pub fn with_table(mut self, program: &str, table: Table) -> LogDecoders<'a> {
        self.tables.insert(program.to_string(), Ok(table));
        self
    }

    /// Feeds the next bytes of `program`'s stream on `cluster` (its name for the
    /// lines); returns the frames they complete and the problems found.
    pub fn feed(&mut self, cluster: usize, program: &str, bytes: &[u8]) -> Vec<LogOutput> {
        let elves = &self.elves;
        let table = self
            .tables
            .entry(program.to_string())
            .or_insert_with(|| read_table(elves.get(program).copied()));
        let stream = self
            .streams
            .entry((cluster, program.to_string()))
            .or_default();
        let table = match table {
            Ok(table) => table,
            Err(error) => {
                if stream.told_unusable {
                    return Vec::new();
                }
                stream.told_unusable = true;
                return vec![LogOutput::Problem(format!(
                    "{program}: log frames dropped: {error}"
                ))];
            }
        };
        stream.pending.extend_from_slice(bytes);
        let Some(last_end) = stream.pending.iter().rposition(|&byte| byte == 0) else {
            if stream.pending.len() > PENDING_MAX {
                let dropped = stream.pending.len();
                stream.pending.clear();
                return vec![LogOutput::Problem(format!(
                    "{program}: malformed log stream: {dropped} bytes without a frame end, dropped"
                ))];
            }
            return Vec::new();
        };
        let complete: Vec<u8> = stream.pending.drain(..=last_end).collect();
        decode_frames(table, program, &complete)
    }
}

/// Reads the `.defmt` table of `elf`.
fn read_table(elf: Option<&[u8]>) -> Result<Table, TableError> {
    let elf = elf.ok_or(TableError::NoElf)?;
    let table = Table::parse(elf)
        .map_err(|error| TableError::Unreadable(format!("{error:#}")))?
        .ok_or(TableError::NoTable)?;
    match table.encoding() {
        Encoding::Rzcobs => Ok(table),
        other => Err(TableError::Encoding(other)),
    }
}

/// Decodes `complete`, a run of whole frames (each ended by a zero byte).
fn decode_frames(table: &Table, program: &str, complete: &[u8]) -> Vec<LogOutput> {
    let mut decoder = table.new_stream_decoder();
    decoder.received(complete);
    let mut outputs = Vec::new();
    let mut malformed = 0usize;
    loop {
        match decoder.decode() {
            Ok(frame) => outputs.push(LogOutput::Frame(DecodedFrame {
                level: frame
                    .level()
                    .and_then(|level| LogLevel::from_name(level.as_str())),
                timestamp: frame
                    .display_timestamp()
                    .map(|timestamp| timestamp.to_string()),
                message: frame.display_message().to_string(),
            })),
            Err(DecodeError::Malformed) => malformed += 1,
            Err(DecodeError::UnexpectedEof) => break,
        }
    }
    if malformed > 0 {
        outputs.push(LogOutput::Problem(format!(
            "{program}: {malformed} malformed log frame{} dropped",
            if malformed == 1 { "" } else { "s" }
        )));
    }
    outputs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table with an info, a warn and a println string, and a `{=u64}` timestamp.
    fn table() -> Table {
        let entry = |tag: &str, string: &str| serde_json::json!({"string": {"tag": tag, "string": string}, "raw_symbol": "test"});
        let json = serde_json::json!({
            "timestamp": entry("Timestamp", "{=u64}"),
            "entries": {
                "1": entry("Info", "hello from {=str}, node {=u32}"),
                "2": entry("Warn", "warning {=u8}"),
                "3": entry("Println", "plain"),
            },
            "bitflags": {},
            "encoding": "Rzcobs",
        });
        serde_json::from_value(json).unwrap()
    }

    /// Encodes one frame (index, u64 timestamp, then `arguments`) as the logger does.
    fn frame(index: u16, timestamp: u64, arguments: &[u8]) -> Vec<u8> {
        let mut encoder = defmt::Encoder::new();
        let mut bytes = Vec::new();
        encoder.start_frame(|data| bytes.extend_from_slice(data));
        encoder.write(&index.to_le_bytes(), |data| bytes.extend_from_slice(data));
        encoder.write(&timestamp.to_le_bytes(), |data| {
            bytes.extend_from_slice(data)
        });
        encoder.write(arguments, |data| bytes.extend_from_slice(data));
        encoder.end_frame(|data| bytes.extend_from_slice(data));
        bytes
    }

    fn greeting() -> Vec<u8> {
        let mut arguments = Vec::new();
        arguments.extend_from_slice(&3u32.to_le_bytes()); // {=str}: length, then bytes
        arguments.extend_from_slice(b"cc0");
        arguments.extend_from_slice(&16u32.to_le_bytes());
        frame(1, 1234, &arguments)
    }

    fn decoders() -> LogDecoders<'static> {
        LogDecoders::new(BTreeMap::new()).with_table("hello", table())
    }

    #[test]
    fn frames_decode_with_level_timestamp_and_text() {
        let mut decoders = decoders();
        let mut bytes = greeting();
        bytes.extend(frame(2, 5, &[7]));
        bytes.extend(frame(3, 6, &[]));
        let outputs = decoders.feed(0, "hello", &bytes);
        assert_eq!(
            outputs,
            vec![
                LogOutput::Frame(DecodedFrame {
                    level: Some(LogLevel::Info),
                    timestamp: Some("1234".into()),
                    message: "hello from cc0, node 16".into(),
                }),
                LogOutput::Frame(DecodedFrame {
                    level: Some(LogLevel::Warn),
                    timestamp: Some("5".into()),
                    message: "warning 7".into(),
                }),
                LogOutput::Frame(DecodedFrame {
                    level: None,
                    timestamp: Some("6".into()),
                    message: "plain".into(),
                }),
            ]
        );
    }

    #[test]
    fn a_frame_split_across_pieces_decodes_once_complete() {
        let mut decoders = decoders();
        let bytes = greeting();
        let (head, tail) = bytes.split_at(5);
        assert_eq!(decoders.feed(0, "hello", head), vec![]);
        // Another cluster's stream of the same program does not mix in.
        assert_eq!(decoders.feed(1, "hello", head), vec![]);
        let outputs = decoders.feed(0, "hello", tail);
        assert!(
            matches!(&outputs[..], [LogOutput::Frame(frame)] if frame.message == "hello from cc0, node 16"),
            "{outputs:?}"
        );
    }

    #[test]
    fn malformed_frames_become_one_problem_line_and_decoding_goes_on() {
        let mut decoders = decoders();
        let mut bytes = vec![0x55, 0x12, 0x00]; // garbage
        bytes.extend(frame(99, 0, &[])); // an index the table lacks
        bytes.extend(frame(1, 0, &[0xff, 0xff])); // arguments cut short
        bytes.extend(greeting());
        let outputs = decoders.feed(0, "hello", &bytes);
        assert_eq!(outputs.len(), 2, "{outputs:?}");
        assert!(
            matches!(&outputs[0], LogOutput::Frame(frame) if frame.level == Some(LogLevel::Info))
        );
        assert_eq!(
            outputs[1],
            LogOutput::Problem("hello: 3 malformed log frames dropped".into())
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut decoders = decoders();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut bytes = Vec::new();
            for _ in 0..(state % 40) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push((state >> 24) as u8);
            }
            let _ = decoders.feed(0, "hello", &bytes);
        }
        // Still decoding afterwards.
        let mut bytes = vec![0];
        bytes.extend(greeting());
        let outputs = decoders.feed(0, "hello", &bytes);
        assert!(
            outputs
                .iter()
                .any(|output| matches!(output, LogOutput::Frame(frame) if frame.message == "hello from cc0, node 16")),
            "{outputs:?}"
        );
    }

    #[test]
    fn an_endless_frame_is_dropped() {
        let mut decoders = decoders();
        assert_eq!(decoders.feed(0, "hello", &[1; PENDING_MAX]), vec![]);
        let outputs = decoders.feed(0, "hello", &[1; 8]);
        assert!(
            matches!(&outputs[..], [LogOutput::Problem(line)] if line.contains("without a frame end")),
            "{outputs:?}"
        );
        let outputs = decoders.feed(0, "hello", &greeting());
        assert!(matches!(&outputs[..], [LogOutput::Frame(_)]), "{outputs:?}");
    }

    #[test]
    fn a_program_without_a_table_is_reported_once() {
        let not_elf: &[u8] = b"#!/bin/sh\n";
        let mut decoders = LogDecoders::new(BTreeMap::from([("plain".to_string(), not_elf)]));
        let outputs = decoders.feed(0, "plain", &greeting());
        assert!(
            matches!(&outputs[..], [LogOutput::Problem(line)] if line.starts_with("plain: log frames dropped: its .defmt table cannot be read")),
            "{outputs:?}"
        );
        assert_eq!(decoders.feed(0, "plain", &greeting()), vec![]);
        let outputs = decoders.feed(0, "unknown", &greeting());
        assert_eq!(
            outputs,
            vec![LogOutput::Problem(
                "unknown: log frames dropped: the runner has no ELF for it".into()
            )]
        );
    }

    #[test]
    fn an_elf_without_a_defmt_section_says_so() {
        // Any ordinary host executable: this test binary links defmt, so not itself.
        let elf = std::fs::read("/bin/sh").unwrap();
        assert_eq!(read_table(Some(&elf)).err(), Some(TableError::NoTable));
    }

    #[test]
    fn levels_order_and_parse() {
        assert!(LogLevel::Trace < LogLevel::Debug && LogLevel::Warn < LogLevel::Error);
        for level in LogLevel::ALL {
            assert_eq!(LogLevel::from_name(level.name()), Some(level));
        }
        assert_eq!(LogLevel::from_name("loud"), None);
    }
}
