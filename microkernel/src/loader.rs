//! The program loader: checks that an ELF is a Nanvix program, then places it.
//!
//! A Nanvix program is a position-independent (`ET_DYN`), statically linked x86_64
//! ELF with no interpreter, no thread-local storage and no needed libraries, whose
//! only relocations are `R_X86_64_RELATIVE` with explicit addends (`DT_RELA`), and which carries a `.note.nanvix` note
//! naming the kcall ABI version it was built for. Anything else is refused with a
//! [`LoadError`] that says why; nothing is written before the checks pass.

use alloc::vec::Vec;
use elf::abi::EI_NIDENT;
use elf::abi::{
    DT_JMPREL, DT_NEEDED, DT_NULL, DT_PLTREL, DT_PLTRELSZ, DT_REL, DT_RELA, DT_RELASZ, DT_RELSZ,
    EM_X86_64, ET_DYN, ET_EXEC, PF_X, PT_DYNAMIC, PT_INTERP, PT_LOAD, PT_NOTE, PT_TLS,
};
use elf::dynamic::DynamicTable;
use elf::endian::LittleEndian;
use elf::file::{Class, ELF64_EHDR_TAILSIZE, FileHeader, parse_ident};
use elf::note::{Note, NoteIterator};
use elf::parse::ParsingIterator;
use elf::relocation::{Rel, Rela};
use elf::segment::{ProgramHeader, SegmentTable};
use nanvix_abi::{ABI_VERSION, NOTE_NAME, NOTE_TYPE_ABI, PROGRAM_ALIGNMENT};
pub use nanvix_abi::{IMAGE_MAX, LoadError};

/// `R_X86_64_RELATIVE`.
const RELATIVE: u32 = 8;
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

/// A parsed ELF64: its file header and program header table, read lazily with the
/// `elf` crate's parsers (which allocate nothing). Its `ElfBytes` reads the section
/// header table too, which a loader never needs: 0.9 KB of the bare-metal kernel.
struct Parsed<'data> {
    ehdr: FileHeader<LittleEndian>,
    headers: Option<SegmentTable<'data, LittleEndian>>,
    data: &'data [u8],
}

impl<'data> Parsed<'data> {
    /// The headers of the ELF64 `data`; `None` if they do not parse. A program
    /// header count of `PN_XNUM` (65 535 or more, the real count in a section
    /// header) is no program's, and its table runs past the file.
    fn parse(data: &'data [u8]) -> Option<Parsed<'data>> {
        let ident = parse_ident::<LittleEndian>(data.get(..EI_NIDENT)?).ok()?;
        let tail = data.get(EI_NIDENT..EI_NIDENT + ELF64_EHDR_TAILSIZE)?;
        let ehdr = FileHeader::parse_tail(ident, tail).ok()?;
        let headers = if ehdr.e_phoff == 0 {
            None
        } else {
            if usize::from(ehdr.e_phentsize) != ELF64_PHDR_SIZE {
                return None;
            }
            let start = usize::try_from(ehdr.e_phoff).ok()?;
            let length = ELF64_PHDR_SIZE.checked_mul(usize::from(ehdr.e_phnum))?;
            let table = data.get(start..start.checked_add(length)?)?;
            Some(SegmentTable::new(LittleEndian, Class::ELF64, table))
        };
        Some(Parsed {
            ehdr,
            headers,
            data,
        })
    }

    /// The program header table, if there is one.
    fn segments(&self) -> Option<SegmentTable<'data, LittleEndian>> {
        self.headers
    }

    /// The file bytes of the segment `header` describes; `None` past the file.
    fn segment_data(&self, header: &ProgramHeader) -> Option<&'data [u8]> {
        let start = usize::try_from(header.p_offset).ok()?;
        let end = start.checked_add(usize::try_from(header.p_filesz).ok()?)?;
        self.data.get(start..end)
    }
}

/// Bytes of an ELF64 program header.
const ELF64_PHDR_SIZE: usize = 56;

