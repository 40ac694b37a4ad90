//! The file layer: inodes, a block bitmap and directories in the journal's data
//! area. Every operation is one journal transaction (a large write, one a chunk),
//! so after a crash each is on the disk whole or not at all, and every one that
//! returned is there. Operations take inode numbers; [`FileSystem::resolve`] turns
//! a path into one, checking search permission on the way.

use crate::device::{BLOCK_SIZE, Block, BlockDevice};
use crate::journal::{Journal, JournalError, TRANSACTION_BLOCKS_MAX, Transaction};
use crate::layout::{
    DIRECT_BLOCKS, DIRECTORY, ENTRIES_PER_BLOCK, ENTRY_BYTES, Entry, FILE_BLOCKS_MAX, INODE_BYTES,
    INODES_PER_BLOCK, Inode, Layout, NAME_MAX, PERMISSION_MASK, POINTERS_PER_BLOCK, REGULAR, ROOT,
    u32_at,
};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

/// Why a file operation failed (each maps to a POSIX errno).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsError {
    /// The journal or the device failed.
    Journal(JournalError),
    /// No such file or directory (ENOENT).
    NotFound,
    /// The name exists (EEXIST).
    Exists,
    /// A path component, or the operation's directory, is not a directory
    /// (ENOTDIR).
    NotDirectory,
    /// A directory where a file was expected (EISDIR).
    IsDirectory,
    /// The directory is not empty (ENOTEMPTY).
    NotEmpty,
    /// A name longer than [`NAME_MAX`] bytes (ENAMETOOLONG).
    NameTooLong,
    /// An empty name, ".", "..", a name with '/' or NUL, a relative path, or a
    /// directory moved under itself (EINVAL).
    Invalid,
    /// No free block or inode (ENOSPC).
    NoSpace,
    /// Past the largest file (EFBIG).
    TooLarge,
    /// The caller lacks the permission (EACCES).
    Denied,
    /// The disk contradicts itself.
    Corrupt(&'static str),
}

impl From<JournalError> for FsError {
    fn from(error: JournalError) -> FsError {
        FsError::Journal(error)
    }
}

impl core::fmt::Display for FsError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FsError::Journal(error) => write!(formatter, "{error}"),
            FsError::NotFound => formatter.write_str("no such file or directory"),
            FsError::Exists => formatter.write_str("file exists"),
            FsError::NotDirectory => formatter.write_str("not a directory"),
            FsError::IsDirectory => formatter.write_str("is a directory"),
            FsError::NotEmpty => formatter.write_str("directory not empty"),
            FsError::NameTooLong => formatter.write_str("file name too long"),
            FsError::Invalid => formatter.write_str("invalid argument"),
            FsError::NoSpace => formatter.write_str("no space left on device"),
            FsError::TooLarge => formatter.write_str("file too large"),
            FsError::Denied => formatter.write_str("permission denied"),
            FsError::Corrupt(what) => write!(formatter, "corrupt: {what}"),
        }
    }
}

/// Who asks: a user and the groups it is in (user 0 may do anything).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// User id.
    pub user: u32,
    /// Group ids.
    pub groups: Vec<u32>,
}

impl Caller {
    /// The superuser.
    pub fn root() -> Caller {
        Caller {
            user: 0,
            groups: vec![0],
        }
    }
}

/// Permission bits asked for.
pub mod access {
    /// Read (a file's bytes, a directory's names).
    pub const READ: u16 = 4;
    /// Write (a file's bytes, a directory's entries).
    pub const WRITE: u16 = 2;
    /// Execute a file, search a directory.
    pub const EXECUTE: u16 = 1;
}

/// What `stat` tells of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Inode number.
    pub inode: u32,
    /// The inode's fields.
    pub fields: Inode,
    /// Blocks it holds (data and indirect).
    pub blocks: u64,
}

/// A problem the file layer's check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileProblem {
    /// Reading the disk failed, or a structure on it did not decode.
    Unreadable(FsError),
    /// A directory entry names an inode out of range or free.
    Dangling {
        /// The directory.
        directory: u32,
        /// The entry's name.
        name: Vec<u8>,
    },
    /// A directory's "." or ".." is missing or wrong.
    BadDots(u32),
    /// A directory reached by two names (or a cycle).
    DirectoryTwice(u32),
    /// An inode's link count differs from the entries naming it.
    Links {
        /// The inode.
        inode: u32,
        /// What it says.
        stored: u16,
        /// Entries naming it.
        counted: u32,
    },
    /// An inode in use that no directory names.
    Orphan(u32),
    /// A block held twice (by two files, or twice by one).
    BlockTwice(u32),
    /// A block outside the files' area held by a file.
    BlockOutside(u32),
    /// A block held by a file but free in the bitmap.
    BlockFree(u64),
    /// A block taken in the bitmap that nothing holds.
    BlockLeaked(u64),
}

impl core::fmt::Display for FileProblem {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FileProblem::Unreadable(error) => write!(formatter, "unreadable: {error}"),
            FileProblem::Dangling { directory, name } => write!(
                formatter,
                "directory {directory}: entry {:?} names no inode in use",
                alloc::string::String::from_utf8_lossy(name)
            ),
            FileProblem::BadDots(directory) => {
                write!(formatter, "directory {directory}: wrong . or ..")
            }
            FileProblem::DirectoryTwice(directory) => {
                write!(formatter, "directory {directory} is reached twice")
            }
            FileProblem::Links {
                inode,
                stored,
                counted,
            } => write!(
                formatter,
                "inode {inode}: link count {stored}, {counted} entries name it"
            ),
            FileProblem::Orphan(inode) => write!(formatter, "inode {inode} is in use, unnamed"),
            FileProblem::BlockTwice(block) => write!(formatter, "block {block} is held twice"),
            FileProblem::BlockOutside(block) => {
                write!(formatter, "block {block} is outside the files' area")
            }
            FileProblem::BlockFree(block) => {
                write!(formatter, "block {block} is held but free in the bitmap")
            }
            FileProblem::BlockLeaked(block) => {
                write!(
                    formatter,
                    "block {block} is taken in the bitmap, held by nothing"
                )
            }
        }
    }
}

/// Metadata blocks one chunk of a write may change beside its data: bitmap blocks,
/// the inode's block, indirect blocks.
const CHUNK_METADATA_MAX: u64 = 8;
/// The most data blocks one transaction of a write carries.
const CHUNK_BLOCKS_MAX: u64 = 256;
/// The fewest journal blocks a file system needs: a chunk of one block.
pub const FILES_JOURNAL_MIN: u64 = 2 + CHUNK_METADATA_MAX + 1;

/// A file system on a journal.
#[derive(Debug)]
pub struct FileSystem<D: BlockDevice> {
    journal: Journal<D>,
    layout: Layout,
    /// Where the next block allocation starts looking.
    next_block: u64,
    /// Each operation is durable when it returns (the default); else only once
    /// [`sync`](FileSystem::sync) returns.
    synchronous: bool,
    /// Files held open by the layer above, with how many holds each: one whose
    /// last name goes stays (an orphan, with no links) until its last hold goes.
    held: BTreeMap<u32, u32>,
}

