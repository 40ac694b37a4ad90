//! The file layer's on-disk structures: its header, inodes and directory entries,
//! each encoded to and checked from little-endian bytes.

use crate::device::{BLOCK_SIZE, Block};

/// The file layer's header's first bytes (the data area's first block).
pub const FILES_MAGIC: [u8; 8] = *b"NVXFILES";
/// The file layer's format version.
pub const FILES_VERSION: u32 = 1;
/// Bytes of an inode.
pub const INODE_BYTES: usize = 128;
/// Inodes in a block.
pub const INODES_PER_BLOCK: usize = BLOCK_SIZE / INODE_BYTES;
/// Block numbers an inode holds itself.
pub const DIRECT_BLOCKS: usize = 12;
/// Block numbers in an indirect block.
pub const POINTERS_PER_BLOCK: usize = BLOCK_SIZE / 4;
/// Bytes of a directory entry.
pub const ENTRY_BYTES: usize = 64;
/// Directory entries in a block.
pub const ENTRIES_PER_BLOCK: usize = BLOCK_SIZE / ENTRY_BYTES;
/// The longest name of a directory entry, in bytes.
pub const NAME_MAX: usize = ENTRY_BYTES - 6;
/// The root directory's inode.
pub const ROOT: u32 = 1;
/// The type bits of a mode.
pub const TYPE_MASK: u16 = 0o170_000;
/// The type bits of a regular file.
pub const REGULAR: u16 = 0o100_000;
/// The type bits of a directory.
pub const DIRECTORY: u16 = 0o040_000;
/// The permission bits of a mode (set-user-id, set-group-id, sticky, rwx x 3).
pub const PERMISSION_MASK: u16 = 0o7777;
/// The most blocks a file holds: direct, single and double indirect.
pub const FILE_BLOCKS_MAX: u64 =
    (DIRECT_BLOCKS + POINTERS_PER_BLOCK + POINTERS_PER_BLOCK * POINTERS_PER_BLOCK) as u64;
/// Bytes of the header that its CRC covers.
const HEADER_BYTES: usize = 48;

pub(crate) fn u16_at(block: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([block[at], block[at + 1]])
}

pub(crate) fn u32_at(block: &[u8], at: usize) -> u32 {
    let mut bytes = [0; 4];
    bytes.copy_from_slice(&block[at..at + 4]);
    u32::from_le_bytes(bytes)
}

pub(crate) fn u64_at(block: &[u8], at: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&block[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// Where the file layer's parts lie, from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The header's block (the journal's data area's first).
    pub header: u64,
    /// Inodes (inode 0 is never used).
    pub inode_count: u32,
    /// The block bitmap's first block (one bit a block of the whole disk).
    pub bitmap_start: u64,
    /// Blocks of the bitmap.
    pub bitmap_blocks: u64,
    /// The inode table's first block.
    pub inode_start: u64,
    /// Blocks of the inode table.
    pub inode_blocks: u64,
}

impl Layout {
    /// The layout of a disk of `block_count` blocks whose data area starts at
    /// `header`, with `inode_count` inodes.
    pub fn new(header: u64, block_count: u64, inode_count: u32) -> Layout {
        let bits = (BLOCK_SIZE * 8) as u64;
        let bitmap_blocks = block_count.div_ceil(bits);
        let inode_blocks = u64::from(inode_count).div_ceil(INODES_PER_BLOCK as u64);
        Layout {
            header,
            inode_count,
            bitmap_start: header + 1,
            bitmap_blocks,
            inode_start: header + 1 + bitmap_blocks,
            inode_blocks,
        }
    }

    /// The first block after the file layer's tables: files' blocks start here.
    pub fn first_free(&self) -> u64 {
        self.inode_start + self.inode_blocks
    }

    /// The block and byte offset of inode `number`.
    pub fn inode_place(&self, number: u32) -> (u64, usize) {
        let index = number as usize;
        (
            self.inode_start + (index / INODES_PER_BLOCK) as u64,
            (index % INODES_PER_BLOCK) * INODE_BYTES,
        )
    }

    pub(crate) fn encode(&self) -> Block {
        let mut block = [0; BLOCK_SIZE];
        block[0..8].copy_from_slice(&FILES_MAGIC);
        block[8..12].copy_from_slice(&FILES_VERSION.to_le_bytes());
        block[12..16].copy_from_slice(&self.inode_count.to_le_bytes());
        block[16..24].copy_from_slice(&self.bitmap_start.to_le_bytes());
        block[24..32].copy_from_slice(&self.bitmap_blocks.to_le_bytes());
        block[32..40].copy_from_slice(&self.inode_start.to_le_bytes());
        block[40..48].copy_from_slice(&self.inode_blocks.to_le_bytes());
        let crc = crc32fast::hash(&block[..HEADER_BYTES]);
        block[48..52].copy_from_slice(&crc.to_le_bytes());
        block
    }

    /// The layout in the header `block` at `header`, checked against itself and a
    /// disk of `block_count` blocks.
    pub(crate) fn decode(
        block: &Block,
        header: u64,
        block_count: u64,
    ) -> Result<Layout, &'static str> {
        if block[0..8] != FILES_MAGIC {
            return Err("no file layer header (bad magic)");
        }
        if crc32fast::hash(&block[..HEADER_BYTES]) != u32_at(block, 48) {
            return Err("file layer header checksum");
        }
        if u32_at(block, 8) != FILES_VERSION {
            return Err("file layer version");
        }
        let layout = Layout::new(header, block_count, u32_at(block, 12));
        let stored = Layout {
            header,
            inode_count: layout.inode_count,
            bitmap_start: u64_at(block, 16),
            bitmap_blocks: u64_at(block, 24),
            inode_start: u64_at(block, 32),
            inode_blocks: u64_at(block, 40),
        };
        if stored != layout || layout.inode_count < 2 || layout.first_free() >= block_count {
            return Err("file layer geometry");
        }
        Ok(layout)
    }
}