/// Checks that `bytes` is a Nanvix program and describes how to place it.
pub fn inspect(bytes: &[u8]) -> Result<ProgramImage, LoadError> {
    if bytes.len() < 5 || &bytes[..4] != b"\x7fELF" {
        return Err(LoadError::NotElf);
    }
    if bytes[4] != 2 {
        return Err(LoadError::Not64Bit);
    }
    let elf = Parsed::parse(bytes).ok_or(LoadError::NotElf)?;
    if elf.ehdr.class != Class::ELF64 {
        return Err(LoadError::Not64Bit);
    }
    if elf.ehdr.e_machine != EM_X86_64 {
        return Err(LoadError::WrongMachine(elf.ehdr.e_machine));
    }
    match elf.ehdr.e_type {
        ET_DYN => {}
        ET_EXEC => return Err(LoadError::NotPositionIndependent),
        _ => return Err(LoadError::NotExecutable),
    }
    let Some(headers) = elf.segments() else {
        return Err(LoadError::NoLoadableSegment);
    };
    if headers.iter().any(|header| header.p_type == PT_INTERP) {
        return Err(LoadError::NeedsInterpreter);
    }
    let dynamic: Dynamic<'_> = match headers.iter().find(|header| header.p_type == PT_DYNAMIC) {
        Some(header) => {
            let entries = elf.segment_data(&header).ok_or(LoadError::NotElf)?;
            Some(DynamicTable::new(LittleEndian, Class::ELF64, entries))
        }
        None => None,
    };
    if dynamic_value(&dynamic, DT_NEEDED).is_some() {
        return Err(LoadError::NeedsLibraries);
    }
    if headers.iter().any(|header| header.p_type == PT_TLS) {
        return Err(LoadError::ThreadLocalStorage);
    }
    check_note(&elf)?;
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
            executable: header.p_flags & PF_X != 0,
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
    let entry = elf.ehdr.e_entry as usize;
    if !segments.iter().any(|segment| {
        segment.executable
            && entry >= segment.address
            && entry < segment.address + segment.memory_size
    }) {
        return Err(LoadError::EntryOutsideImage);
    }
    let relocations = relocations(bytes, &segments, &dynamic, span)?;
    Ok(ProgramImage {
        segments,
        span,
        entry,
        relocations,
    })
}

/// The dynamic section's entries (the `PT_DYNAMIC` segment), if there is one.
type Dynamic<'data> = Option<DynamicTable<'data, LittleEndian>>;

/// The value of the dynamic entry tagged `tag` (before `DT_NULL`), if there is one.
fn dynamic_value(dynamic: &Dynamic<'_>, tag: i64) -> Option<u64> {
    dynamic
        .as_ref()?
        .iter()
        .take_while(|entry| entry.d_tag != DT_NULL)
        .find(|entry| entry.d_tag == tag)
        .map(|entry| entry.d_val())
}

/// The `size` bytes the image holds at `address` (a table the dynamic section
/// names), from the segment whose file bytes cover them.
fn at_address<'data>(
    bytes: &'data [u8],
    segments: &[Segment],
    address: u64,
    size: u64,
) -> Result<&'data [u8], LoadError> {
    let (address, size) = (address as usize, size as usize);
    segments
        .iter()
        .find(|segment| {
            address >= segment.address
                && address
                    .checked_add(size)
                    .is_some_and(|end| end <= segment.address + segment.file_size)
        })
        .map(|segment| {
            let start = segment.file_offset + (address - segment.address);
            &bytes[start..start + size]
        })
        .ok_or(LoadError::RelocationOutOfImage)
}