/// Pointer blocks a read keeps at once.
const POINTER_CACHE_BLOCKS: usize = 4;

/// Where a directory entry lies: its block and byte offset.
type Slot = (u64, usize);

/// Reads block `number` as `transaction` leaves it.
fn block_in<D: BlockDevice>(
    journal: &mut Journal<D>,
    transaction: &Transaction,
    number: u64,
) -> Result<Box<Block>, FsError> {
    if let Some(block) = transaction.written(number) {
        return Ok(Box::new(*block));
    }
    let mut block = zeroed_block();
    journal.read(number, &mut block)?;
    Ok(block)
}

/// Runs `f` on block `number` as `transaction` leaves it (without a copy when the
/// transaction writes it).
fn with_block<D: BlockDevice, T>(
    journal: &mut Journal<D>,
    transaction: &Transaction,
    number: u64,
    f: impl FnOnce(&Block) -> T,
) -> Result<T, FsError> {
    match transaction.written(number) {
        Some(block) => Ok(f(block)),
        None => Ok(f(&*block_in(journal, transaction, number)?)),
    }
}

/// Changes block `number` with `f` in `transaction` (in place when the
/// transaction writes it already, through the journal either way).
fn update_block<D: BlockDevice>(
    journal: &mut Journal<D>,
    transaction: &mut Transaction,
    number: u64,
    f: impl FnOnce(&mut Block),
) -> Result<(), FsError> {
    if let Some(block) = transaction.written_mut(number) {
        f(block);
        return Ok(());
    }
    let mut block = block_in(journal, transaction, number)?;
    f(&mut block);
    transaction.write(number, &block);
    Ok(())
}

/// What a block is taken for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Use {
    /// Pointers or directory entries: journaled, and zeroed when taken.
    Metadata,
    /// File bytes: written whole in place by the caller, so not zeroed.
    FileBytes,
}

/// A block of zeroes on the heap: blocks stay off the stack, so a server's deepest
/// path (a truncate freeing double indirect blocks) holds a few pointers, not a few
/// 4 KiB arrays.
fn zeroed_block() -> Box<Block> {
    Box::new([0; BLOCK_SIZE])
}

/// Marks `inode`'s contents changed at `now` (its modification and change times).
fn touch(inode: &mut Inode, now: u64) {
    inode.modified = now;
    inode.changed = now;
}

/// Checks a name for a directory entry.
fn check_name(name: &[u8]) -> Result<(), FsError> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        return Err(FsError::Invalid);
    }
    if name.len() > NAME_MAX {
        return Err(FsError::NameTooLong);
    }
    Ok(())
}

impl<D: BlockDevice> FileSystem<D> {
    /// Formats `device`: a journal of `journal_blocks`, `inode_count` inodes, and
    /// an empty root directory owned by `owner` (user, group) with mode 0755.
    pub fn format(
        device: D,
        journal_blocks: u64,
        inode_count: u32,
        owner: (u32, u32),
        now: u64,
    ) -> Result<FileSystem<D>, FsError> {
        if journal_blocks < FILES_JOURNAL_MIN || inode_count < 2 {
            return Err(FsError::Journal(JournalError::TooSmall));
        }
        let mut journal = Journal::format(device, journal_blocks)?;
        let layout = Layout::new(journal.data_start(), journal.block_count(), inode_count);
        // The tables and one block for the root directory must fit.
        if layout.first_free() + 1 > journal.block_count() {
            return Err(FsError::Journal(JournalError::TooSmall));
        }
        // The tables, in as many transactions as the journal needs; the header
        // last, so that a format cut short does not mount.
        let room = (TRANSACTION_BLOCKS_MAX as u64).min(journal_blocks - 2) as usize;
        let mut transaction = Transaction::new();
        let add =
            |journal: &mut Journal<D>, transaction: &mut Transaction, number, block: &Block| {
                if transaction.len() >= room {
                    journal.commit(transaction)?;
                    *transaction = Transaction::new();
                }
                transaction.write(number, block);
                Ok::<(), FsError>(())
            };
        // The inode table starts zeroed (every inode free).
        let zero = [0; BLOCK_SIZE];
        for block in layout.inode_start..layout.first_free() {
            add(&mut journal, &mut transaction, block, &zero)?;
        }
        // The tables' blocks are taken, and the bits past the disk's end.
        for bitmap in 0..layout.bitmap_blocks {
            let mut block = [0; BLOCK_SIZE];
            let first = bitmap * (BLOCK_SIZE as u64 * 8);
            for number in first..(first + BLOCK_SIZE as u64 * 8) {
                if number < layout.first_free() || number >= journal.block_count() {
                    let bit = number - first;
                    block[(bit / 8) as usize] |= 1 << (bit % 8);
                }
            }
            add(
                &mut journal,
                &mut transaction,
                layout.bitmap_start + bitmap,
                &block,
            )?;
        }
        add(
            &mut journal,
            &mut transaction,
            layout.header,
            &layout.encode(),
        )?;
        journal.commit(&transaction)?;
        let mut files = FileSystem {
            journal,
            layout,
            next_block: layout.first_free(),
            synchronous: true,
            held: BTreeMap::new(),
        };
        let mut transaction = Transaction::new();
        let root = Inode {
            mode: DIRECTORY | 0o755,
            links: 2,
            user: owner.0,
            group: owner.1,
            accessed: now,
            modified: now,
            changed: now,
            ..Inode::default()
        };
        files.put_inode(&mut transaction, ROOT, &root)?;
        files.start_directory(&mut transaction, ROOT, ROOT)?;
        files.journal.commit(&transaction)?;
        Ok(files)
    }

    /// Mounts the file system on `device` (replaying its journal).
    pub fn mount(device: D) -> Result<FileSystem<D>, FsError> {
        let (mut journal, _) = Journal::mount(device)?;
        if journal.journal_blocks() < FILES_JOURNAL_MIN {
            return Err(FsError::Corrupt("journal too small for files"));
        }
        let mut header = [0; BLOCK_SIZE];
        let start = journal.data_start();
        journal.read(start, &mut header)?;
        let layout =
            Layout::decode(&header, start, journal.block_count()).map_err(FsError::Corrupt)?;
        let mut files = FileSystem {
            journal,
            layout,
            next_block: layout.first_free(),
            synchronous: true,
            held: BTreeMap::new(),
        };
        files.free_orphans()?;
        Ok(files)
    }

    /// Frees every file with no name left (an orphan that was open when the disk
    /// went down): what its last close would have done. Durable when it returns.
    fn free_orphans(&mut self) -> Result<(), FsError> {
        let blocks = self.layout.inode_blocks as usize;
        let mut table = vec![0u8; blocks.min(32) * BLOCK_SIZE];
        let mut orphans = Vec::new();
        let mut first = 0;
        while first < blocks {
            let count = (blocks - first).min(32);
            let piece = &mut table[..count * BLOCK_SIZE];
            self.journal
                .read_run(self.layout.inode_start + first as u64, piece)?;
            for (index, bytes) in piece.chunks_exact(INODE_BYTES).enumerate() {
                let number = (first * INODES_PER_BLOCK + index) as u32;
                let inode = Inode::decode(bytes);
                if number != 0
                    && number < self.layout.inode_count
                    && inode.mode != 0
                    && inode.links == 0
                {
                    orphans.push(number);
                }
            }
            first += count;
        }
        for number in orphans {
            let mut transaction = Transaction::new();
            let inode = self.get_inode(&transaction, number)?;
            self.release(&mut transaction, number, &inode)?;
            self.journal.commit(&transaction)?;
        }
        Ok(())
    }

