//! Files and directories on the system's vfs server, in the shape of `std::fs`.
//!
//! [`File`] (open, create, [`OpenOptions`]), its reads, writes, seeks, `sync_all`,
//! `set_len` and `metadata`; whole-file [`read`], [`read_to_string`] and [`write`];
//! directories ([`create_dir`], [`read_dir`], [`remove_dir`]), [`remove_file`],
//! [`rename`], [`metadata`], [`set_permissions`], [`sync`]. A relative path goes
//! from the working directory ([`current_dir`], [`set_current_dir`]; a program
//! starts in the one its `cwd=PATH` argument names, else `/`). Errors are POSIX
//! errnos (`ENOENT`, `EACCES`, ...). The vfs server is at the node the
//! `vfs-server=NODE` argument names, else on the system's node (the first of
//! cluster 0), beside the process and name servers.
//!
//! ```ignore
//! use libnanvix::fs::{self, File};
//! let mut file = File::create("notes.txt")?;
//! file.write_all(b"hello\n")?;
//! file.sync_all()?;
//! let text = fs::read_to_string("notes.txt")?;
//! ```

use crate::posix::system_node;
use alloc::string::String;
use alloc::vec::Vec;
use nanvix_rpc::transport::CallError;
use nanvix_sys::{Errno, process};
use nanvix_vfs_api::{
    FileStat, OPEN_APPEND, OPEN_CREATE, OPEN_EXCLUSIVE, OPEN_READ, OPEN_TRUNCATE, OPEN_WRITE,
    SEEK_CURRENT, SEEK_END, SEEK_SET, TRANSFER_MAX, VfsCallError, VfsClient,
};

/// The program's client of the vfs server, made at its first use.
static CLIENT: spin::Mutex<Option<VfsClient>> = spin::Mutex::new(None);

/// The working directory, once set or read (absolute, normalized).
static CURRENT: spin::Mutex<Option<String>> = spin::Mutex::new(None);

/// The node the vfs server serves at.
pub fn vfs_server_node() -> u32 {
    process::argument("vfs-server")
        .and_then(|node| node.parse().ok())
        .unwrap_or_else(system_node)
}

/// The errno of a failed vfs call.
pub fn vfs_errno(error: VfsCallError) -> Errno {
    match error {
        VfsCallError::Refused(error) => error.errno(),
        VfsCallError::Call(CallError::Mailbox(errno)) => errno,
        VfsCallError::Call(CallError::Rpc(_)) => Errno::InputOutput,
    }
}

/// Runs `call` on the program's client (made now if there is none); when another
/// thread holds it, on a client of its own instead of waiting.
fn with_vfs<T>(call: impl FnOnce(&mut VfsClient) -> Result<T, VfsCallError>) -> Result<T, Errno> {
    if let Some(mut shared) = CLIENT.try_lock() {
        if shared.is_none() {
            *shared = Some(VfsClient::connect(vfs_server_node())?);
        }
        if let Some(client) = shared.as_mut() {
            return call(client).map_err(vfs_errno);
        }
    }
    let mut own = VfsClient::connect(vfs_server_node())?;
    let result = call(&mut own).map_err(vfs_errno);
    let _ = own.close();
    result
}

/// `path` as an absolute path without `.`, `..` or repeated slashes: a relative
/// one goes from the working directory; `..` of the root is the root.
pub fn absolute(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let base = if path.starts_with('/') {
        String::new()
    } else {
        current_dir()
    };
    for part in base.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    let mut absolute = String::new();
    for part in &parts {
        absolute.push('/');
        absolute.push_str(part);
    }
    if absolute.is_empty() {
        absolute.push('/');
    }
    absolute
}

/// The working directory.
pub fn current_dir() -> String {
    let mut current = CURRENT.lock();
    if let Some(directory) = current.as_ref() {
        return directory.clone();
    }
    let start = process::argument("cwd").unwrap_or("/");
    // The argument is absolute, or taken from the root.
    let mut directory = String::from("/");
    for part in start
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
    {
        if part == ".." {
            if let Some(at) = directory.rfind('/') {
                directory.truncate(at.max(1));
            }
            continue;
        }
        if !directory.ends_with('/') {
            directory.push('/');
        }
        directory.push_str(part);
    }
    *current = Some(directory.clone());
    directory
}

/// Changes the working directory to `path` (`ENOTDIR` if it is not a directory).
pub fn set_current_dir(path: &str) -> Result<(), Errno> {
    let target = absolute(path);
    if !metadata(&target)?.is_dir() {
        return Err(Errno::NotDirectory);
    }
    *CURRENT.lock() = Some(target);
    Ok(())
}

/// What a file is: [`metadata`] and [`File::metadata`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    stat: FileStat,
}

