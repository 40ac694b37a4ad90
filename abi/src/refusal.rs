//! Why a program was not started: what a kernel reports (postcard or JSON) and the
//! runner words, one source for both.

use alloc::string::String;
use serde::{Deserialize, Serialize};

/// `EM_X86_64`, the only machine programs are built for.
const EM_X86_64: u16 = 62;

/// Largest program image the loader accepts (address span).
pub const IMAGE_MAX: usize = 64 << 20;

/// Why an ELF file is not a loadable Nanvix program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoadError {
    /// Not an ELF file, or its headers do not parse.
    NotElf,
    /// A 32-bit ELF.
    Not64Bit,
    /// Built for another machine (the `e_machine` value).
    WrongMachine(u16),
    /// A fixed-address executable: programs must be position-independent.
    NotPositionIndependent,
    /// Neither an executable nor a position-independent executable.
    NotExecutable,
    /// It asks for a dynamic linker (`PT_INTERP`).
    NeedsInterpreter,
    /// It needs shared libraries.
    NeedsLibraries,
    /// It uses thread-local storage, which programs cannot have.
    ThreadLocalStorage,
    /// It has no `.note.nanvix` note: it was not built against libnanvix.
    NotNanvixProgram,
    /// Built for another kcall ABI version.
    AbiVersion {
        /// The version in the note.
        found: u32,
    },
    /// No `PT_LOAD` segment.
    NoLoadableSegment,
    /// A segment's file bytes lie outside the file, or its sizes are inconsistent.
    SegmentOutOfFile,
    /// A segment demands alignment above 64 KiB.
    SegmentAlignment,
    /// The entry point is outside every executable segment.
    EntryOutsideImage,
    /// A relocation of a kind the loader does not apply.
    UnsupportedRelocation(u32),
    /// A relocation that writes outside the image.
    RelocationOutOfImage,
    /// The image's span is larger than [`IMAGE_MAX`].
    TooLarge,
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LoadError::NotElf => write!(formatter, "not an ELF file (bad magic or headers)"),
            LoadError::Not64Bit => write!(formatter, "32-bit ELF; programs are ELF64"),
            LoadError::WrongMachine(machine) => {
                write!(
                    formatter,
                    "built for machine {machine}, not x86_64 ({EM_X86_64})"
                )
            }
            LoadError::NotPositionIndependent => {
                write!(
                    formatter,
                    "fixed-address executable; programs must be static-pie"
                )
            }
            LoadError::NotExecutable => write!(formatter, "not an executable ELF"),
            LoadError::NeedsInterpreter => write!(
                formatter,
                "asks for a dynamic linker (PT_INTERP); programs are static-pie"
            ),
            LoadError::NeedsLibraries => write!(formatter, "needs shared libraries"),
            LoadError::ThreadLocalStorage => {
                write!(formatter, "uses thread-local storage (PT_TLS)")
            }
            LoadError::NotNanvixProgram => write!(
                formatter,
                "no .note.nanvix note: not a program built with libnanvix"
            ),
            LoadError::AbiVersion { found } => write!(
                formatter,
                "built for kcall ABI {found}, this kernel speaks {}",
                crate::ABI_VERSION
            ),
            LoadError::NoLoadableSegment => write!(formatter, "no loadable segment"),
            LoadError::SegmentOutOfFile => write!(formatter, "a segment lies outside the file"),
            LoadError::SegmentAlignment => {
                write!(formatter, "a segment needs alignment above 64 KiB")
            }
            LoadError::EntryOutsideImage => {
                write!(
                    formatter,
                    "the entry point is outside the executable segments"
                )
            }
            LoadError::UnsupportedRelocation(kind) => write!(
                formatter,
                "relocation type {kind} is not supported (only R_X86_64_RELATIVE)"
            ),
            LoadError::RelocationOutOfImage => {
                write!(formatter, "a relocation writes outside the image")
            }
            LoadError::TooLarge => write!(formatter, "image larger than {} MiB", IMAGE_MAX >> 20),
        }
    }
}

/// Why a kernel did not start a program (a boot program, or one the board or
/// another cluster asked an idle warm cluster for).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The board had no ELF for it, in the platform's words.
    Unavailable(String),
    /// Its ELF is not a loadable Nanvix program.
    Load(LoadError),
    /// Its image, stack and heap did not fit the cluster's free memory.
    OutOfMemory {
        /// The bytes that did not fit.
        requested: u64,
    },
    /// No user core was free for its main thread.
    NoCore,
    /// The cluster holds [`PROGRAMS_MAX`](crate::PROGRAMS_MAX) programs already.
    TooMany,
    /// A requested run failed with this errno (`ENOENT`: no such program in the
    /// image; `ENOMEM`; `EAGAIN`: no free program slot or core; `EBUSY`: its slot
    /// is taken).
    Errno(i32),
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Refusal::Unavailable(reason) => formatter.write_str(reason),
            Refusal::Load(error) => write!(formatter, "{error}"),
            Refusal::OutOfMemory { requested } => write!(
                formatter,
                "out of cluster memory: {requested} bytes did not fit the SRAM"
            ),
            Refusal::NoCore => write!(formatter, "no free user core on this cluster"),
            Refusal::TooMany => write!(
                formatter,
                "a cluster holds at most {} programs",
                crate::PROGRAMS_MAX
            ),
            Refusal::Errno(code) => match crate::Errno::from_raw(*code) {
                Some(errno) => write!(formatter, "refused with {}", errno.name()),
                None => write!(formatter, "refused with error {code}"),
            },
        }
    }
}
