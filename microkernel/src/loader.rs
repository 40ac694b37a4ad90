//! The program loader: checks that an ELF is a Nanvix program, then places it.
//!
//! A Nanvix program is a position-independent (`ET_DYN`), statically linked x86_64
//! ELF with no interpreter, no thread-local storage and no needed libraries, whose
//! only relocations are `R_X86_64_RELATIVE`, and which carries a `.note.nanvix` note
//! naming the kcall ABI version it was built for. Anything else is refused with a
//! [`LoadError`] that says why; nothing is written before the checks pass.

use alloc::vec::Vec;
use goblin::elf::Elf;
use goblin::elf::header::{EM_X86_64, ET_DYN, ET_EXEC};
use goblin::elf::program_header::{PT_DYNAMIC, PT_INTERP, PT_LOAD, PT_NOTE, PT_TLS};
use nanvix_abi::{ABI_VERSION, NOTE_NAME, NOTE_TYPE_ABI, PROGRAM_ALIGNMENT};

/// `R_X86_64_RELATIVE`.
const RELATIVE: u32 = 8;
/// Largest program image the loader accepts (address span).
pub const IMAGE_MAX: usize = 64 << 20;

/// Why an ELF file is not a loadable Nanvix program.
#[derive(Clone, Debug, PartialEq, Eq)]
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
            LoadError::NeedsInterpreter => {
                write!(
                    formatter,
                    "asks for a dynamic linker (PT_INTERP); programs are static-pie"
                )
            }
            LoadError::NeedsLibraries => write!(formatter, "needs shared libraries"),
            LoadError::ThreadLocalStorage => {
                write!(formatter, "uses thread-local storage (PT_TLS)")
            }
            LoadError::NotNanvixProgram => {
                write!(
                    formatter,
                    "no .note.nanvix note: not a program built with libnanvix"
                )
            }
            LoadError::AbiVersion { found } => {
                write!(
                    formatter,
                    "built for kcall ABI {found}, this kernel speaks {ABI_VERSION}"
                )
            }
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
            LoadError::UnsupportedRelocation(kind) => {
                write!(
                    formatter,
                    "relocation type {kind} is not supported (only R_X86_64_RELATIVE)"
                )
            }
            LoadError::RelocationOutOfImage => {
                write!(formatter, "a relocation writes outside the image")
            }
            LoadError::TooLarge => write!(formatter, "image larger than {} MiB", IMAGE_MAX >> 20),
        }
    }
}

/// One loadable segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Offset of its bytes in the file.
    pub file_offset: usize,
    /// Bytes present in the file.
    pub file_size: usize,
    /// Offset from the load base.
    pub address: usize,
    /// Bytes in memory (the rest after `file_size` is zero).
    pub memory_size: usize,
    /// Executable.
    pub executable: bool,
}

/// A checked program, ready to be placed at any 64 KiB-aligned base.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramImage {
    /// Loadable segments.
    pub segments: Vec<Segment>,
    /// Bytes from the base to the end of the last segment, rounded to a page.
    pub span: usize,
    /// Entry offset from the base.
    pub entry: usize,
    /// `(offset, addend)` of every relative relocation.
    pub relocations: Vec<(usize, i64)>,
}

