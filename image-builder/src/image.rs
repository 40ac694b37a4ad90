//! The image file: one file holding everything a board needs to boot a system.
//!
//! ```text
//! header   (64 bytes)  magic "NANVIXIM", format version, section count,
//!                      table offset, SHA-256 of the section table
//! table    (64 bytes per section)  kind, flags, offset, length, name,
//!                      first 16 bytes of the section's SHA-256
//! sections (8-byte aligned, in table order)
//! ```
//!
//! All integers are little-endian. Every section carries a checksum, and the table
//! carries one in the header, so a truncated or corrupt image is refused before
//! anything boots. A section kind this reader does not know is skipped if its flags
//! say it is optional and refused if they say it is required: later formats can add
//! sections without breaking old readers, and an old reader never boots an image it
//! cannot understand. Sections are written in a fixed order, so the same inputs
//! always give the same bytes.

use sha2::{Digest, Sha256};

/// First bytes of every image.
pub const MAGIC: &[u8; 8] = b"NANVIXIM";
/// The format version this builder writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes of the header.
pub const HEADER_BYTES: usize = 64;
/// Bytes of one table entry.
pub const ENTRY_BYTES: usize = 64;
/// Longest section name.
pub const NAME_MAX: usize = 24;
/// Flag: a reader that does not know this section's kind must refuse the image.
pub const FLAG_REQUIRED: u32 = 1;
/// Sections an image may have at most (a bound for corrupt counts).
pub const SECTIONS_MAX: u32 = 4096;

/// What a section holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SectionKind {
    /// The system manifest as written (TOML text).
    Manifest,
    /// The board file the manifest names (TOML text).
    Board,
    /// A cluster kernel executable; the name is its platform (`hosted`).
    Kernel,
    /// A program ELF; the name is the program's.
    Program,
    /// The root file system (reserved: empty until the file system exists).
    RootFileSystem,
    /// The build revision (text, e.g. a git commit).
    Revision,
    /// A kind this reader does not know (kept only for optional sections).
    Unknown(u32),
}

impl SectionKind {
    /// The number stored in the table.
    pub fn code(self) -> u32 {
        match self {
            SectionKind::Manifest => 1,
            SectionKind::Board => 2,
            SectionKind::Kernel => 3,
            SectionKind::Program => 4,
            SectionKind::RootFileSystem => 5,
            SectionKind::Revision => 6,
            SectionKind::Unknown(code) => code,
        }
    }

    /// The kind for a stored number.
    pub fn from_code(code: u32) -> SectionKind {
        match code {
            1 => SectionKind::Manifest,
            2 => SectionKind::Board,
            3 => SectionKind::Kernel,
            4 => SectionKind::Program,
            5 => SectionKind::RootFileSystem,
            6 => SectionKind::Revision,
            other => SectionKind::Unknown(other),
        }
    }

    /// A word for humans.
    pub fn label(self) -> String {
        match self {
            SectionKind::Manifest => "manifest".into(),
            SectionKind::Board => "board".into(),
            SectionKind::Kernel => "kernel".into(),
            SectionKind::Program => "program".into(),
            SectionKind::RootFileSystem => "rootfs".into(),
            SectionKind::Revision => "revision".into(),
            SectionKind::Unknown(code) => format!("unknown({code})"),
        }
    }
}

/// One section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// What it holds.
    pub kind: SectionKind,
    /// Its name (a program's name, a kernel's platform, or empty).
    pub name: String,
    /// Whether a reader that does not know its kind must refuse the image.
    pub required: bool,
    /// Its bytes.
    pub data: Vec<u8>,
}

impl Section {
    /// A required section of a known kind.
    pub fn new(kind: SectionKind, name: &str, data: Vec<u8>) -> Section {
        Section {
            kind,
            name: name.to_string(),
            required: true,
            data,
        }
    }

    /// Hex of the first 16 bytes of the SHA-256 of the data, as stored.
    pub fn checksum_hex(&self) -> String {
        hex::encode(checksum(&self.data))
    }
}

/// A decoded (or to-be-encoded) image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Image {
    /// Sections in file order.
    pub sections: Vec<Section>,
}

