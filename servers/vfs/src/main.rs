//! The vfs server program: serves [`VfsProtocol`] on [`VFS_PORT`] of its node, over
//! the disk attached to its cluster (`nanvix-fs`), callers' bytes on
//! [`VFS_BULK_PORTS`]. Prints `vfs-server: serving on node N port P` once it
//! serves; checkpoints the journal and prints its counters when it stops.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use libnanvix::cluster::Clusters;
use libnanvix::mailbox::Inbox;
use libnanvix::{clock, println, process};
use nanvix_fs::board::BoardDisk;
use nanvix_fs::{BlockDevice, Caller, FileSystem, FsError, JournalError};
use nanvix_rpc::transport::{Bulk, Handled, serve_bulk};
use nanvix_vfs_api::{
    FileStat, Listing, OPEN_APPEND, OPEN_CREATE, OPEN_EXCLUSIVE, OPEN_FLAGS, OPEN_MAX, OPEN_READ,
    OPEN_TRUNCATE, OPEN_WRITE, VFS_BULK_PORTS, VFS_PORT, VfsError, VfsProtocol, VfsReply,
    VfsRequest, encode_listing,
};

libnanvix::entry!(main);

/// An open file of a caller.
struct OpenFile {
    inode: u32,
    position: u64,
    flags: u32,
}

/// The open files, by (caller node, its boot epoch, descriptor).
#[derive(Default)]
struct OpenFiles {
    files: BTreeMap<(u32, u32, u32), OpenFile>,
    next: u32,
}

impl OpenFiles {
    /// The caller's file `descriptor`, if open with every flag of `needs`.
    fn get(
        &mut self,
        caller: (u32, u32),
        descriptor: u32,
        needs: u32,
    ) -> Result<&mut OpenFile, VfsError> {
        match self.files.get_mut(&(caller.0, caller.1, descriptor)) {
            Some(file) if file.flags & needs == needs => Ok(file),
            _ => Err(VfsError::BadDescriptor),
        }
    }

    /// Forgets what earlier incarnations of the caller's node held open.
    fn forget_earlier(&mut self, caller: (u32, u32)) {
        self.files
            .retain(|(node, epoch, _), _| *node != caller.0 || *epoch == caller.1);
    }
}

fn now() -> u64 {
    clock::wall_clock_nanoseconds().unwrap_or(0)
}

fn vfs_error(error: FsError) -> VfsError {
    match error {
        FsError::NotFound => VfsError::NotFound,
        FsError::Exists => VfsError::Exists,
        FsError::NotDirectory => VfsError::NotDirectory,
        FsError::IsDirectory => VfsError::IsDirectory,
        FsError::NotEmpty => VfsError::NotEmpty,
        FsError::NameTooLong => VfsError::NameTooLong,
        FsError::Invalid => VfsError::Invalid,
        FsError::NoSpace => VfsError::NoSpace,
        FsError::TooLarge => VfsError::TooLarge,
        FsError::Denied => VfsError::Denied,
        FsError::Journal(JournalError::OutOfRange(_))
        | FsError::Journal(_)
        | FsError::Corrupt(_) => VfsError::Io,
    }
}

/// An absolute path's parent directory and last name.
fn split(path: &str) -> Result<(&str, &str), VfsError> {
    let trimmed = path.trim_end_matches('/');
    if !path.starts_with('/') || trimmed.is_empty() {
        return Err(VfsError::Invalid);
    }
    let at = trimmed.rfind('/').ok_or(VfsError::Invalid)?;
    let parent = if at == 0 { "/" } else { &trimmed[..at] };
    Ok((parent, &trimmed[at + 1..]))
}

/// The server's state: the file system and the open files.
struct Vfs<D: BlockDevice> {
    files: FileSystem<D>,
    open: OpenFiles,
}

impl<D: BlockDevice> Vfs<D> {
    fn resolve(&mut self, path: &str) -> Result<u32, VfsError> {
        self.files.resolve(path, &Caller::root()).map_err(vfs_error)
    }

    /// The parent directory's inode and the last name of `path`.
    fn parent(&mut self, path: &str) -> Result<(u32, String), VfsError> {
        let (parent, name) = split(path)?;
        Ok((self.resolve(parent)?, String::from(name)))
    }