/// Checks that `bytes` is a Nanvix program and describes how to place it.
pub fn inspect(bytes: &[u8]) -> Result<ProgramImage, LoadError> {
    if bytes.len() < 5 || &bytes[..4] != b"\x7fELF" {
        return Err(LoadError::NotElf);
    }
    if bytes[4] != 2 {
        return Err(LoadError::Not64Bit);
    }
    let elf = Elf::parse(bytes).map_err(|_| LoadError::NotElf)?;
    if elf.header.e_machine != EM_X86_64 {
        return Err(LoadError::WrongMachine(elf.header.e_machine));
    }
    match elf.header.e_type {
        ET_DYN => {}
        ET_EXEC => return Err(LoadError::NotPositionIndependent),
        _ => return Err(LoadError::NotExecutable),
    }
    let headers = &elf.program_headers;
    if headers.iter().any(|header| header.p_type == PT_INTERP) {
        return Err(LoadError::NeedsInterpreter);
    }
    if !elf.libraries.is_empty() {
        return Err(LoadError::NeedsLibraries);
    }
    if headers.iter().any(|header| header.p_type == PT_TLS) {
        return Err(LoadError::ThreadLocalStorage);
    }
    check_note(&elf, bytes)?;
    let mut segments = Vec::new();
    for header in headers.iter().filter(|header| header.p_type == PT_LOAD) {
        let file_offset = header.p_offset as usize;
        let file_size = header.p_filesz as usize;
        let memory_size = header.p_memsz as usize;
        if file_offset
            .checked_add(file_size)
            .is_none_or(|end| end > bytes.len())
            || file_size > memory_size
        {
            return Err(LoadError::SegmentOutOfFile);
        }
        if header.p_align as usize > PROGRAM_ALIGNMENT {
            return Err(LoadError::SegmentAlignment);
        }
        if header.p_vaddr as usize > IMAGE_MAX || memory_size > IMAGE_MAX {
            return Err(LoadError::TooLarge);
        }
        segments.push(Segment {
            file_offset,
            file_size,
            address: header.p_vaddr as usize,
            memory_size,
            executable: header.is_executable(),
        });
    }
    if segments.is_empty() {
        return Err(LoadError::NoLoadableSegment);
    }
    let end = segments
        .iter()
        .map(|segment| segment.address + segment.memory_size)
        .max()
        .unwrap_or(0);
    let span = end.next_multiple_of(4096);
    if span > IMAGE_MAX {
        return Err(LoadError::TooLarge);
    }
    let entry = elf.header.e_entry as usize;
    if !segments.iter().any(|segment| {
        segment.executable
            && entry >= segment.address
            && entry < segment.address + segment.memory_size
    }) {
        return Err(LoadError::EntryOutsideImage);
    }
    let mut relocations = Vec::new();
    let has_dynamic = headers.iter().any(|header| header.p_type == PT_DYNAMIC);
    if has_dynamic {
        for relocation in elf
            .dynrelas
            .iter()
            .chain(elf.dynrels.iter())
            .chain(elf.pltrelocs.iter())
        {
            if relocation.r_type != RELATIVE {
                return Err(LoadError::UnsupportedRelocation(relocation.r_type));
            }
            let offset = relocation.r_offset as usize;
            if offset.checked_add(8).is_none_or(|end| end > span) {
                return Err(LoadError::RelocationOutOfImage);
            }
            relocations.push((offset, relocation.r_addend.unwrap_or(0)));
        }
    }
    Ok(ProgramImage {
        segments,
        span,
        entry,
        relocations,
    })
}

fn check_note(elf: &Elf<'_>, bytes: &[u8]) -> Result<(), LoadError> {
    if !elf
        .program_headers
        .iter()
        .any(|header| header.p_type == PT_NOTE)
    {
        return Err(LoadError::NotNanvixProgram);
    }
    let Some(notes) = elf.iter_note_headers(bytes) else {
        return Err(LoadError::NotNanvixProgram);
    };
    for note in notes {
        let Ok(note) = note else {
            return Err(LoadError::NotNanvixProgram);
        };
        if note.name == NOTE_NAME && note.n_type == NOTE_TYPE_ABI {
            let Some(version) = note.desc.get(..4) else {
                return Err(LoadError::NotNanvixProgram);
            };
            let found = u32::from_le_bytes([version[0], version[1], version[2], version[3]]);
            return if found == ABI_VERSION {
                Ok(())
            } else {
                Err(LoadError::AbiVersion { found })
            };
        }
    }
    Err(LoadError::NotNanvixProgram)
}