/// The type bits of a mode.
const TYPE_MASK: u16 = 0o170000;
/// A directory's type bits.
const TYPE_DIRECTORY: u16 = 0o040000;
/// A regular file's type bits.
const TYPE_FILE: u16 = 0o100000;

impl Metadata {
    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.stat.mode & TYPE_MASK == TYPE_DIRECTORY
    }

    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.stat.mode & TYPE_MASK == TYPE_FILE
    }

    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        self.stat.size
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.stat.size == 0
    }

    /// Its permission bits (the low 12 bits of the mode).
    pub fn permissions(&self) -> u16 {
        self.stat.mode & 0o7777
    }

    /// Its owner's user id.
    pub fn uid(&self) -> u32 {
        self.stat.user
    }

    /// Its group id.
    pub fn gid(&self) -> u32 {
        self.stat.group
    }

    /// Its inode number.
    pub fn ino(&self) -> u32 {
        self.stat.inode
    }

    /// How many names it has.
    pub fn nlink(&self) -> u16 {
        self.stat.links
    }

    /// The last change of its contents, nanoseconds since the Unix epoch.
    pub fn modified(&self) -> u64 {
        self.stat.modified
    }
}

/// Where [`File::seek`] counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekFrom {
    /// From the start.
    Start(u64),
    /// From the end.
    End(i64),
    /// From the position.
    Current(i64),
}

/// How to open a file: the flags of POSIX `open`, as `std::fs::OpenOptions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    flags: u32,
    mode: u16,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// No access asked yet, mode 0o644 for a file it creates.
    pub fn new() -> OpenOptions {
        OpenOptions {
            flags: 0,
            mode: 0o644,
        }
    }

    fn flag(mut self, flag: u32, on: bool) -> OpenOptions {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
        self
    }

    /// Open for reading.
    pub fn read(self, on: bool) -> OpenOptions {
        self.flag(OPEN_READ, on)
    }

    /// Open for writing.
    pub fn write(self, on: bool) -> OpenOptions {
        self.flag(OPEN_WRITE, on)
    }

    /// Every write goes to the end (implies writing).
    pub fn append(self, on: bool) -> OpenOptions {
        self.flag(OPEN_APPEND | OPEN_WRITE, on)
    }

    /// Empty the file when opening it for writing.
    pub fn truncate(self, on: bool) -> OpenOptions {
        self.flag(OPEN_TRUNCATE, on)
    }

    /// Create the file if it does not exist.
    pub fn create(self, on: bool) -> OpenOptions {
        self.flag(OPEN_CREATE, on)
    }

    /// Create the file, and fail with `EEXIST` if it exists.
    pub fn create_new(self, on: bool) -> OpenOptions {
        self.flag(OPEN_CREATE | OPEN_EXCLUSIVE, on)
    }

    /// The permission bits of a file it creates.
    pub fn mode(mut self, mode: u16) -> OpenOptions {
        self.mode = mode;
        self
    }

    /// Opens `path` so.
    pub fn open(&self, path: &str) -> Result<File, Errno> {
        let path = absolute(path);
        let descriptor = with_vfs(|vfs| vfs.open(&path, self.flags, self.mode))?;
        Ok(File { descriptor })
    }
}

/// An open file of the vfs server; closed when dropped.
#[derive(Debug)]
pub struct File {
    descriptor: u32,
}

impl File {
    /// Opens `path` for reading.
    pub fn open(path: &str) -> Result<File, Errno> {
        OpenOptions::new().read(true).open(path)
    }

    /// Opens `path` for writing, created (mode 0o644) or emptied.
    pub fn create(path: &str) -> Result<File, Errno> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// The server's descriptor of the file.
    pub fn descriptor(&self) -> u32 {
        self.descriptor
    }

    /// Reads into `buffer` at the position (at most [`TRANSFER_MAX`] bytes a
    /// call); the bytes read, 0 at the end.
    pub fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Errno> {
        let length = buffer.len().min(TRANSFER_MAX);
        with_vfs(|vfs| vfs.read(self.descriptor, &mut buffer[..length]))
    }

    /// Reads until `buffer` is full or the file ends; the bytes read.
    pub fn read_full(&mut self, buffer: &mut [u8]) -> Result<usize, Errno> {
        let mut filled = 0;
        while filled < buffer.len() {
            match self.read(&mut buffer[filled..])? {
                0 => break,
                count => filled += count,
            }
        }
        Ok(filled)
    }

    /// Reads to the end, appending to `bytes`; how many bytes it appended.
    /// `ENOMEM` when the heap has no room for the next piece (what was read stays).
    pub fn read_to_end(&mut self, bytes: &mut Vec<u8>) -> Result<usize, Errno> {
        let start = bytes.len();
        let mut chunk = 16 << 10;
        loop {
            let at = bytes.len();
            // Exactly the room of one more piece: no doubling past what is read.
            bytes
                .try_reserve_exact(chunk)
                .map_err(|_| Errno::NoMemory)?;
            bytes.resize(at + chunk, 0);
            let count = self.read(&mut bytes[at..])?;
            bytes.truncate(at + count);
            if count == 0 {
                return Ok(bytes.len() - start);
            }
            chunk = (chunk * 2).min(TRANSFER_MAX);
        }
    }