    fn open(
        &mut self,
        caller: (u32, u32),
        path: &str,
        flags: u32,
        mode: u16,
    ) -> Result<u32, VfsError> {
        if flags & !OPEN_FLAGS != 0 || flags & (OPEN_READ | OPEN_WRITE) == 0 {
            return Err(VfsError::Invalid);
        }
        self.open.forget_earlier(caller);
        let held = self
            .open
            .files
            .keys()
            .filter(|(node, _, _)| *node == caller.0)
            .count();
        if held >= OPEN_MAX {
            return Err(VfsError::TooManyOpen);
        }
        let (parent, name) = self.parent(path)?;
        let inode = match self.files.lookup(parent, name.as_bytes()) {
            Ok(_) if flags & OPEN_CREATE != 0 && flags & OPEN_EXCLUSIVE != 0 => {
                return Err(VfsError::Exists);
            }
            Ok(inode) => inode,
            Err(FsError::NotFound) if flags & OPEN_CREATE != 0 => self
                .files
                .create(parent, name.as_bytes(), mode, (0, 0), now())
                .map_err(vfs_error)?,
            Err(error) => return Err(vfs_error(error)),
        };
        if self.files.inode(inode).map_err(vfs_error)?.is_directory() {
            return Err(VfsError::IsDirectory);
        }
        if flags & OPEN_TRUNCATE != 0 && flags & OPEN_WRITE != 0 {
            self.files.truncate(inode, 0, now()).map_err(vfs_error)?;
        }
        self.open.next = self.open.next.wrapping_add(1).max(1);
        let descriptor = self.open.next;
        self.open.files.insert(
            (caller.0, caller.1, descriptor),
            OpenFile {
                inode,
                position: 0,
                flags,
            },
        );
        Ok(descriptor)
    }

    /// Reads up to `length` bytes at the position of the caller's `descriptor`,
    /// sent beside the reply; the position moves on.
    fn read(
        &mut self,
        caller: (u32, u32),
        descriptor: u32,
        length: usize,
    ) -> Result<Handled<VfsReply>, VfsError> {
        let Vfs { files, open } = self;
        let file = open.get(caller, descriptor, OPEN_READ)?;
        let mut bytes = vec![0u8; length];
        let count = files
            .read(file.inode, file.position, &mut bytes)
            .map_err(vfs_error)?;
        bytes.truncate(count);
        file.position += count as u64;
        Ok(Handled::ReplyWith(
            VfsReply::Read {
                count: count as u32,
            },
            bytes,
        ))
    }

    /// Writes `bytes` at the position of the caller's `descriptor` (its file's end
    /// with `OPEN_APPEND`); the position moves on.
    fn write(
        &mut self,
        caller: (u32, u32),
        descriptor: u32,
        bytes: &[u8],
    ) -> Result<Handled<VfsReply>, VfsError> {
        let Vfs { files, open } = self;
        let file = open.get(caller, descriptor, OPEN_WRITE)?;
        let at = if file.flags & OPEN_APPEND != 0 {
            files.inode(file.inode).map_err(vfs_error)?.size
        } else {
            file.position
        };
        let count = files
            .write(file.inode, at, bytes, now())
            .map_err(vfs_error)?;
        file.position = at + count as u64;
        Ok(Handled::Reply(VfsReply::Written {
            count: count as u32,
        }))
    }