/// An inode: a file's or directory's type, permissions, owner, size, times and
/// blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inode {
    /// Type and permission bits (0: the inode is free).
    pub mode: u16,
    /// Directory entries naming it (a directory counts its own "." and its
    /// subdirectories' "..").
    pub links: u16,
    /// Owner's user id.
    pub user: u32,
    /// Group id.
    pub group: u32,
    /// Bytes.
    pub size: u64,
    /// Last read, nanoseconds since the Unix epoch.
    pub accessed: u64,
    /// Last change of the contents.
    pub modified: u64,
    /// Last change of the contents or the inode.
    pub changed: u64,
    /// Block numbers of the first blocks (0: a hole).
    pub direct: [u32; DIRECT_BLOCKS],
    /// The block of the next blocks' numbers.
    pub indirect: u32,
    /// The block of blocks of the numbers after.
    pub double: u32,
}

impl Inode {
    /// Whether it is a directory.
    pub fn is_directory(&self) -> bool {
        self.mode & TYPE_MASK == DIRECTORY
    }

    /// Whether it is a regular file.
    pub fn is_regular(&self) -> bool {
        self.mode & TYPE_MASK == REGULAR
    }

    pub(crate) fn encode(&self, bytes: &mut [u8]) {
        bytes[..INODE_BYTES].fill(0);
        bytes[0..2].copy_from_slice(&self.mode.to_le_bytes());
        bytes[2..4].copy_from_slice(&self.links.to_le_bytes());
        bytes[4..8].copy_from_slice(&self.user.to_le_bytes());
        bytes[8..12].copy_from_slice(&self.group.to_le_bytes());
        bytes[12..20].copy_from_slice(&self.size.to_le_bytes());
        bytes[20..28].copy_from_slice(&self.accessed.to_le_bytes());
        bytes[28..36].copy_from_slice(&self.modified.to_le_bytes());
        bytes[36..44].copy_from_slice(&self.changed.to_le_bytes());
        for (index, block) in self.direct.iter().enumerate() {
            bytes[44 + 4 * index..48 + 4 * index].copy_from_slice(&block.to_le_bytes());
        }
        bytes[92..96].copy_from_slice(&self.indirect.to_le_bytes());
        bytes[96..100].copy_from_slice(&self.double.to_le_bytes());
    }

    pub(crate) fn decode(bytes: &[u8]) -> Inode {
        let mut direct = [0; DIRECT_BLOCKS];
        for (index, block) in direct.iter_mut().enumerate() {
            *block = u32_at(bytes, 44 + 4 * index);
        }
        Inode {
            mode: u16_at(bytes, 0),
            links: u16_at(bytes, 2),
            user: u32_at(bytes, 4),
            group: u32_at(bytes, 8),
            size: u64_at(bytes, 12),
            accessed: u64_at(bytes, 20),
            modified: u64_at(bytes, 28),
            changed: u64_at(bytes, 36),
            direct,
            indirect: u32_at(bytes, 92),
            double: u32_at(bytes, 96),
        }
    }
}

/// A directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The inode it names (0: a free slot).
    pub inode: u32,
    /// Its name's bytes.
    pub name: alloc::vec::Vec<u8>,
}

impl Entry {
    pub(crate) fn encode(inode: u32, name: &[u8], bytes: &mut [u8]) {
        bytes[..ENTRY_BYTES].fill(0);
        bytes[0..4].copy_from_slice(&inode.to_le_bytes());
        bytes[5] = name.len() as u8;
        bytes[6..6 + name.len()].copy_from_slice(name);
    }

    /// The entry in `bytes`, `None` when free; a name longer than the slot is cut
    /// to it (the check reports such entries).
    pub(crate) fn decode(bytes: &[u8]) -> Option<Entry> {
        let inode = u32_at(bytes, 0);
        if inode == 0 {
            return None;
        }
        let length = usize::from(bytes[5]).min(NAME_MAX);
        Some(Entry {
            inode,
            name: bytes[6..6 + length].to_vec(),
        })
    }
}