/// Why bytes are not a usable image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// Shorter than a header, or the table does not fit the file.
    Truncated {
        /// Bytes needed at least.
        needed: u64,
        /// Bytes present.
        length: u64,
    },
    /// Does not start with the magic.
    NotAnImage,
    /// A format version this reader does not read.
    UnsupportedVersion(u32),
    /// The section count is absurd.
    TooManySections(u32),
    /// The table does not match its checksum.
    TableChecksum,
    /// A section lies outside the file.
    SectionOutOfBounds {
        /// Its position in the table.
        position: usize,
    },
    /// A section does not match its checksum.
    SectionChecksum {
        /// Its kind and name, for humans.
        section: String,
    },
    /// A required section of a kind this reader does not know.
    UnknownRequiredSection(u32),
    /// A name that is not UTF-8 or is too long.
    BadName {
        /// Its position in the table.
        position: usize,
    },
    /// Two sections of the same kind and name.
    DuplicateSection(String),
    /// A section the image must have is missing.
    MissingSection(&'static str),
}

impl std::fmt::Display for ImageError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageError::Truncated { needed, length } => {
                write!(
                    formatter,
                    "truncated image: {length} bytes, needs at least {needed}"
                )
            }
            ImageError::NotAnImage => write!(formatter, "not a Nanvix image (bad magic)"),
            ImageError::UnsupportedVersion(version) => write!(
                formatter,
                "image format version {version} is not supported (this nanvix reads {FORMAT_VERSION})"
            ),
            ImageError::TooManySections(count) => {
                write!(
                    formatter,
                    "corrupt image: {count} sections (at most {SECTIONS_MAX})"
                )
            }
            ImageError::TableChecksum => {
                write!(
                    formatter,
                    "corrupt image: the section table does not match its checksum"
                )
            }
            ImageError::SectionOutOfBounds { position } => {
                write!(
                    formatter,
                    "corrupt image: section {position} lies outside the file"
                )
            }
            ImageError::SectionChecksum { section } => {
                write!(
                    formatter,
                    "corrupt image: section {section} does not match its checksum"
                )
            }
            ImageError::UnknownRequiredSection(code) => write!(
                formatter,
                "the image has a required section of unknown kind {code}: it needs a newer nanvix"
            ),
            ImageError::BadName { position } => {
                write!(
                    formatter,
                    "corrupt image: section {position} has a bad name"
                )
            }
            ImageError::DuplicateSection(section) => {
                write!(formatter, "corrupt image: section {section} appears twice")
            }
            ImageError::MissingSection(what) => {
                write!(formatter, "the image has no {what} section")
            }
        }
    }
}

impl std::error::Error for ImageError {}

fn checksum(data: &[u8]) -> [u8; 16] {
    let digest = Sha256::digest(data);
    let mut short = [0u8; 16];
    short.copy_from_slice(&digest[..16]);
    short
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap_or([0; 4]))
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().unwrap_or([0; 8]))
}

impl Image {
    /// The first section of `kind` (and `name`, if given).
    pub fn find(&self, kind: SectionKind, name: Option<&str>) -> Option<&Section> {
        self.sections
            .iter()
            .find(|section| section.kind == kind && name.is_none_or(|name| section.name == name))
    }

    /// Every section of `kind`.
    pub fn all(&self, kind: SectionKind) -> impl Iterator<Item = &Section> {
        self.sections
            .iter()
            .filter(move |section| section.kind == kind)
    }