impl ProgramImage {
    /// Copies the segments of `bytes` into `destination` (which starts at address
    /// `base`, is `span` bytes long and is zeroed here first) and applies the
    /// relocations for that base.
    pub fn place(&self, bytes: &[u8], destination: &mut [u8], base: usize) {
        debug_assert!(destination.len() >= self.span);
        destination.fill(0);
        for segment in &self.segments {
            destination[segment.address..segment.address + segment.file_size].copy_from_slice(
                &bytes[segment.file_offset..segment.file_offset + segment.file_size],
            );
        }
        for &(offset, addend) in &self.relocations {
            let value = (base as i64).wrapping_add(addend) as u64;
            destination[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// An ELF64 header plus one program header, with the given fields.
    fn tiny_elf(machine: u16, kind: u16, segment_type: u32) -> Vec<u8> {
        let mut elf = Vec::new();
        elf.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        elf.extend_from_slice(&kind.to_le_bytes());
        elf.extend_from_slice(&machine.to_le_bytes());
        elf.extend_from_slice(&1u32.to_le_bytes()); // version
        elf.extend_from_slice(&0x1000u64.to_le_bytes()); // entry
        elf.extend_from_slice(&64u64.to_le_bytes()); // phoff
        elf.extend_from_slice(&0u64.to_le_bytes()); // shoff
        elf.extend_from_slice(&0u32.to_le_bytes()); // flags
        for value in [64u16, 56, 1, 64, 0, 0] {
            elf.extend_from_slice(&value.to_le_bytes());
        }
        elf.extend_from_slice(&segment_type.to_le_bytes());
        elf.extend_from_slice(&5u32.to_le_bytes()); // R+X
        for value in [0u64, 0, 0, 120, 0x2000, 4096] {
            elf.extend_from_slice(&value.to_le_bytes());
        }
        elf
    }

    #[test]
    fn garbage_and_truncated_files_are_not_elf() {
        assert_eq!(inspect(b""), Err(LoadError::NotElf));
        assert_eq!(inspect(b"#!/bin/sh\necho hi\n"), Err(LoadError::NotElf));
        let elf = tiny_elf(EM_X86_64, ET_DYN, PT_LOAD);
        assert_eq!(inspect(&elf[..40]), Err(LoadError::NotElf));
    }

    #[test]
    fn wrong_class_machine_and_type_are_named() {
        let mut elf = tiny_elf(EM_X86_64, ET_DYN, PT_LOAD);
        elf[4] = 1;
        assert_eq!(inspect(&elf), Err(LoadError::Not64Bit));
        assert_eq!(
            inspect(&tiny_elf(183, ET_DYN, PT_LOAD)),
            Err(LoadError::WrongMachine(183))
        );
        assert_eq!(
            inspect(&tiny_elf(EM_X86_64, ET_EXEC, PT_LOAD)),
            Err(LoadError::NotPositionIndependent)
        );
        assert_eq!(
            inspect(&tiny_elf(EM_X86_64, 1, PT_LOAD)),
            Err(LoadError::NotExecutable)
        );
        assert_eq!(
            inspect(&tiny_elf(EM_X86_64, ET_DYN, PT_TLS)),
            Err(LoadError::ThreadLocalStorage)
        );
        assert_eq!(
            inspect(&tiny_elf(EM_X86_64, ET_DYN, PT_LOAD)),
            Err(LoadError::NotNanvixProgram)
        );
    }

    #[test]
    fn an_ordinary_linux_executable_is_refused() {
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let error = inspect(&bytes).unwrap_err();
        assert!(
            matches!(
                error,
                LoadError::NeedsInterpreter | LoadError::NotPositionIndependent
            ),
            "{error}"
        );
    }

    #[test]
    fn placing_copies_segments_and_relocates() {
        let image = ProgramImage {
            segments: alloc::vec![Segment {
                file_offset: 0,
                file_size: 4,
                address: 16,
                memory_size: 32,
                executable: true,
            }],
            span: 4096,
            entry: 16,
            relocations: alloc::vec![(32, 0x10)],
        };
        let mut destination = alloc::vec![0xffu8; 4096];
        image.place(b"abcd", &mut destination, 0x10000);
        assert_eq!(&destination[16..20], b"abcd");
        assert_eq!(destination[20], 0);
        assert_eq!(
            u64::from_le_bytes(destination[32..40].try_into().unwrap()),
            0x10010
        );
    }
}