    /// Holds file `number` open: if its last name goes, it stays, readable and
    /// writable, until [`let_go`](Self::let_go) lets go of its last hold.
    pub fn hold(&mut self, number: u32) {
        *self.held.entry(number).or_insert(0) += 1;
    }

    /// Lets go of a hold of file `number`; the last hold of a file with no name
    /// left frees it.
    pub fn let_go(&mut self, number: u32) -> Result<(), FsError> {
        let Some(holds) = self.held.get_mut(&number) else {
            return Ok(());
        };
        *holds -= 1;
        if *holds > 0 {
            return Ok(());
        }
        self.held.remove(&number);
        let mut transaction = Transaction::new();
        let inode = self.get_inode(&transaction, number)?;
        if inode.mode != 0 && inode.links == 0 {
            self.release(&mut transaction, number, &inode)?;
            self.commit(transaction)?;
        }
        Ok(())
    }

    /// Commits `transaction` as the operations do (waiting or not).
    fn commit(&mut self, transaction: Transaction) -> Result<(), FsError> {
        if self.synchronous {
            Ok(self.journal.commit_owned(transaction)?)
        } else {
            Ok(self.journal.commit_unsynced_owned(transaction)?)
        }
    }

    /// With `true` (the default), each operation is durable when it returns; with
    /// `false`, operations commit without waiting for the device and are durable
    /// once [`sync`](Self::sync) returns: a crash before it loses a suffix of them,
    /// each whole, never an operation before one it keeps.
    pub fn set_synchronous(&mut self, synchronous: bool) {
        self.synchronous = synchronous;
    }

    /// Makes every operation so far durable (one flush of the device).
    pub fn sync(&mut self) -> Result<(), FsError> {
        Ok(self.journal.sync()?)
    }

    /// Checkpoints and gives the device back.
    pub fn unmount(self) -> Result<D, FsError> {
        Ok(self.journal.unmount()?)
    }

    /// The device.
    pub fn device(&self) -> &D {
        self.journal.device()
    }

    /// The device as it is (after a crash).
    pub fn into_device(self) -> D {
        self.journal.into_device()
    }

    /// The layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Inode `number`, if in use.
    pub fn inode(&mut self, number: u32) -> Result<Inode, FsError> {
        self.live_inode(&Transaction::new(), number)
    }

    /// What `stat` tells of inode `number`.
    pub fn stat(&mut self, number: u32) -> Result<Stat, FsError> {
        let fields = self.inode(number)?;
        let blocks = self.held_blocks(&fields)?.len() as u64;
        Ok(Stat {
            inode: number,
            fields,
            blocks,
        })
    }

    /// Whether `caller` has the `wanted` permission bits on inode `inode`.
    pub fn permits(inode: &Inode, caller: &Caller, wanted: u16) -> bool {
        if caller.user == 0 {
            return true;
        }
        let shift = if caller.user == inode.user {
            6
        } else if caller.groups.contains(&inode.group) {
            3
        } else {
            0
        };
        (inode.mode >> shift) & wanted == wanted
    }

    /// The inode an absolute `path` names, searching each directory on the way as
    /// `caller`.
    pub fn resolve(&mut self, path: &str, caller: &Caller) -> Result<u32, FsError> {
        if !path.starts_with('/') {
            return Err(FsError::Invalid);
        }
        let mut current = ROOT;
        for part in path.split('/').filter(|part| !part.is_empty()) {
            let directory = self.inode(current)?;
            if !directory.is_directory() {
                return Err(FsError::NotDirectory);
            }
            if !Self::permits(&directory, caller, access::EXECUTE) {
                return Err(FsError::Denied);
            }
            if part.len() > NAME_MAX {
                return Err(FsError::NameTooLong);
            }
            current = self.lookup(current, part.as_bytes())?;
        }
        Ok(current)
    }

    /// The inode `name` names in directory `directory` ("." and ".." too).
    pub fn lookup(&mut self, directory: u32, name: &[u8]) -> Result<u32, FsError> {
        let inode = self.inode(directory)?;
        if !inode.is_directory() {
            return Err(FsError::NotDirectory);
        }
        self.find_entry(&Transaction::new(), &inode, name)?
            .map(|(inode, _)| inode)
            .ok_or(FsError::NotFound)
    }

    /// The entries of directory `directory`, "." and ".." first.
    pub fn read_directory(&mut self, directory: u32) -> Result<Vec<Entry>, FsError> {
        let inode = self.inode(directory)?;
        if !inode.is_directory() {
            return Err(FsError::NotDirectory);
        }
        let transaction = Transaction::new();
        let mut entries = Vec::new();
        for index in 0..inode.size / BLOCK_SIZE as u64 {
            let Some(number) = self.block_of(&transaction, &inode, index)? else {
                continue;
            };
            let block = block_in(&mut self.journal, &transaction, number)?;
            entries.extend(block.chunks(ENTRY_BYTES).filter_map(Entry::decode));
        }
        Ok(entries)
    }

    /// Creates a regular file `name` in `directory` with `mode`'s permission bits,
    /// owned by `owner`; its inode.
    pub fn create(
        &mut self,
        directory: u32,
        name: &[u8],
        mode: u16,
        owner: (u32, u32),
        now: u64,
    ) -> Result<u32, FsError> {
        self.make(
            directory,
            name,
            REGULAR | (mode & PERMISSION_MASK),
            owner,
            now,
        )
    }

    /// Creates a directory `name` in `directory`; its inode.
    pub fn make_directory(
        &mut self,
        directory: u32,
        name: &[u8],
        mode: u16,
        owner: (u32, u32),
        now: u64,
    ) -> Result<u32, FsError> {
        self.make(
            directory,
            name,
            DIRECTORY | (mode & PERMISSION_MASK),
            owner,
            now,
        )
    }

    fn make(
        &mut self,
        directory: u32,
        name: &[u8],
        mode: u16,
        owner: (u32, u32),
        now: u64,
    ) -> Result<u32, FsError> {
        check_name(name)?;
        let mut transaction = Transaction::new();
        let mut parent = self.directory_inode(&transaction, directory)?;
        if self.find_entry(&transaction, &parent, name)?.is_some() {
            return Err(FsError::Exists);
        }
        let number = self.allocate_inode(&transaction)?;
        let directory_made = mode & DIRECTORY == DIRECTORY;
        let inode = Inode {
            mode,
            links: if directory_made { 2 } else { 1 },
            user: owner.0,
            group: owner.1,
            accessed: now,
            modified: now,
            changed: now,
            ..Inode::default()
        };
        self.put_inode(&mut transaction, number, &inode)?;
        if directory_made {
            self.start_directory(&mut transaction, number, directory)?;
            parent = self.get_inode(&transaction, directory)?;
            parent.links += 1;
        }
        self.add_entry(&mut transaction, &mut parent, name, number)?;
        touch(&mut parent, now);
        self.put_and_commit(transaction, directory, &parent)?;
        Ok(number)
    }