    /// The image's bytes. Names longer than [`NAME_MAX`] are an error of the caller
    /// (the builder only uses program names and platform names).
    pub fn encode(&self) -> Vec<u8> {
        let count = self.sections.len();
        let table_bytes = count * ENTRY_BYTES;
        let mut offset = (HEADER_BYTES + table_bytes) as u64;
        let mut table = Vec::with_capacity(table_bytes);
        for section in &self.sections {
            offset = offset.next_multiple_of(8);
            let mut entry = [0u8; ENTRY_BYTES];
            entry[0..4].copy_from_slice(&section.kind.code().to_le_bytes());
            let flags = if section.required { FLAG_REQUIRED } else { 0 };
            entry[4..8].copy_from_slice(&flags.to_le_bytes());
            entry[8..16].copy_from_slice(&offset.to_le_bytes());
            entry[16..24].copy_from_slice(&(section.data.len() as u64).to_le_bytes());
            let name = section.name.as_bytes();
            let name_length = name.len().min(NAME_MAX);
            entry[24..24 + name_length].copy_from_slice(&name[..name_length]);
            entry[48..64].copy_from_slice(&checksum(&section.data));
            table.extend_from_slice(&entry);
            offset += section.data.len() as u64;
        }
        let mut bytes = Vec::with_capacity(offset as usize);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(count as u32).to_le_bytes());
        bytes.extend_from_slice(&(HEADER_BYTES as u64).to_le_bytes());
        bytes.extend_from_slice(&checksum(&table));
        bytes.resize(HEADER_BYTES, 0);
        bytes.extend_from_slice(&table);
        for section in &self.sections {
            bytes.resize(bytes.len().next_multiple_of(8), 0);
            bytes.extend_from_slice(&section.data);
        }
        bytes
    }

    /// Decodes and checks an image; optional sections of unknown kinds are kept as
    /// [`SectionKind::Unknown`].
    pub fn decode(bytes: &[u8]) -> Result<Image, ImageError> {
        let length = bytes.len() as u64;
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
                ImageError::Truncated {
                    needed: HEADER_BYTES as u64,
                    length,
                }
            } else {
                ImageError::NotAnImage
            });
        }
        if bytes.len() < HEADER_BYTES {
            return Err(ImageError::Truncated {
                needed: HEADER_BYTES as u64,
                length,
            });
        }
        let version = u32_at(bytes, 8);
        if version != FORMAT_VERSION {
            return Err(ImageError::UnsupportedVersion(version));
        }
        let count = u32_at(bytes, 12);
        if count > SECTIONS_MAX {
            return Err(ImageError::TooManySections(count));
        }
        let table_offset = u64_at(bytes, 16);
        let table_end = table_offset.saturating_add(count as u64 * ENTRY_BYTES as u64);
        if table_offset < HEADER_BYTES as u64 || table_end > length {
            return Err(ImageError::Truncated {
                needed: table_end,
                length,
            });
        }
        let table = &bytes[table_offset as usize..table_end as usize];
        if checksum(table) != bytes[24..40] {
            return Err(ImageError::TableChecksum);
        }
        let mut sections: Vec<Section> = Vec::with_capacity(count as usize);
        for (position, entry) in table.chunks_exact(ENTRY_BYTES).enumerate() {
            let kind = SectionKind::from_code(u32_at(entry, 0));
            let required = u32_at(entry, 4) & FLAG_REQUIRED != 0;
            let offset = u64_at(entry, 8);
            let size = u64_at(entry, 16);
            let name_bytes = &entry[24..24 + NAME_MAX];
            let name_length = name_bytes
                .iter()
                .position(|byte| *byte == 0)
                .unwrap_or(NAME_MAX);
            let name = std::str::from_utf8(&name_bytes[..name_length])
                .map_err(|_| ImageError::BadName { position })?
                .to_string();
            let end = offset.checked_add(size).filter(|end| *end <= length);
            let Some(end) = end else {
                return Err(ImageError::SectionOutOfBounds { position });
            };
            if offset < table_end {
                return Err(ImageError::SectionOutOfBounds { position });
            }
            let data = &bytes[offset as usize..end as usize];
            let label = format!("{} `{name}`", kind.label());
            if checksum(data) != entry[48..64] {
                return Err(ImageError::SectionChecksum { section: label });
            }
            if let SectionKind::Unknown(code) = kind
                && required
            {
                return Err(ImageError::UnknownRequiredSection(code));
            }
            if sections
                .iter()
                .any(|other| other.kind == kind && other.name == name)
            {
                return Err(ImageError::DuplicateSection(label));
            }
            sections.push(Section {
                kind,
                name,
                required,
                data: data.to_vec(),
            });
        }
        Ok(Image { sections })
    }
}