    /// Serves `request` from `caller` (node, epoch), with `bulk` beside it.
    fn serve(&mut self, caller: (u32, u32), request: VfsRequest, bulk: Bulk) -> Handled<VfsReply> {
        let accepts = match &bulk {
            Bulk::Accepts(capacity) => *capacity,
            _ => 0,
        };
        let result: Result<Handled<VfsReply>, VfsError> = match request {
            VfsRequest::Open { path, flags, mode } => self
                .open(caller, &path, flags, mode)
                .map(|descriptor| Handled::Reply(VfsReply::Opened { descriptor })),
            VfsRequest::Close { descriptor } => self
                .open
                .files
                .remove(&(caller.0, caller.1, descriptor))
                .map(|_| Handled::Reply(VfsReply::Done))
                .ok_or(VfsError::BadDescriptor),
            VfsRequest::Read { descriptor, length } => {
                self.read(caller, descriptor, (length as usize).min(accepts))
            }
            VfsRequest::Write { descriptor } => match bulk {
                Bulk::Received(bytes) => self.write(caller, descriptor, &bytes),
                _ => Err(VfsError::Invalid),
            },
            VfsRequest::Seek { descriptor, offset } => {
                self.open.get(caller, descriptor, 0).map(|file| {
                    file.position = offset;
                    Handled::Reply(VfsReply::Position { offset })
                })
            }
            VfsRequest::Stat { path } => self.resolve(&path).and_then(|inode| {
                let stat = self.files.stat(inode).map_err(vfs_error)?;
                Ok(Handled::Reply(VfsReply::Stat(FileStat {
                    inode,
                    mode: stat.fields.mode,
                    links: stat.fields.links,
                    user: stat.fields.user,
                    group: stat.fields.group,
                    size: stat.fields.size,
                    modified: stat.fields.modified,
                })))
            }),
            VfsRequest::MakeDirectory { path, mode } => {
                self.parent(&path).and_then(|(parent, name)| {
                    self.files
                        .make_directory(parent, name.as_bytes(), mode, (0, 0), now())
                        .map(|_| Handled::Reply(VfsReply::Done))
                        .map_err(vfs_error)
                })
            }
            VfsRequest::Unlink { path } => self.parent(&path).and_then(|(parent, name)| {
                self.files
                    .unlink(parent, name.as_bytes(), now())
                    .map(|()| Handled::Reply(VfsReply::Done))
                    .map_err(vfs_error)
            }),
            VfsRequest::RemoveDirectory { path } => {
                self.parent(&path).and_then(|(parent, name)| {
                    self.files
                        .remove_directory(parent, name.as_bytes(), now())
                        .map(|()| Handled::Reply(VfsReply::Done))
                        .map_err(vfs_error)
                })
            }
            VfsRequest::Rename { from, to } => {
                self.parent(&from).and_then(|(from_parent, from_name)| {
                    let (to_parent, to_name) = self.parent(&to)?;
                    self.files
                        .rename(
                            (from_parent, from_name.as_bytes()),
                            (to_parent, to_name.as_bytes()),
                            now(),
                        )
                        .map(|()| Handled::Reply(VfsReply::Done))
                        .map_err(vfs_error)
                })
            }
            VfsRequest::List { path } => self.resolve(&path).and_then(|directory| {
                let entries = self.files.read_directory(directory).map_err(vfs_error)?;
                let mut listing = Listing::new();
                for entry in entries {
                    let is_directory = self
                        .files
                        .inode(entry.inode)
                        .is_ok_and(|inode| inode.is_directory());
                    let name = String::from_utf8_lossy(&entry.name).into_owned();
                    listing.push((name, entry.inode, is_directory));
                }
                let bytes = encode_listing(&listing);
                if bytes.len() > accepts {
                    return Err(VfsError::TooLarge);
                }
                Ok(Handled::ReplyWith(
                    VfsReply::Listing {
                        count: listing.len() as u32,
                    },
                    bytes,
                ))
            }),
            VfsRequest::Truncate { descriptor, size } => {
                let Vfs { files, open } = self;
                open.get(caller, descriptor, OPEN_WRITE).and_then(|file| {
                    files
                        .truncate(file.inode, size, now())
                        .map(|()| Handled::Reply(VfsReply::Done))
                        .map_err(vfs_error)
                })
            }
            VfsRequest::Stop => Ok(Handled::Stop),
        };
        result.unwrap_or_else(|error| Handled::Reply(VfsReply::Refused(error)))
    }
}

fn main() -> i32 {
    let device = match BoardDisk::open() {
        Ok(device) => device,
        Err(errno) => {
            println!("vfs-server: no disk on this cluster: {errno}");
            return 1;
        }
    };
    let files = match FileSystem::mount(device) {
        Ok(files) => files,
        Err(error) => {
            println!("vfs-server: cannot mount the disk: {error}");
            return 1;
        }
    };
    let inbox = match Inbox::create(VFS_PORT) {
        Ok(inbox) => inbox,
        Err(errno) => {
            println!("vfs-server: cannot create port {VFS_PORT}: {errno}");
            return 1;
        }
    };
    let board = Clusters::read();
    let own_cluster = board.of_node(process::node());
    let mut vfs = Vfs {
        files,
        open: OpenFiles::default(),
    };
    println!(
        "vfs-server: serving on node {} port {VFS_PORT}",
        process::node()
    );
    let served =
        serve_bulk::<VfsProtocol>(&inbox, VFS_BULK_PORTS, |sender, _, request, bulk, _| {
            // Only the system's own programs (this cluster's) may stop it.
            if request == VfsRequest::Stop && board.of_node(sender.source_node) != own_cluster {
                return Handled::Reply(VfsReply::Refused(VfsError::Denied));
            }
            vfs.serve((sender.source_node, sender.source_epoch), request, bulk)
        });
    let status = match served {
        Ok(counters) => {
            println!("vfs-server: stopped: {counters:?}");
            0
        }
        Err(errno) => {
            println!("vfs-server: reading port {VFS_PORT}: {errno}");
            1
        }
    };
    match vfs.files.unmount() {
        Ok(_) => status,
        Err(error) => {
            println!("vfs-server: unmount: {error}");
            1
        }
    }
}