    /// Removes the name `name` of a file from `directory`; the file goes once no
    /// name is left.
    pub fn unlink(&mut self, directory: u32, name: &[u8], now: u64) -> Result<(), FsError> {
        check_name(name)?;
        let mut transaction = Transaction::new();
        let mut parent = self.directory_inode(&transaction, directory)?;
        let (number, slot) = self
            .find_entry(&transaction, &parent, name)?
            .ok_or(FsError::NotFound)?;
        let mut inode = self.get_inode(&transaction, number)?;
        if inode.is_directory() {
            return Err(FsError::IsDirectory);
        }
        self.clear_entry(&mut transaction, slot)?;
        inode.links = inode.links.saturating_sub(1);
        inode.changed = now;
        if inode.links == 0 && !self.held.contains_key(&number) {
            self.release(&mut transaction, number, &inode)?;
        } else {
            self.put_inode(&mut transaction, number, &inode)?;
        }
        touch(&mut parent, now);
        self.put_and_commit(transaction, directory, &parent)
    }

    /// Removes the empty directory `name` from `directory`.
    pub fn remove_directory(
        &mut self,
        directory: u32,
        name: &[u8],
        now: u64,
    ) -> Result<(), FsError> {
        check_name(name)?;
        let mut transaction = Transaction::new();
        let mut parent = self.directory_inode(&transaction, directory)?;
        let (number, slot) = self
            .find_entry(&transaction, &parent, name)?
            .ok_or(FsError::NotFound)?;
        let inode = self.get_inode(&transaction, number)?;
        if !inode.is_directory() {
            return Err(FsError::NotDirectory);
        }
        if self.entry_count(&transaction, &inode)? > 2 {
            return Err(FsError::NotEmpty);
        }
        self.clear_entry(&mut transaction, slot)?;
        self.release(&mut transaction, number, &inode)?;
        parent.links = parent.links.saturating_sub(1);
        touch(&mut parent, now);
        self.put_and_commit(transaction, directory, &parent)
    }

    /// Renames `from_name` in `from` to `to_name` in `to`, replacing a file there
    /// (or an empty directory, when a directory moves); a directory cannot move
    /// under itself.
    pub fn rename(
        &mut self,
        (from, from_name): (u32, &[u8]),
        (to, to_name): (u32, &[u8]),
        now: u64,
    ) -> Result<(), FsError> {
        check_name(from_name)?;
        check_name(to_name)?;
        let mut transaction = Transaction::new();
        let source_parent = self.directory_inode(&transaction, from)?;
        let target_parent = self.directory_inode(&transaction, to)?;
        let (moved, source_slot) = self
            .find_entry(&transaction, &source_parent, from_name)?
            .ok_or(FsError::NotFound)?;
        let moved_inode = self.get_inode(&transaction, moved)?;
        let moving_directory = moved_inode.is_directory();
        if moving_directory && from != to {
            // `to` must not be `moved` or under it.
            let mut at = to;
            loop {
                if at == moved {
                    return Err(FsError::Invalid);
                }
                if at == ROOT {
                    break;
                }
                at = self.lookup(at, b"..")?;
            }
        }
        if let Some((replaced, slot)) = self.find_entry(&transaction, &target_parent, to_name)? {
            if replaced == moved {
                return Ok(());
            }
            let mut replaced_inode = self.get_inode(&transaction, replaced)?;
            match (moving_directory, replaced_inode.is_directory()) {
                (false, true) => return Err(FsError::IsDirectory),
                (true, false) => return Err(FsError::NotDirectory),
                (true, true) if self.entry_count(&transaction, &replaced_inode)? > 2 => {
                    return Err(FsError::NotEmpty);
                }
                _ => {}
            }
            self.clear_entry(&mut transaction, slot)?;
            if replaced_inode.is_directory() {
                self.release(&mut transaction, replaced, &replaced_inode)?;
                let mut parent = self.get_inode(&transaction, to)?;
                parent.links = parent.links.saturating_sub(1);
                self.put_inode(&mut transaction, to, &parent)?;
            } else {
                replaced_inode.links = replaced_inode.links.saturating_sub(1);
                replaced_inode.changed = now;
                if replaced_inode.links == 0 && !self.held.contains_key(&replaced) {
                    self.release(&mut transaction, replaced, &replaced_inode)?;
                } else {
                    self.put_inode(&mut transaction, replaced, &replaced_inode)?;
                }
            }
        }
        self.clear_entry(&mut transaction, source_slot)?;
        let mut target = self.get_inode(&transaction, to)?;
        self.add_entry(&mut transaction, &mut target, to_name, moved)?;
        if moving_directory && from != to {
            // Its ".." now names `to`.
            let moved_inode = self.get_inode(&transaction, moved)?;
            let (_, slot) = self
                .find_entry(&transaction, &moved_inode, b"..")?
                .ok_or(FsError::Corrupt("a directory without .."))?;
            self.set_entry(&mut transaction, slot, to, b"..")?;
            target.links += 1;
            let mut source = self.get_inode(&transaction, from)?;
            source.links = source.links.saturating_sub(1);
            touch(&mut source, now);
            self.put_inode(&mut transaction, from, &source)?;
        } else if from != to {
            let mut source = self.get_inode(&transaction, from)?;
            touch(&mut source, now);
            self.put_inode(&mut transaction, from, &source)?;
        }
        touch(&mut target, now);
        self.put_inode(&mut transaction, to, &target)?;
        let mut moved_inode = self.get_inode(&transaction, moved)?;
        moved_inode.changed = now;
        self.put_and_commit(transaction, moved, &moved_inode)
    }

    /// Reads from file `number` at `offset` into `buffer`; the bytes read (fewer at
    /// the end of the file; holes read as zeros).
    pub fn read(&mut self, number: u32, offset: u64, buffer: &mut [u8]) -> Result<usize, FsError> {
        let inode = self.inode(number)?;
        if inode.is_directory() {
            return Err(FsError::IsDirectory);
        }
        if offset >= inode.size {
            return Ok(0);
        }
        let length = buffer.len().min((inode.size - offset) as usize);
        let mut pointers = BTreeMap::new();
        // Whole blocks that lie one after another on the disk are read in one run:
        // (its first block, where it goes in `buffer`, its blocks).
        let mut run: Option<(u64, usize, usize)> = None;
        let mut done = 0;
        while done < length {
            let at = offset + done as u64;
            let (index, within) = (at / BLOCK_SIZE as u64, (at % BLOCK_SIZE as u64) as usize);
            let piece = (BLOCK_SIZE - within).min(length - done);
            let block = Self::block_through(&inode, index, &mut |block, entry| {
                self.cached_pointer(&mut pointers, block, entry)
            })?;
            match block {
                Some(block) if piece == BLOCK_SIZE => match run {
                    Some((first, _, count)) if first + count as u64 == block => {
                        run = run.map(|(first, into, count)| (first, into, count + 1));
                    }
                    _ => {
                        self.read_into(run.take(), buffer)?;
                        run = Some((block, done, 1));
                    }
                },
                Some(block) => {
                    self.read_into(run.take(), buffer)?;
                    let mut data = zeroed_block();
                    self.journal.read(block, &mut data)?;
                    buffer[done..done + piece].copy_from_slice(&data[within..within + piece]);
                }
                None => {
                    self.read_into(run.take(), buffer)?;
                    buffer[done..done + piece].fill(0);
                }
            }
            done += piece;
        }
        self.read_into(run, buffer)?;
        Ok(length)
    }