/// Whether `bytes` start like an image (used to tell images from manifests).
pub fn looks_like_image(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Image {
        Image {
            sections: vec![
                Section::new(SectionKind::Manifest, "", b"version = 1\n".to_vec()),
                Section::new(
                    SectionKind::Kernel,
                    "hosted",
                    vec![0x7f, b'E', b'L', b'F', 1, 2, 3],
                ),
                Section::new(SectionKind::Program, "hello", vec![9; 1000]),
                Section::new(SectionKind::RootFileSystem, "", Vec::new()),
                Section::new(SectionKind::Revision, "", b"abc123".to_vec()),
            ],
        }
    }

    /// Recomputes the table checksum after a test edited the table on purpose.
    fn reseal_table(bytes: &mut [u8]) {
        let count = u32_at(bytes, 12) as usize;
        let table = checksum(&bytes[HEADER_BYTES..HEADER_BYTES + count * ENTRY_BYTES]);
        bytes[24..40].copy_from_slice(&table);
    }

    #[test]
    fn an_image_round_trips_and_encodes_deterministically() {
        let image = sample();
        let bytes = image.encode();
        assert_eq!(Image::decode(&bytes).unwrap(), image);
        assert_eq!(sample().encode(), bytes, "same inputs, same bytes");
        assert!(looks_like_image(&bytes));
        assert!(!looks_like_image(b"version = 1"));
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = sample().encode();
        for length in 0..bytes.len() {
            let error = Image::decode(&bytes[..length]).unwrap_err();
            assert!(
                matches!(
                    error,
                    ImageError::Truncated { .. } | ImageError::SectionOutOfBounds { .. }
                ),
                "length {length}: {error}"
            );
        }
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let bytes = sample().encode();
        for position in 0..bytes.len() {
            let mut corrupt = bytes.clone();
            corrupt[position] ^= 0x40;
            let decoded = Image::decode(&corrupt);
            // Padding bytes between sections carry nothing; everything else counts.
            if let Ok(image) = &decoded {
                assert_eq!(
                    image,
                    &sample(),
                    "byte {position} changed the meaning silently"
                );
            }
        }
    }

    #[test]
    fn bad_magic_version_and_counts_are_named() {
        let mut bytes = sample().encode();
        assert_eq!(
            Image::decode(b"#!/bin/sh\n").unwrap_err(),
            ImageError::NotAnImage
        );
        bytes[8] = 2;
        assert_eq!(
            Image::decode(&bytes).unwrap_err(),
            ImageError::UnsupportedVersion(2)
        );
        bytes[8] = 1;
        bytes[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            Image::decode(&bytes).unwrap_err(),
            ImageError::TooManySections(u32::MAX)
        );
    }

    #[test]
    fn a_corrupt_section_is_named() {
        let image = sample();
        let mut bytes = image.encode();
        let program_offset = u64_at(&bytes, HEADER_BYTES + 2 * ENTRY_BYTES + 8) as usize;
        bytes[program_offset + 10] ^= 1;
        assert_eq!(
            Image::decode(&bytes).unwrap_err(),
            ImageError::SectionChecksum {
                section: "program `hello`".into()
            }
        );
    }

    #[test]
    fn unknown_sections_are_skipped_when_optional_and_refused_when_required() {
        let mut image = sample();
        image.sections.push(Section {
            kind: SectionKind::Unknown(77),
            name: "future".into(),
            required: false,
            data: b"later".to_vec(),
        });
        assert_eq!(Image::decode(&image.encode()).unwrap(), image);
        image.sections.last_mut().unwrap().required = true;
        assert_eq!(
            Image::decode(&image.encode()).unwrap_err(),
            ImageError::UnknownRequiredSection(77)
        );
    }

    #[test]
    fn duplicate_sections_and_out_of_bounds_offsets_are_refused() {
        let mut image = sample();
        image
            .sections
            .push(Section::new(SectionKind::Program, "hello", vec![1]));
        assert_eq!(
            Image::decode(&image.encode()).unwrap_err(),
            ImageError::DuplicateSection("program `hello`".into())
        );
        let mut bytes = sample().encode();
        let entry = HEADER_BYTES + ENTRY_BYTES;
        bytes[entry + 8..entry + 16].copy_from_slice(&(u64::MAX - 2).to_le_bytes());
        reseal_table(&mut bytes);
        assert_eq!(
            Image::decode(&bytes).unwrap_err(),
            ImageError::SectionOutOfBounds { position: 1 }
        );
        let mut bytes = sample().encode();
        bytes[entry + 8..entry + 16].copy_from_slice(&0u64.to_le_bytes());
        reseal_table(&mut bytes);
        assert_eq!(
            Image::decode(&bytes).unwrap_err(),
            ImageError::SectionOutOfBounds { position: 1 }
        );
    }
}