/// Every relocation the dynamic section names (`DT_RELA`, `DT_REL`, `DT_JMPREL`),
/// each checked to be `R_X86_64_RELATIVE` with an explicit addend, inside the
/// image: `(offset, addend)`.
fn relocations(
    bytes: &[u8],
    segments: &[Segment],
    dynamic: &Dynamic<'_>,
    span: usize,
) -> Result<Vec<(usize, i64)>, LoadError> {
    let table = |address: i64, size: i64| -> Result<Option<&[u8]>, LoadError> {
        match (
            dynamic_value(dynamic, address),
            dynamic_value(dynamic, size),
        ) {
            (Some(address), Some(size)) if size > 0 => {
                at_address(bytes, segments, address, size).map(Some)
            }
            _ => Ok(None),
        }
    };
    // `DT_REL` tables keep their addends in the image: refused (x86_64 uses RELA).
    let implicit = |table: &[u8]| -> Result<(), LoadError> {
        match ParsingIterator::<LittleEndian, Rel>::new(LittleEndian, Class::ELF64, table).next() {
            Some(relocation) => Err(LoadError::UnsupportedRelocation(relocation.r_type)),
            None => Ok(()),
        }
    };
    if let Some(table) = table(DT_REL, DT_RELSZ)? {
        implicit(table)?;
    }
    let mut explicit: [Option<&[u8]>; 2] = [table(DT_RELA, DT_RELASZ)?, None];
    if let Some(plt) = table(DT_JMPREL, DT_PLTRELSZ)? {
        if dynamic_value(dynamic, DT_PLTREL) == Some(DT_RELA as u64) {
            explicit[1] = Some(plt);
        } else {
            implicit(plt)?;
        }
    }
    let mut relocations = Vec::new();
    for table in explicit.into_iter().flatten() {
        for relocation in
            ParsingIterator::<LittleEndian, Rela>::new(LittleEndian, Class::ELF64, table)
        {
            if relocation.r_type != RELATIVE {
                return Err(LoadError::UnsupportedRelocation(relocation.r_type));
            }
            let offset = relocation.r_offset as usize;
            if offset.checked_add(8).is_none_or(|end| end > span) {
                return Err(LoadError::RelocationOutOfImage);
            }
            relocations.push((offset, relocation.r_addend));
        }
    }
    Ok(relocations)
}