    /// Reads to the end, appending to `text`; `EINVAL` (and nothing appended) if
    /// the bytes are not UTF-8.
    pub fn read_to_string(&mut self, text: &mut String) -> Result<usize, Errno> {
        let mut bytes = Vec::new();
        self.read_to_end(&mut bytes)?;
        let read = core::str::from_utf8(&bytes).map_err(|_| Errno::Invalid)?;
        text.push_str(read);
        Ok(read.len())
    }

    /// Writes `bytes` at the position (the end when opened to append); how many
    /// went (at most [`TRANSFER_MAX`] a call).
    pub fn write(&mut self, bytes: &[u8]) -> Result<usize, Errno> {
        let length = bytes.len().min(TRANSFER_MAX);
        with_vfs(|vfs| vfs.write(self.descriptor, &bytes[..length]))
    }

    /// Writes all of `bytes`.
    pub fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), Errno> {
        while !bytes.is_empty() {
            match self.write(bytes)? {
                0 => return Err(Errno::InputOutput),
                count => bytes = &bytes[count..],
            }
        }
        Ok(())
    }

    /// Moves the position; the position from the start.
    pub fn seek(&mut self, to: SeekFrom) -> Result<u64, Errno> {
        let (offset, whence) = match to {
            SeekFrom::Start(offset) => {
                (i64::try_from(offset).map_err(|_| Errno::Invalid)?, SEEK_SET)
            }
            SeekFrom::Current(offset) => (offset, SEEK_CURRENT),
            SeekFrom::End(offset) => (offset, SEEK_END),
        };
        with_vfs(|vfs| vfs.seek_from(self.descriptor, offset, whence))
    }

    /// Makes every write so far durable (`fsync`).
    pub fn sync_all(&self) -> Result<(), Errno> {
        with_vfs(|vfs| vfs.sync_file(self.descriptor))
    }

    /// Sets the file's size (a growth reads zeros).
    pub fn set_len(&self, size: u64) -> Result<(), Errno> {
        with_vfs(|vfs| vfs.truncate(self.descriptor, size))
    }

    /// What the file is (`fstat`).
    pub fn metadata(&self) -> Result<Metadata, Errno> {
        with_vfs(|vfs| vfs.stat_file(self.descriptor)).map(|stat| Metadata { stat })
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = with_vfs(|vfs| vfs.close_file(self.descriptor));
    }
}

/// The whole file at `path` (`ENOMEM` if the heap cannot hold it).
pub fn read(path: &str) -> Result<Vec<u8>, Errno> {
    let mut file = File::open(path)?;
    let size = usize::try_from(file.metadata()?.len()).map_err(|_| Errno::NoMemory)?;
    let mut bytes = Vec::new();
    // Its size and one piece more (it may grow meanwhile; the end reads 0).
    bytes.try_reserve_exact(size).map_err(|_| Errno::NoMemory)?;
    bytes.resize(size, 0);
    let filled = file.read_full(&mut bytes)?;
    bytes.truncate(filled);
    if filled == size {
        // It may have grown meanwhile; a small probe first, so that a file read
        // whole needs no room beyond its size.
        let mut probe = [0u8; 512];
        let more = file.read(&mut probe)?;
        if more > 0 {
            bytes.try_reserve(more).map_err(|_| Errno::NoMemory)?;
            bytes.extend_from_slice(&probe[..more]);
            file.read_to_end(&mut bytes)?;
        }
    }
    Ok(bytes)
}