    /// Reads the run `(first block, where in buffer, blocks)`, if any, into `buffer`.
    fn read_into(
        &mut self,
        run: Option<(u64, usize, usize)>,
        buffer: &mut [u8],
    ) -> Result<(), FsError> {
        if let Some((first, into, count)) = run {
            self.journal
                .read_run(first, &mut buffer[into..into + count * BLOCK_SIZE])?;
        }
        Ok(())
    }

    /// Writes `data` to file `number` at `offset`, one transaction a chunk; the
    /// bytes written (all of them, or an error: a chunk that failed wrote nothing,
    /// the chunks before it stay).
    pub fn write(
        &mut self,
        number: u32,
        offset: u64,
        data: &[u8],
        now: u64,
    ) -> Result<usize, FsError> {
        let inode = self.inode(number)?;
        if inode.is_directory() {
            return Err(FsError::IsDirectory);
        }
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or(FsError::TooLarge)?;
        if end.div_ceil(BLOCK_SIZE as u64) > FILE_BLOCKS_MAX {
            return Err(FsError::TooLarge);
        }
        let room = (TRANSACTION_BLOCKS_MAX as u64).min(self.journal.journal_blocks() - 2);
        let chunk_blocks = room
            .saturating_sub(CHUNK_METADATA_MAX)
            .clamp(1, CHUNK_BLOCKS_MAX) as usize;
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            // Up to `chunk_blocks` blocks, ending on a block boundary.
            let first = (at % BLOCK_SIZE as u64) as usize;
            let piece = (chunk_blocks * BLOCK_SIZE - first).min(data.len() - done);
            self.write_chunk(number, at, &data[done..done + piece], now)?;
            done += piece;
        }
        Ok(data.len())
    }

    fn write_chunk(
        &mut self,
        number: u32,
        offset: u64,
        data: &[u8],
        now: u64,
    ) -> Result<(), FsError> {
        let mut transaction = Transaction::new();
        let mut inode = self.get_inode(&transaction, number)?;
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            let (index, within) = (at / BLOCK_SIZE as u64, (at % BLOCK_SIZE as u64) as usize);
            let piece = (BLOCK_SIZE - within).min(data.len() - done);
            let (block, new) =
                self.block_for(&mut transaction, &mut inode, index, Use::FileBytes)?;
            // File bytes go in place (ordered: flushed before the record that links
            // their blocks); a block written whole need not be read first, and a new
            // one starts from zeros (not from what a freed block held).
            if piece == BLOCK_SIZE {
                transaction.write_data(block, &data[done..done + piece]);
            } else {
                let mut contents = if new {
                    zeroed_block()
                } else {
                    block_in(&mut self.journal, &transaction, block)?
                };
                contents[within..within + piece].copy_from_slice(&data[done..done + piece]);
                transaction.write_data(block, &contents[..]);
            }
            done += piece;
        }
        inode.size = inode.size.max(offset + data.len() as u64);
        touch(&mut inode, now);
        self.put_and_commit(transaction, number, &inode)
    }

    /// Sets file `number`'s size: blocks past it go back to the free space, and
    /// the bytes past it in its last block are zeroed (a later growth reads zeros).
    pub fn truncate(&mut self, number: u32, size: u64, now: u64) -> Result<(), FsError> {
        let mut transaction = Transaction::new();
        let mut inode = self.live_inode(&transaction, number)?;
        if inode.is_directory() {
            return Err(FsError::IsDirectory);
        }
        if size.div_ceil(BLOCK_SIZE as u64) > FILE_BLOCKS_MAX {
            return Err(FsError::TooLarge);
        }
        if size < inode.size {
            let keep = size.div_ceil(BLOCK_SIZE as u64);
            self.free_from(&mut transaction, &mut inode, keep)?;
            let within = (size % BLOCK_SIZE as u64) as usize;
            if within > 0
                && let Some(block) =
                    self.block_of(&transaction, &inode, size / BLOCK_SIZE as u64)?
            {
                let mut contents = block_in(&mut self.journal, &transaction, block)?;
                contents[within..].fill(0);
                transaction.write(block, &contents);
            }
        }
        inode.size = size;
        touch(&mut inode, now);
        self.put_and_commit(transaction, number, &inode)
    }

    /// Sets inode `number`'s permission bits (owner or root only: the caller
    /// checks), keeping its type.
    pub fn change_mode(&mut self, number: u32, mode: u16, now: u64) -> Result<(), FsError> {
        let transaction = Transaction::new();
        let mut inode = self.live_inode(&transaction, number)?;
        inode.mode = (inode.mode & !PERMISSION_MASK) | (mode & PERMISSION_MASK);
        inode.changed = now;
        self.put_and_commit(transaction, number, &inode)
    }

    /// Free blocks.
    pub fn free_blocks(&mut self) -> Result<u64, FsError> {
        let transaction = Transaction::new();
        let mut free = 0;
        for bitmap in 0..self.layout.bitmap_blocks {
            let block = block_in(
                &mut self.journal,
                &transaction,
                self.layout.bitmap_start + bitmap,
            )?;
            free += block
                .iter()
                .map(|byte| u64::from(byte.count_zeros()))
                .sum::<u64>();
        }
        Ok(free)
    }

    /// Checks the whole tree without changing it: entries, "." and "..", link
    /// counts, orphans, and the bitmap against the blocks files hold.
    pub fn check(&mut self) -> Vec<FileProblem> {
        let mut problems = Vec::new();
        if let Err(error) = self.check_into(&mut problems) {
            problems.push(FileProblem::Unreadable(error));
        }
        problems
    }

    fn check_into(&mut self, problems: &mut Vec<FileProblem>) -> Result<(), FsError> {
        let count = self.layout.inode_count as usize;
        let mut named = vec![0u32; count];
        let mut reached = vec![false; count];
        let mut directories = vec![(ROOT, ROOT)];
        reached[ROOT as usize] = true;
        let root = self.inode(ROOT)?;
        if !root.is_directory() {
            return Err(FsError::Corrupt("the root is not a directory"));
        }
        while let Some((directory, parent)) = directories.pop() {
            let entries = self.read_directory(directory)?;
            let dot = entries
                .iter()
                .find(|entry| entry.name == b".")
                .map(|entry| entry.inode);
            let dots = entries
                .iter()
                .find(|entry| entry.name == b"..")
                .map(|entry| entry.inode);
            if dot != Some(directory) || dots != Some(parent) {
                problems.push(FileProblem::BadDots(directory));
            }
            for entry in entries {
                let number = entry.inode;
                let in_use = number < self.layout.inode_count
                    && self.get_inode(&Transaction::new(), number)?.mode != 0;
                if !in_use {
                    problems.push(FileProblem::Dangling {
                        directory,
                        name: entry.name,
                    });
                    continue;
                }
                named[number as usize] += 1;
                if entry.name == b"." || entry.name == b".." {
                    continue;
                }
                let inode = self.get_inode(&Transaction::new(), number)?;
                if inode.is_directory() {
                    if reached[number as usize] {
                        problems.push(FileProblem::DirectoryTwice(number));
                        continue;
                    }
                    directories.push((number, directory));
                }
                reached[number as usize] = true;
            }
        }
        let mut held = vec![false; self.journal.block_count() as usize];
        let first = self.layout.first_free();
        for number in 1..self.layout.inode_count {
            let inode = self.get_inode(&Transaction::new(), number)?;
            if inode.mode == 0 {
                continue;
            }
            // A held file whose last name went is no orphan: it goes with its
            // last hold (or at the next mount).
            let held_orphan = inode.links == 0 && self.held.contains_key(&number);
            if !reached[number as usize] && !held_orphan {
                problems.push(FileProblem::Orphan(number));
                continue;
            }
            if u32::from(inode.links) != named[number as usize] {
                problems.push(FileProblem::Links {
                    inode: number,
                    stored: inode.links,
                    counted: named[number as usize],
                });
            }
            for block in self.held_blocks(&inode)? {
                match held.get_mut(block as usize) {
                    Some(_) if u64::from(block) < first => {
                        problems.push(FileProblem::BlockOutside(block));
                    }
                    Some(taken) if *taken => problems.push(FileProblem::BlockTwice(block)),
                    Some(taken) => *taken = true,
                    None => problems.push(FileProblem::BlockOutside(block)),
                }
            }
        }
        let bits = (BLOCK_SIZE * 8) as u64;
        let transaction = Transaction::new();
        // Each bitmap block read once, as the numbers reach it.
        let mut map = (zeroed_block(), u64::MAX);
        for number in first..self.journal.block_count() {
            let bitmap = self.layout.bitmap_start + number / bits;
            if map.1 != bitmap {
                map = (block_in(&mut self.journal, &transaction, bitmap)?, bitmap);
            }
            let map = &map.0;
            let bit = number % bits;
            let taken = map[(bit / 8) as usize] & (1 << (bit % 8)) != 0;
            match (held[number as usize], taken) {
                (true, false) => problems.push(FileProblem::BlockFree(number)),
                (false, true) => problems.push(FileProblem::BlockLeaked(number)),
                _ => {}
            }
        }
        Ok(())
    }

    // --- Inodes and blocks --------------------------------------------------

    fn get_inode(&mut self, transaction: &Transaction, number: u32) -> Result<Inode, FsError> {
        if number == 0 || number >= self.layout.inode_count {
            return Err(FsError::NotFound);
        }
        let (block, at) = self.layout.inode_place(number);
        let contents = block_in(&mut self.journal, transaction, block)?;
        Ok(Inode::decode(&contents[at..at + INODE_BYTES]))
    }

    /// Inode `number` as `transaction` leaves it, if in use (`NotFound` if free).
    fn live_inode(&mut self, transaction: &Transaction, number: u32) -> Result<Inode, FsError> {
        let inode = self.get_inode(transaction, number)?;
        if inode.mode == 0 {
            return Err(FsError::NotFound);
        }
        Ok(inode)
    }

    /// Writes inode `number` into `transaction` and commits it.
    fn put_and_commit(
        &mut self,
        mut transaction: Transaction,
        number: u32,
        inode: &Inode,
    ) -> Result<(), FsError> {
        self.put_inode(&mut transaction, number, inode)?;
        self.commit(transaction)
    }

    fn put_inode(
        &mut self,
        transaction: &mut Transaction,
        number: u32,
        inode: &Inode,
    ) -> Result<(), FsError> {
        let (block, at) = self.layout.inode_place(number);
        let mut contents = block_in(&mut self.journal, transaction, block)?;
        inode.encode(&mut contents[at..at + INODE_BYTES]);
        transaction.write(block, &contents);
        Ok(())
    }

    /// The directory inode `number`, or why not.
    fn directory_inode(
        &mut self,
        transaction: &Transaction,
        number: u32,
    ) -> Result<Inode, FsError> {
        let inode = self.live_inode(transaction, number)?;
        if !inode.is_directory() {
            return Err(FsError::NotDirectory);
        }
        Ok(inode)
    }

    /// A free inode's number (its mode 0).
    fn allocate_inode(&mut self, transaction: &Transaction) -> Result<u32, FsError> {
        for table in 0..self.layout.inode_blocks {
            let contents = block_in(
                &mut self.journal,
                transaction,
                self.layout.inode_start + table,
            )?;
            for slot in 0..INODES_PER_BLOCK {
                let number = (table as usize * INODES_PER_BLOCK + slot) as u32;
                if number > ROOT
                    && number < self.layout.inode_count
                    && u16::from_le_bytes([
                        contents[slot * INODE_BYTES],
                        contents[slot * INODE_BYTES + 1],
                    ]) == 0
                {
                    return Ok(number);
                }
            }
        }
        Err(FsError::NoSpace)
    }

    /// Takes a free block for `usage` in `transaction` (zeroed for metadata).
    /// Blocks freed since the last sync wait for it (a crash before it would give
    /// them back, holding another file's bytes): with no other block free, this
    /// syncs and takes one of them.
    fn allocate_block(
        &mut self,
        transaction: &mut Transaction,
        usage: Use,
    ) -> Result<u32, FsError> {
        let found = match self.find_free_block(transaction)? {
            None if self.journal.frees_waiting() => {
                self.journal.sync()?;
                self.find_free_block(transaction)?
            }
            found => found,
        };
        let number = found.ok_or(FsError::NoSpace)?;
        self.mark_block(transaction, number, true)?;
        if usage == Use::Metadata {
            transaction.write(number, &zeroed_block());
        }
        self.next_block = number + 1;
        u32::try_from(number).map_err(|_| FsError::NoSpace)
    }

    /// A block free in `transaction`'s bitmap that may be taken (not freed by it or
    /// by a commit not yet synced), from the allocation hint on.
    fn find_free_block(&mut self, transaction: &Transaction) -> Result<Option<u64>, FsError> {
        let total = self.journal.block_count();
        let first = self.layout.first_free();
        let start = self.next_block.clamp(first, total - 1);
        let bits = (BLOCK_SIZE * 8) as u64;
        // From the hint to the end, then from the start to the hint.
        for (low, high) in [(start, total), (first, start)] {
            let mut number = low;
            while number < high {
                let bitmap = self.layout.bitmap_start + number / bits;
                let stop = high.min((number / bits + 1) * bits);
                let journal = &mut self.journal;
                let may_reuse = |journal: &Journal<D>, number: u64| {
                    !transaction.frees(number) && journal.may_reuse(number)
                };
                let mut owned = None;
                let map: &Block = match transaction.written(bitmap) {
                    Some(map) => map,
                    None => owned.insert(block_in(journal, transaction, bitmap)?),
                };
                while number < stop {
                    let bit = number % bits;
                    let byte = (bit / 8) as usize;
                    if map[byte] == 0xff && bit.is_multiple_of(8) && number + 8 <= stop {
                        number += 8;
                        continue;
                    }
                    if map[byte] & (1 << (bit % 8)) == 0 && may_reuse(journal, number) {
                        return Ok(Some(number));
                    }
                    number += 1;
                }
            }
        }
        Ok(None)
    }

    fn free_block(&mut self, transaction: &mut Transaction, number: u32) -> Result<(), FsError> {
        let number = u64::from(number);
        if number < self.layout.first_free() || number >= self.journal.block_count() {
            return Err(FsError::Corrupt("a block number outside the files' area"));
        }
        self.mark_block(transaction, number, false)?;
        transaction.free(number);
        Ok(())
    }

    /// Marks block `number` taken or free in `transaction`'s bitmap.
    fn mark_block(
        &mut self,
        transaction: &mut Transaction,
        number: u64,
        taken: bool,
    ) -> Result<(), FsError> {
        let bits = (BLOCK_SIZE * 8) as u64;
        let (byte, mask) = (((number % bits) / 8) as usize, 1u8 << (number % 8));
        update_block(
            &mut self.journal,
            transaction,
            self.layout.bitmap_start + number / bits,
            |map| {
                if taken {
                    map[byte] |= mask;
                } else {
                    map[byte] &= !mask;
                }
            },
        )
    }

    /// The number of data block `index` of `inode`, `None` for a hole.
    fn block_of(
        &mut self,
        transaction: &Transaction,
        inode: &Inode,
        index: u64,
    ) -> Result<Option<u64>, FsError> {
        Self::block_through(inode, index, &mut |block, entry| {
            self.pointer(transaction, block, entry)
        })
    }

    /// The data block of `inode`'s block `index`, reading pointer blocks with
    /// `pointer(block, entry)` (`None`: a hole).
    fn block_through(
        inode: &Inode,
        index: u64,
        pointer: &mut dyn FnMut(u32, usize) -> Result<u32, FsError>,
    ) -> Result<Option<u64>, FsError> {
        let index = index as usize;
        let number = if index < DIRECT_BLOCKS {
            inode.direct[index]
        } else if index < DIRECT_BLOCKS + POINTERS_PER_BLOCK {
            pointer(inode.indirect, index - DIRECT_BLOCKS)?
        } else {
            let rest = index - DIRECT_BLOCKS - POINTERS_PER_BLOCK;
            if rest >= POINTERS_PER_BLOCK * POINTERS_PER_BLOCK {
                return Ok(None);
            }
            let middle = pointer(inode.double, rest / POINTERS_PER_BLOCK)?;
            pointer(middle, rest % POINTERS_PER_BLOCK)?
        };
        Ok((number != 0).then_some(u64::from(number)))
    }

    /// Entry `index` of pointer block `block` (0 when `block` is 0), read through
    /// `cache`, which keeps the last few pointer blocks read (a sequential read
    /// reads each once).
    fn cached_pointer(
        &mut self,
        cache: &mut BTreeMap<u32, Box<Block>>,
        block: u32,
        index: usize,
    ) -> Result<u32, FsError> {
        if block == 0 {
            return Ok(0);
        }
        if !cache.contains_key(&block) {
            if cache.len() >= POINTER_CACHE_BLOCKS {
                cache.clear();
            }
            let mut contents = zeroed_block();
            self.journal.read(u64::from(block), &mut contents)?;
            cache.insert(block, contents);
        }
        Ok(cache
            .get(&block)
            .map_or(0, |contents| u32_at(&contents[..], 4 * index)))
    }

    /// Entry `index` of pointer block `block` (0 when `block` is 0).
    fn pointer(
        &mut self,
        transaction: &Transaction,
        block: u32,
        index: usize,
    ) -> Result<u32, FsError> {
        if block == 0 {
            return Ok(0);
        }
        let contents = block_in(&mut self.journal, transaction, u64::from(block))?;
        Ok(u32_at(&contents[..], 4 * index))
    }

    /// Entry `index` of pointer block `*block`, allocating it (and the block it
    /// points to, for `usage`) as needed; and whether the entry is new.
    fn pointer_for(
        &mut self,
        transaction: &mut Transaction,
        block: &mut u32,
        index: usize,
        usage: Use,
    ) -> Result<(u32, bool), FsError> {
        if *block == 0 {
            *block = self.allocate_block(transaction, Use::Metadata)?;
        }
        let pointers = u64::from(*block);
        let entry = with_block(&mut self.journal, transaction, pointers, |contents| {
            u32_at(&contents[..], 4 * index)
        })?;
        if entry != 0 {
            return Ok((entry, false));
        }
        let entry = self.allocate_block(transaction, usage)?;
        update_block(&mut self.journal, transaction, pointers, |contents| {
            contents[4 * index..4 * index + 4].copy_from_slice(&entry.to_le_bytes())
        })?;
        Ok((entry, true))
    }

    /// The number of data block `index` of `inode`, allocated for `usage` if a
    /// hole; and whether it is new.
    fn block_for(
        &mut self,
        transaction: &mut Transaction,
        inode: &mut Inode,
        index: u64,
        usage: Use,
    ) -> Result<(u64, bool), FsError> {
        let index = index as usize;
        let (number, new) = if index < DIRECT_BLOCKS {
            let new = inode.direct[index] == 0;
            if new {
                inode.direct[index] = self.allocate_block(transaction, usage)?;
            }
            (inode.direct[index], new)
        } else if index < DIRECT_BLOCKS + POINTERS_PER_BLOCK {
            let mut indirect = inode.indirect;
            let found =
                self.pointer_for(transaction, &mut indirect, index - DIRECT_BLOCKS, usage)?;
            inode.indirect = indirect;
            found
        } else {
            let rest = index - DIRECT_BLOCKS - POINTERS_PER_BLOCK;
            if rest >= POINTERS_PER_BLOCK * POINTERS_PER_BLOCK {
                return Err(FsError::TooLarge);
            }
            let mut double = inode.double;
            let (mut middle, _) = self.pointer_for(
                transaction,
                &mut double,
                rest / POINTERS_PER_BLOCK,
                Use::Metadata,
            )?;
            inode.double = double;
            // `pointer_for` allocated the middle block zeroed: its entries are holes.
            self.pointer_for(transaction, &mut middle, rest % POINTERS_PER_BLOCK, usage)?
        };
        Ok((u64::from(number), new))
    }

    /// Every block `inode` holds: data blocks, then pointer blocks.
    fn held_blocks(&mut self, inode: &Inode) -> Result<Vec<u32>, FsError> {
        let transaction = Transaction::new();
        let mut held: Vec<u32> = inode
            .direct
            .iter()
            .copied()
            .filter(|block| *block != 0)
            .collect();
        if inode.indirect != 0 {
            held.extend(self.pointers(&transaction, inode.indirect)?);
            held.push(inode.indirect);
        }
        if inode.double != 0 {
            for middle in self.pointers(&transaction, inode.double)? {
                held.extend(self.pointers(&transaction, middle)?);
                held.push(middle);
            }
            held.push(inode.double);
        }
        Ok(held)
    }

    /// The nonzero entries of pointer block `block`.
    fn pointers(&mut self, transaction: &Transaction, block: u32) -> Result<Vec<u32>, FsError> {
        let contents = block_in(&mut self.journal, transaction, u64::from(block))?;
        Ok(contents
            .chunks(4)
            .map(|bytes| u32_at(bytes, 0))
            .filter(|entry| *entry != 0)
            .collect())
    }

    /// Frees `inode`'s data blocks from index `keep` on, and pointer blocks left
    /// empty.
    fn free_from(
        &mut self,
        transaction: &mut Transaction,
        inode: &mut Inode,
        keep: u64,
    ) -> Result<(), FsError> {
        let keep = keep as usize;
        for index in keep.min(DIRECT_BLOCKS)..DIRECT_BLOCKS {
            if inode.direct[index] != 0 {
                self.free_block(transaction, inode.direct[index])?;
                inode.direct[index] = 0;
            }
        }
        let first = keep.saturating_sub(DIRECT_BLOCKS).min(POINTERS_PER_BLOCK);
        if self.free_pointers(transaction, inode.indirect, first)? {
            inode.indirect = 0;
        }
        if inode.double != 0 {
            let rest = keep.saturating_sub(DIRECT_BLOCKS + POINTERS_PER_BLOCK);
            let mut contents = block_in(&mut self.journal, transaction, u64::from(inode.double))?;
            let mut empty = true;
            for slot in 0..POINTERS_PER_BLOCK {
                let middle = u32_at(&contents[..], 4 * slot);
                if middle == 0 {
                    continue;
                }
                let from = rest
                    .saturating_sub(slot * POINTERS_PER_BLOCK)
                    .min(POINTERS_PER_BLOCK);
                if self.free_pointers(transaction, middle, from)? {
                    contents[4 * slot..4 * slot + 4].fill(0);
                } else {
                    empty = false;
                }
            }
            if empty {
                self.free_block(transaction, inode.double)?;
                inode.double = 0;
            } else {
                transaction.write(u64::from(inode.double), &contents);
            }
        }
        Ok(())
    }

    /// Frees the blocks pointer block `block` names from entry `from` on; frees the
    /// pointer block itself when that leaves it empty (returns whether it did).
    fn free_pointers(
        &mut self,
        transaction: &mut Transaction,
        block: u32,
        from: usize,
    ) -> Result<bool, FsError> {
        if block == 0 {
            return Ok(false);
        }
        let mut contents = block_in(&mut self.journal, transaction, u64::from(block))?;
        for slot in from..POINTERS_PER_BLOCK {
            let entry = u32_at(&contents[..], 4 * slot);
            if entry != 0 {
                self.free_block(transaction, entry)?;
                contents[4 * slot..4 * slot + 4].fill(0);
            }
        }
        if contents.iter().all(|byte| *byte == 0) {
            self.free_block(transaction, block)?;
            return Ok(true);
        }
        transaction.write(u64::from(block), &contents);
        Ok(false)
    }

    /// Frees inode `number` and every block it holds.
    fn release(
        &mut self,
        transaction: &mut Transaction,
        number: u32,
        inode: &Inode,
    ) -> Result<(), FsError> {
        let mut emptied = *inode;
        self.free_from(transaction, &mut emptied, 0)?;
        self.put_inode(transaction, number, &Inode::default())
    }

    // --- Directories --------------------------------------------------------

    /// Gives new directory `number` its first block, with "." and "..".
    fn start_directory(
        &mut self,
        transaction: &mut Transaction,
        number: u32,
        parent: u32,
    ) -> Result<(), FsError> {
        let mut inode = self.get_inode(transaction, number)?;
        let (block, _) = self.block_for(transaction, &mut inode, 0, Use::Metadata)?;
        let mut contents = zeroed_block();
        Entry::encode(number, b".", &mut contents[..ENTRY_BYTES]);
        Entry::encode(parent, b"..", &mut contents[ENTRY_BYTES..2 * ENTRY_BYTES]);
        transaction.write(block, &contents);
        inode.size = BLOCK_SIZE as u64;
        self.put_inode(transaction, number, &inode)
    }

    /// The entry `name` of `directory`: its inode and slot (block, byte offset).
    fn find_entry(
        &mut self,
        transaction: &Transaction,
        directory: &Inode,
        name: &[u8],
    ) -> Result<Option<(u32, Slot)>, FsError> {
        for index in 0..directory.size / BLOCK_SIZE as u64 {
            let Some(block) = self.block_of(transaction, directory, index)? else {
                continue;
            };
            let contents = block_in(&mut self.journal, transaction, block)?;
            for slot in 0..ENTRIES_PER_BLOCK {
                let at = slot * ENTRY_BYTES;
                if let Some(entry) = Entry::decode(&contents[at..at + ENTRY_BYTES])
                    && entry.name == name
                {
                    return Ok(Some((entry.inode, (block, at))));
                }
            }
        }
        Ok(None)
    }

    /// Entries in use in `directory` ("." and ".." included).
    fn entry_count(
        &mut self,
        transaction: &Transaction,
        directory: &Inode,
    ) -> Result<usize, FsError> {
        let mut count = 0;
        for index in 0..directory.size / BLOCK_SIZE as u64 {
            if let Some(block) = self.block_of(transaction, directory, index)? {
                let contents = block_in(&mut self.journal, transaction, block)?;
                count += contents
                    .chunks(ENTRY_BYTES)
                    .filter_map(Entry::decode)
                    .count();
            }
        }
        Ok(count)
    }

    /// Adds entry `name` for `inode` to the directory whose inode is `directory`
    /// (updated when it grows by a block; its caller writes it back).
    fn add_entry(
        &mut self,
        transaction: &mut Transaction,
        directory: &mut Inode,
        name: &[u8],
        inode: u32,
    ) -> Result<(), FsError> {
        let blocks = directory.size / BLOCK_SIZE as u64;
        for index in 0..blocks {
            let Some(block) = self.block_of(transaction, directory, index)? else {
                continue;
            };
            let contents = block_in(&mut self.journal, transaction, block)?;
            if let Some(slot) =
                (0..ENTRIES_PER_BLOCK).find(|slot| u32_at(&contents[..], slot * ENTRY_BYTES) == 0)
            {
                return self.set_entry(transaction, (block, slot * ENTRY_BYTES), inode, name);
            }
        }
        let (block, _) = self.block_for(transaction, directory, blocks, Use::Metadata)?;
        directory.size += BLOCK_SIZE as u64;
        self.set_entry(transaction, (block, 0), inode, name)
    }

    fn set_entry(
        &mut self,
        transaction: &mut Transaction,
        (block, at): Slot,
        inode: u32,
        name: &[u8],
    ) -> Result<(), FsError> {
        let mut contents = block_in(&mut self.journal, transaction, block)?;
        Entry::encode(inode, name, &mut contents[at..at + ENTRY_BYTES]);
        transaction.write(block, &contents);
        Ok(())
    }

    fn clear_entry(
        &mut self,
        transaction: &mut Transaction,
        (block, at): Slot,
    ) -> Result<(), FsError> {
        let mut contents = block_in(&mut self.journal, transaction, block)?;
        contents[at..at + ENTRY_BYTES].fill(0);
        transaction.write(block, &contents);
        Ok(())
    }
}