/// Checks the program's `.note.nanvix` (in a `PT_NOTE` segment) names this
/// kernel's ABI version.
fn check_note(elf: &Parsed<'_>) -> Result<(), LoadError> {
    let Some(headers) = elf.segments() else {
        return Err(LoadError::NotNanvixProgram);
    };
    for header in headers.iter().filter(|header| header.p_type == PT_NOTE) {
        let Some(data) = elf.segment_data(&header) else {
            return Err(LoadError::NotNanvixProgram);
        };
        // Notes are 4-aligned, 8 only in a segment aligned so (GNU properties); a
        // segment's alignment below 4 (libnanvix's note is a byte array) means 4.
        let align = if header.p_align == 8 { 8 } else { 4 };
        let notes = NoteIterator::new(LittleEndian, Class::ELF64, align, data);
        for note in notes {
            let Note::Unknown(note) = note else {
                continue;
            };
            if note.name_str().is_ok_and(|name| name == NOTE_NAME)
                && note.n_type == u64::from(NOTE_TYPE_ABI)
            {
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

    /// An ELF64 little-endian file header: program headers right after it
    /// (`phnum` of them), no section headers.
    fn elf_header(kind: u16, machine: u16, entry: u64, phnum: u16) -> Vec<u8> {
        let mut elf = Vec::new();
        elf.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        elf.extend_from_slice(&kind.to_le_bytes());
        elf.extend_from_slice(&machine.to_le_bytes());
        elf.extend_from_slice(&1u32.to_le_bytes()); // version
        elf.extend_from_slice(&entry.to_le_bytes());
        elf.extend_from_slice(&64u64.to_le_bytes()); // phoff
        elf.extend_from_slice(&0u64.to_le_bytes()); // shoff
        elf.extend_from_slice(&0u32.to_le_bytes()); // flags
        for value in [64u16, 56, phnum, 64, 0, 0] {
            elf.extend_from_slice(&value.to_le_bytes());
        }
        elf
    }

    /// An ELF64 header plus one program header, with the given fields.
    fn tiny_elf(machine: u16, kind: u16, segment_type: u32) -> Vec<u8> {
        let mut elf = elf_header(kind, machine, 0x1000, 1);
        elf.extend_from_slice(&segment_type.to_le_bytes());
        elf.extend_from_slice(&5u32.to_le_bytes()); // R+X
        for value in [0u64, 0, 0, 120, 0x2000, 4096] {
            elf.extend_from_slice(&value.to_le_bytes());
        }
        elf
    }

    /// What [`program`] puts in its dynamic section and relocation table.
    struct Parts<'a> {
        /// The note's name and ABI version.
        note: (&'a str, u32),
        /// Dynamic entries before the relocation table's (`DT_RELA`, `DT_RELASZ`).
        dynamic: &'a [(i64, u64)],
        /// `(offset, type, addend)` of each relocation.
        relocations: &'a [(u64, u32, i64)],
        /// The relocation table's tags: `(DT_RELA, DT_RELASZ)` or others.
        table_tags: (i64, i64),
    }

    /// A Nanvix program as a linker lays one out: the ELF header, three program
    /// headers (one `PT_LOAD` of the whole file at address 0, executable, 8 KiB in
    /// memory; `PT_NOTE`; `PT_DYNAMIC`), the note, the dynamic section, the
    /// relocation table.
    fn program(parts: &Parts<'_>) -> Vec<u8> {
        let mut note = Vec::new();
        let name = [parts.note.0.as_bytes(), b"\0"].concat();
        note.extend_from_slice(&(name.len() as u32).to_le_bytes());
        note.extend_from_slice(&4u32.to_le_bytes());
        note.extend_from_slice(&NOTE_TYPE_ABI.to_le_bytes());
        note.extend_from_slice(&name);
        note.resize(note.len().next_multiple_of(4), 0);
        note.extend_from_slice(&parts.note.1.to_le_bytes());
        let note_at = 64 + 3 * 56;
        let dynamic_at = note_at + note.len();
        let entries = parts.dynamic.len() + 3;
        let table_at = dynamic_at + entries * 16;
        let table_bytes = parts.relocations.len() * 24;
        let mut dynamic = Vec::new();
        let table = [
            (parts.table_tags.0, table_at as u64),
            (parts.table_tags.1, table_bytes as u64),
            (0, 0),
        ];
        for (tag, value) in parts.dynamic.iter().chain(table.iter()) {
            dynamic.extend_from_slice(&tag.to_le_bytes());
            dynamic.extend_from_slice(&value.to_le_bytes());
        }
        let length = (table_at + table_bytes) as u64;
        let mut elf = elf_header(ET_DYN, EM_X86_64, 0x40, 3);
        let headers = [
            (PT_LOAD, 5u32, 0u64, length, 0x2000u64, 4096u64),
            (
                PT_NOTE,
                4,
                note_at as u64,
                note.len() as u64,
                note.len() as u64,
                4,
            ),
            (
                PT_DYNAMIC,
                6,
                dynamic_at as u64,
                dynamic.len() as u64,
                dynamic.len() as u64,
                8,
            ),
        ];
        for (kind, flags, offset, file_size, memory_size, align) in headers {
            elf.extend_from_slice(&kind.to_le_bytes());
            elf.extend_from_slice(&flags.to_le_bytes());
            for value in [offset, offset, offset, file_size, memory_size, align] {
                elf.extend_from_slice(&value.to_le_bytes());
            }
        }
        elf.extend_from_slice(&note);
        elf.extend_from_slice(&dynamic);
        for (offset, kind, addend) in parts.relocations {
            elf.extend_from_slice(&offset.to_le_bytes());
            elf.extend_from_slice(&u64::from(*kind).to_le_bytes());
            elf.extend_from_slice(&addend.to_le_bytes());
        }
        elf
    }

    /// A well-formed program's parts: two relative relocations.
    const WELL_FORMED: Parts<'static> = Parts {
        note: (NOTE_NAME, ABI_VERSION),
        dynamic: &[],
        relocations: &[(0x1000, RELATIVE, 0x40), (0x1ff8, RELATIVE, -8)],
        table_tags: (DT_RELA, DT_RELASZ),
    };

    #[test]
    fn a_program_is_described_with_its_relocations() {
        let image = inspect(&program(&WELL_FORMED)).expect("a Nanvix program");
        assert_eq!(image.entry, 0x40);
        assert_eq!(image.span, 0x2000);
        assert_eq!(image.relocations, [(0x1000, 0x40), (0x1ff8, -8)]);
        assert_eq!(image.segments.len(), 1);
        assert!(image.segments[0].executable);
    }

    #[test]
    fn a_note_segment_aligned_below_four_is_read_as_four_aligned() {
        // libnanvix's note is a byte array: its segment's alignment is 1.
        let mut elf = program(&WELL_FORMED);
        let note_align = 64 + 56 + 48;
        elf[note_align..note_align + 8].copy_from_slice(&1u64.to_le_bytes());
        assert!(inspect(&elf).is_ok(), "{:?}", inspect(&elf));
    }

    #[test]
    fn notes_and_relocations_the_kernel_cannot_take_are_named() {
        let refused = |parts: Parts<'_>| inspect(&program(&parts)).unwrap_err();
        assert_eq!(
            refused(Parts {
                note: (NOTE_NAME, ABI_VERSION + 1),
                ..WELL_FORMED
            }),
            LoadError::AbiVersion {
                found: ABI_VERSION + 1
            }
        );
        assert_eq!(
            refused(Parts {
                note: ("Other", ABI_VERSION),
                ..WELL_FORMED
            }),
            LoadError::NotNanvixProgram
        );
        assert_eq!(
            refused(Parts {
                dynamic: &[(DT_NEEDED, 1)],
                ..WELL_FORMED
            }),
            LoadError::NeedsLibraries
        );
        // R_X86_64_64, which needs a symbol.
        assert_eq!(
            refused(Parts {
                relocations: &[(0x1000, 1, 0)],
                ..WELL_FORMED
            }),
            LoadError::UnsupportedRelocation(1)
        );
        assert_eq!(
            refused(Parts {
                relocations: &[(0x1ffc, RELATIVE, 0)],
                ..WELL_FORMED
            }),
            LoadError::RelocationOutOfImage
        );
        // Implicit addends (DT_REL): refused even when relative.
        assert_eq!(
            refused(Parts {
                relocations: &[(0x1000, RELATIVE, 0)],
                table_tags: (DT_REL, DT_RELSZ),
                ..WELL_FORMED
            }),
            LoadError::UnsupportedRelocation(RELATIVE)
        );
        // A table whose address lies past the file's bytes.
        let mut cut = program(&WELL_FORMED);
        cut.truncate(cut.len() - 8);
        assert_eq!(inspect(&cut), Err(LoadError::SegmentOutOfFile));
        // A table the loaded segment's file bytes do not cover (its file size cut
        // by the last relocation's 24 bytes).
        let mut uncovered = program(&WELL_FORMED);
        let load_file_size = 64 + 32;
        let covered = (uncovered.len() - 24) as u64;
        uncovered[load_file_size..load_file_size + 8].copy_from_slice(&covered.to_le_bytes());
        assert_eq!(inspect(&uncovered), Err(LoadError::RelocationOutOfImage));
    }

    #[test]
    fn garbage_and_truncated_files_are_not_elf() {
        assert_eq!(inspect(b""), Err(LoadError::NotElf));
        assert_eq!(inspect(b"#!/bin/sh\necho hi\n"), Err(LoadError::NotElf));
        let elf = tiny_elf(EM_X86_64, ET_DYN, PT_LOAD);
        assert_eq!(inspect(&elf[..40]), Err(LoadError::NotElf));
        // A program header table of the wrong entry size, past the file, or of
        // `PN_XNUM` entries (the count in a section header: no program's).
        let with = |at: usize, value: &[u8]| {
            let mut changed = elf.clone();
            changed[at..at + value.len()].copy_from_slice(value);
            inspect(&changed)
        };
        assert_eq!(with(54, &32u16.to_le_bytes()), Err(LoadError::NotElf));
        assert_eq!(
            with(32, &(1u64 << 20).to_le_bytes()),
            Err(LoadError::NotElf)
        );
        assert_eq!(with(56, &0xffffu16.to_le_bytes()), Err(LoadError::NotElf));
        assert_eq!(
            with(32, &0u64.to_le_bytes()),
            Err(LoadError::NoLoadableSegment)
        );
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