/// The whole file at `path`, as text (`EINVAL` if it is not UTF-8).
pub fn read_to_string(path: &str) -> Result<String, Errno> {
    let mut text = String::new();
    File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

/// Makes `path` a file of `bytes` (created, mode 0o644, or emptied first).
pub fn write(path: &str, bytes: &[u8]) -> Result<(), Errno> {
    File::create(path)?.write_all(bytes)
}

/// What `path` is.
pub fn metadata(path: &str) -> Result<Metadata, Errno> {
    let path = absolute(path);
    with_vfs(|vfs| vfs.stat(&path)).map(|stat| Metadata { stat })
}

/// Makes the directory `path` (mode 0o755).
pub fn create_dir(path: &str) -> Result<(), Errno> {
    let path = absolute(path);
    with_vfs(|vfs| vfs.make_directory(&path, 0o755))
}

/// Makes the directory `path` and any of its parents missing.
pub fn create_dir_all(path: &str) -> Result<(), Errno> {
    let path = absolute(path);
    let mut at = String::new();
    for part in path.split('/').filter(|part| !part.is_empty()) {
        at.push('/');
        at.push_str(part);
        match create_dir(&at) {
            Ok(()) | Err(Errno::Exists) => {}
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// Removes the file `path`.
pub fn remove_file(path: &str) -> Result<(), Errno> {
    let path = absolute(path);
    with_vfs(|vfs| vfs.unlink(&path))
}

/// Removes the empty directory `path`.
pub fn remove_dir(path: &str) -> Result<(), Errno> {
    let path = absolute(path);
    with_vfs(|vfs| vfs.remove_directory(&path))
}

/// Renames `from` to `to` (replacing a file there).
pub fn rename(from: &str, to: &str) -> Result<(), Errno> {
    let (from, to) = (absolute(from), absolute(to));
    with_vfs(|vfs| vfs.rename(&from, &to))
}

/// Sets the permission bits of `path` (its owner or root).
pub fn set_permissions(path: &str, mode: u16) -> Result<(), Errno> {
    let path = absolute(path);
    with_vfs(|vfs| vfs.change_mode(&path, mode))
}

/// Makes every operation so far durable (`sync`).
pub fn sync() -> Result<(), Errno> {
    with_vfs(|vfs| vfs.sync())
}

/// Whether `user` may execute the file, or search the directory, `metadata`
/// describes, by the class (owner, group, others) it falls in (each user is the
/// one member of its own group; root may execute any file with an execute bit, as
/// POSIX has it, and search any directory: callers check that themselves).
pub fn may_execute(metadata: &Metadata, user: u32) -> bool {
    let mode = metadata.permissions();
    if user == 0 {
        return mode & 0o111 != 0;
    }
    (metadata.uid() == user && mode & 0o100 != 0)
        || (metadata.uid() != user && metadata.gid() == user && mode & 0o010 != 0)
        || (metadata.uid() != user && metadata.gid() != user && mode & 0o001 != 0)
}

/// The program `name` names, looked up as `execvp` does: a name with a `/` is a
/// path (from the working directory), any other is looked for in each directory
/// of `search` (`:`-separated, `/bin` for example); the file must be a regular file
/// `user` may execute (`EACCES` otherwise; `ENOENT` if none is there). Its
/// absolute path, which a process server started with a search path (`path=`)
/// runs.
pub fn find_program(name: &str, search: &str, user: u32) -> Result<String, Errno> {
    let candidates: Vec<String> = if name.contains('/') {
        alloc::vec![absolute(name)]
    } else {
        search
            .split(':')
            .filter(|directory| !directory.is_empty())
            .map(|directory| alloc::format!("{}/{name}", absolute(directory).trim_end_matches('/')))
            .collect()
    };
    let mut denied = false;
    for path in candidates {
        match metadata(&path) {
            Ok(found) if found.is_file() && may_execute(&found, user) => return Ok(path),
            Ok(_) | Err(Errno::Access) => denied = true,
            Err(_) => {}
        }
    }
    Err(if denied {
        Errno::Access
    } else {
        Errno::NoEntry
    })
}

/// One entry of a directory, as [`read_dir`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Its name in the directory.
    pub name: String,
    /// Its inode number.
    pub inode: u32,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// The entries of the directory `path`, without `.` and `..`.
pub fn read_dir(path: &str) -> Result<Vec<DirEntry>, Errno> {
    let path = absolute(path);
    // A listing larger than the room asked for is refused (EFBIG): ask for more.
    let mut capacity = 16 << 10;
    loop {
        match with_vfs(|vfs| vfs.list(&path, capacity)) {
            Ok(listing) => {
                return Ok(listing
                    .into_iter()
                    .filter(|(name, _, _)| name != "." && name != "..")
                    .map(|(name, inode, is_dir)| DirEntry {
                        name,
                        inode,
                        is_dir,
                    })
                    .collect());
            }
            Err(Errno::FileTooLarge) if capacity < TRANSFER_MAX => capacity *= 4,
            Err(errno) => return Err(errno),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_absolute_and_plain() {
        // The working directory starts at the root without a `cwd` argument.
        assert_eq!(absolute("/a//b/./c/"), "/a/b/c");
        assert_eq!(absolute("/a/b/../c"), "/a/c");
        assert_eq!(absolute("/../.."), "/");
        assert_eq!(absolute("x/y"), "/x/y");
        assert_eq!(absolute(""), "/");
    }

    #[test]
    fn options_combine_as_posix_flags() {
        let options = OpenOptions::new().read(true).append(true).create_new(true);
        assert_eq!(
            options.flags,
            OPEN_READ | OPEN_WRITE | OPEN_APPEND | OPEN_CREATE | OPEN_EXCLUSIVE
        );
        assert_eq!(OpenOptions::new().write(true).write(false).flags, 0);
    }
}
