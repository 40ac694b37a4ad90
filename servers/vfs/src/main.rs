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
use alloc::vec::Vec;
use libnanvix::cluster::Clusters;
use libnanvix::mailbox::Inbox;
use libnanvix::{clock, posix, println, process, signal};
use nanvix_fs::board::BoardDisk;
use nanvix_fs::files::access::{EXECUTE, READ, WRITE};
use nanvix_fs::{BlockDevice, Caller, FileSystem, FsError, Inode, JournalError};
use nanvix_process_api::Identities;
use nanvix_rpc::transport::{Bulk, Handled, Replies, serve_bulk};
use nanvix_vfs_api::{
    FileStat, Listing, OPEN_APPEND, OPEN_CREATE, OPEN_EXCLUSIVE, OPEN_FLAGS, OPEN_MAX, OPEN_READ,
    OPEN_TRUNCATE, OPEN_WRITE, PATH_MAX, SEEK_CURRENT, SEEK_END, SEEK_SET, TRANSFER_MAX,
    VFS_BULK_PORTS, VFS_PORT, VfsClient, VfsError, VfsProtocol, VfsReply, VfsRequest,
    encode_listing,
};

libnanvix::entry!(main);

/// An open file of a caller.
struct OpenFile {
    inode: u32,
    position: u64,
    flags: u32,
}

/// Who sent a request, as the NoC and its kernel stamped it: node, program id,
/// boot epoch and run (one process of a warm cluster that runs one after another
/// in an epoch; one of the programs that share a node of an I/O cluster).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sender {
    node: u32,
    program: u32,
    epoch: u32,
    run: u32,
}

/// The open files, by (sender, descriptor).
#[derive(Default)]
struct OpenFiles {
    files: BTreeMap<(Sender, u32), OpenFile>,
    next: u32,
}

impl OpenFiles {
    /// The sender's file `descriptor`, if open with every flag of `needs`.
    fn get(
        &mut self,
        sender: Sender,
        descriptor: u32,
        needs: u32,
    ) -> Result<&mut OpenFile, VfsError> {
        match self.files.get_mut(&(sender, descriptor)) {
            Some(file) if file.flags & needs == needs => Ok(file),
            _ => Err(VfsError::BadDescriptor),
        }
    }

    /// Forgets what programs of the sender's node in earlier epochs or runs held
    /// open: they ended. The files they held, one entry a descriptor.
    fn forget_earlier(&mut self, sender: Sender) -> Vec<u32> {
        let mut forgotten = Vec::new();
        self.files.retain(|(holder, _), file| {
            let kept = holder.node != sender.node
                || (holder.epoch, holder.run) == (sender.epoch, sender.run);
            if !kept {
                forgotten.push(file.inode);
            }
            kept
        });
        forgotten
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

/// The reply of an operation that answers nothing but that it was done.
fn done<T>(_: T) -> Handled<VfsReply> {
    Handled::Reply(VfsReply::Done)
}

/// The (user, group) a file or directory `caller` creates belongs to: its user
/// and first group.
fn owner_of(caller: &Caller) -> (u32, u32) {
    (
        caller.user,
        caller.groups.first().copied().unwrap_or(caller.user),
    )
}

/// The user who may do anything.
const SUPERUSER: u32 = 0;

/// The sticky bit of a directory's mode: only an entry's owner, the directory's
/// owner or root removes or renames its entries (`/tmp`).
const STICKY: u16 = 0o1000;

/// The server's state: the file system and the open files.
struct Vfs<D: BlockDevice> {
    files: FileSystem<D>,
    open: OpenFiles,
    /// When the last sync was (wall clock, nanoseconds).
    last_sync: u64,
}

/// The longest the server lets operations wait for a sync while requests come.
const SYNC_INTERVAL: u64 = 5_000_000_000;

impl<D: BlockDevice> Vfs<D> {
    /// The `Stat` reply for `inode`.
    fn stat(&mut self, inode: u32) -> Result<Handled<VfsReply>, VfsError> {
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
    }

    /// Moves the sender's `descriptor` to `offset` from where `whence` says.
    fn seek(
        &mut self,
        sender: Sender,
        descriptor: u32,
        offset: i64,
        whence: u8,
    ) -> Result<Handled<VfsReply>, VfsError> {
        let Vfs { files, open, .. } = self;
        let file = open.get(sender, descriptor, 0)?;
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CURRENT => file.position,
            SEEK_END => files.inode(file.inode).map_err(vfs_error)?.size,
            _ => return Err(VfsError::Invalid),
        };
        let position = base.checked_add_signed(offset).ok_or(VfsError::Invalid)?;
        file.position = position;
        Ok(Handled::Reply(VfsReply::Position { offset: position }))
    }

    /// Makes every operation so far durable.
    fn sync(&mut self) -> Result<(), VfsError> {
        self.last_sync = now();
        self.files.sync().map_err(vfs_error)
    }

    /// Syncs if the last sync is [`SYNC_INTERVAL`] old.
    fn sync_if_due(&mut self) {
        if now().saturating_sub(self.last_sync) >= SYNC_INTERVAL {
            // A failure shows at the next `Sync`, which fails the same way.
            let _ = self.sync();
        }
    }

    fn inode(&mut self, inode: u32) -> Result<Inode, VfsError> {
        self.files.inode(inode).map_err(vfs_error)
    }

    /// `Denied` unless `caller` has every bit of `wanted` on `inode`.
    fn check(&mut self, inode: u32, caller: &Caller, wanted: u16) -> Result<Inode, VfsError> {
        let fields = self.inode(inode)?;
        if FileSystem::<D>::permits(&fields, caller, wanted) {
            Ok(fields)
        } else {
            Err(VfsError::Denied)
        }
    }

    /// The inode `path` names, each directory on the way searched as `caller`.
    fn resolve(&mut self, path: &str, caller: &Caller) -> Result<u32, VfsError> {
        self.files.resolve(path, caller).map_err(vfs_error)
    }

    /// The parent directory's inode and the last name of `path`: the caller must
    /// be allowed to search it (to look the name up), and with `change`, to change
    /// its entries.
    fn parent(
        &mut self,
        path: &str,
        caller: &Caller,
        change: bool,
    ) -> Result<(u32, String), VfsError> {
        let (parent, name) = split(path)?;
        let parent = self.resolve(parent, caller)?;
        self.check(
            parent,
            caller,
            if change { WRITE | EXECUTE } else { EXECUTE },
        )?;
        Ok((parent, String::from(name)))
    }

    /// The parent of `path` and its last name, for removing or renaming that entry
    /// as `caller`: write and search on the parent, and in a sticky directory, the
    /// entry's or the directory's owner (or root).
    fn removable(&mut self, path: &str, caller: &Caller) -> Result<(u32, String), VfsError> {
        let (parent, name) = self.parent(path, caller, true)?;
        let directory = self.inode(parent)?;
        if directory.mode & STICKY != 0 && caller.user != SUPERUSER {
            let entry = self
                .files
                .lookup(parent, name.as_bytes())
                .map_err(vfs_error)?;
            let owner = self.inode(entry)?.user;
            if caller.user != owner && caller.user != directory.user {
                return Err(VfsError::Denied);
            }
        }
        Ok((parent, name))
    }

    fn open(
        &mut self,
        (sender, caller): (Sender, &Caller),
        path: &str,
        flags: u32,
        mode: u16,
    ) -> Result<u32, VfsError> {
        if flags & !OPEN_FLAGS != 0 || flags & (OPEN_READ | OPEN_WRITE) == 0 {
            return Err(VfsError::Invalid);
        }
        for inode in self.open.forget_earlier(sender) {
            self.files.let_go(inode).map_err(vfs_error)?;
        }
        let held = self
            .open
            .files
            .keys()
            .filter(|(holder, _)| (holder.node, holder.program) == (sender.node, sender.program))
            .count();
        if held >= OPEN_MAX {
            return Err(VfsError::TooManyOpen);
        }
        let (parent, name) = self.parent(path, caller, false)?;
        let inode = match self.files.lookup(parent, name.as_bytes()) {
            Ok(_) if flags & OPEN_CREATE != 0 && flags & OPEN_EXCLUSIVE != 0 => {
                return Err(VfsError::Exists);
            }
            Ok(inode) => inode,
            Err(FsError::NotFound) if flags & OPEN_CREATE != 0 => {
                self.check(parent, caller, WRITE | EXECUTE)?;
                let owner = owner_of(caller);
                self.files
                    .create(parent, name.as_bytes(), mode & 0o7777, owner, now())
                    .map_err(vfs_error)?
            }
            Err(error) => return Err(vfs_error(error)),
        };
        if self.inode(inode)?.is_directory() {
            return Err(VfsError::IsDirectory);
        }
        let mut wanted = 0;
        if flags & OPEN_READ != 0 {
            wanted |= READ;
        }
        if flags & OPEN_WRITE != 0 {
            wanted |= WRITE;
        }
        self.check(inode, caller, wanted)?;
        if flags & OPEN_TRUNCATE != 0 && flags & OPEN_WRITE != 0 {
            self.files.truncate(inode, 0, now()).map_err(vfs_error)?;
        }
        // Held while open: it outlives its last name until closed.
        self.files.hold(inode);
        self.open.next = self.open.next.wrapping_add(1).max(1);
        let descriptor = self.open.next;
        self.open.files.insert(
            (sender, descriptor),
            OpenFile {
                inode,
                position: 0,
                flags,
            },
        );
        Ok(descriptor)
    }

    /// Reads up to `length` bytes at the position of the sender's `descriptor`,
    /// sent beside the reply; the position moves on. The reply goes first when it
    /// can (`Replies::promise`: the count is known from the file's size), so that
    /// the caller allows its portal while the server reads the disk.
    fn read(
        &mut self,
        sender: Sender,
        descriptor: u32,
        length: usize,
        replies: &mut Replies,
    ) -> Result<Handled<VfsReply>, VfsError> {
        let Vfs { files, open, .. } = self;
        let file = open.get(sender, descriptor, OPEN_READ)?;
        let size = files.inode(file.inode).map_err(vfs_error)?.size;
        let count = (size.saturating_sub(file.position)).min(length as u64) as usize;
        let reply = VfsReply::Read {
            count: count as u32,
        };
        if replies.promise::<VfsProtocol>(reply, count) {
            let mut bytes = vec![0u8; count];
            // Anything but the promised bytes tells the caller they did not come.
            let read = files.read(file.inode, file.position, &mut bytes);
            return Ok(match read {
                Ok(read) if read == count => {
                    file.position += count as u64;
                    Handled::Fulfil(bytes)
                }
                _ => Handled::Fulfil(Vec::new()),
            });
        }
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

    /// Writes `bytes` at the position of the sender's `descriptor` (its file's end
    /// with `OPEN_APPEND`); the position moves on.
    fn write(
        &mut self,
        sender: Sender,
        descriptor: u32,
        bytes: &[u8],
    ) -> Result<Handled<VfsReply>, VfsError> {
        let Vfs { files, open, .. } = self;
        let file = open.get(sender, descriptor, OPEN_WRITE)?;
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

    /// The entries of the directory at `path`, encoded, beside the reply.
    fn list(
        &mut self,
        path: &str,
        caller: &Caller,
        accepts: usize,
    ) -> Result<Handled<VfsReply>, VfsError> {
        let directory = self.resolve(path, caller)?;
        self.check(directory, caller, READ)?;
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
    }

    /// Serves `request` from `sender`, who acts as `caller` (`None`: a sender the
    /// process server does not know, refused everything), with `bulk` beside it.
    fn serve(
        &mut self,
        sender: Sender,
        caller: Option<&Caller>,
        request: VfsRequest,
        bulk: Bulk,
        replies: &mut Replies,
    ) -> Handled<VfsReply> {
        let Some(caller) = caller else {
            return Handled::Reply(VfsReply::Refused(VfsError::Denied));
        };
        let accepts = match &bulk {
            Bulk::Accepts(capacity) => *capacity,
            _ => 0,
        };
        let result: Result<Handled<VfsReply>, VfsError> = match request {
            VfsRequest::Open { path, flags, mode } => self
                .open((sender, caller), &path, flags, mode)
                .map(|descriptor| Handled::Reply(VfsReply::Opened { descriptor })),
            VfsRequest::Close { descriptor } => {
                match self.open.files.remove(&(sender, descriptor)) {
                    Some(file) => self.files.let_go(file.inode).map(done).map_err(vfs_error),
                    None => Err(VfsError::BadDescriptor),
                }
            }
            VfsRequest::Read { descriptor, length } => self.read(
                sender,
                descriptor,
                (length as usize).min(accepts).min(TRANSFER_MAX),
                replies,
            ),
            VfsRequest::Write { descriptor } => match bulk {
                Bulk::Received(bytes) => self.write(sender, descriptor, &bytes),
                _ => Err(VfsError::Invalid),
            },
            VfsRequest::Seek {
                descriptor,
                offset,
                whence,
            } => self.seek(sender, descriptor, offset, whence),
            VfsRequest::StatFile { descriptor } => self
                .open
                .get(sender, descriptor, 0)
                .map(|file| file.inode)
                .and_then(|inode| self.stat(inode)),
            VfsRequest::Stat { path } => self
                .resolve(&path, caller)
                .and_then(|inode| self.stat(inode)),
            VfsRequest::MakeDirectory { path, mode } => {
                self.parent(&path, caller, false)
                    .and_then(|(parent, name)| {
                        // It exists: say so before whether the caller could make it.
                        if self.files.lookup(parent, name.as_bytes()).is_ok() {
                            return Err(VfsError::Exists);
                        }
                        self.check(parent, caller, WRITE | EXECUTE)?;
                        let owner = owner_of(caller);
                        self.files
                            .make_directory(parent, name.as_bytes(), mode & 0o7777, owner, now())
                            .map(done)
                            .map_err(vfs_error)
                    })
            }
            VfsRequest::Unlink { path } => {
                self.removable(&path, caller).and_then(|(parent, name)| {
                    self.files
                        .unlink(parent, name.as_bytes(), now())
                        .map(done)
                        .map_err(vfs_error)
                })
            }
            VfsRequest::RemoveDirectory { path } => {
                self.removable(&path, caller).and_then(|(parent, name)| {
                    self.files
                        .remove_directory(parent, name.as_bytes(), now())
                        .map(done)
                        .map_err(vfs_error)
                })
            }
            VfsRequest::Rename { from, to } => {
                self.removable(&from, caller)
                    .and_then(|(from_parent, from_name)| {
                        let (to_parent, to_name) = self.parent(&to, caller, true)?;
                        // Replacing an entry removes it: the sticky rule holds there too.
                        if self.files.lookup(to_parent, to_name.as_bytes()).is_ok() {
                            self.removable(&to, caller)?;
                        }
                        self.files
                            .rename(
                                (from_parent, from_name.as_bytes()),
                                (to_parent, to_name.as_bytes()),
                                now(),
                            )
                            .map(done)
                            .map_err(vfs_error)
                    })
            }
            VfsRequest::List { path } => self.list(&path, caller, accepts),
            VfsRequest::Truncate { descriptor, size } => {
                let Vfs { files, open, .. } = self;
                open.get(sender, descriptor, OPEN_WRITE).and_then(|file| {
                    files
                        .truncate(file.inode, size, now())
                        .map(done)
                        .map_err(vfs_error)
                })
            }
            VfsRequest::ChangeMode { path, mode } => {
                self.resolve(&path, caller).and_then(|inode| {
                    let owner = self.inode(inode)?.user;
                    if caller.user != SUPERUSER && caller.user != owner {
                        return Err(VfsError::Denied);
                    }
                    self.files
                        .change_mode(inode, mode & 0o7777, now())
                        .map(done)
                        .map_err(vfs_error)
                })
            }
            VfsRequest::Sync => self.sync().map(done),
            VfsRequest::SyncFile { descriptor } => self
                .open
                .get(sender, descriptor, 0)
                .map(drop)
                .and_then(|()| self.sync())
                .map(done),
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
    let mut files = match FileSystem::mount(device) {
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
    // Under init: at shutdown it stops as a `Stop` from its cluster makes it (the
    // journal checkpointed, the disk unmounted).
    let stop_self = |_| {
        if let Ok(mut own) = VfsClient::connect(process::node()) {
            let _ = own.stop();
        }
    };
    if let Err(errno) = signal::follow_supervisor(stop_self) {
        println!("vfs-server: cannot follow its supervisor: {errno}");
    }
    let board = Clusters::read();
    let own_cluster = board.of_node(process::node());
    // Operations wait for a `Sync` (or the interval) to reach the disk: one flush
    // for many instead of one each.
    files.set_synchronous(false);
    let mut vfs = Vfs {
        files,
        open: OpenFiles::default(),
        last_sync: now(),
    };
    let mut users = Identities::new(posix::process_server_node());
    println!(
        "vfs-server: serving on node {} port {VFS_PORT}",
        process::node()
    );
    let served = serve_bulk::<VfsProtocol>(
        &inbox,
        VFS_BULK_PORTS,
        |header, _, request, bulk, replies| {
            // Only the system's own programs (this cluster's) may stop it.
            if request == VfsRequest::Stop && board.of_node(header.source_node) != own_cluster {
                return Handled::Reply(VfsReply::Refused(VfsError::Denied));
            }
            if request.paths().any(|path| path.len() > PATH_MAX) {
                return Handled::Reply(VfsReply::Refused(VfsError::NameTooLong));
            }
            let sender = Sender {
                node: header.source_node,
                program: header.source_program,
                epoch: header.source_epoch,
                run: header.source_run,
            };
            // Each user is the one member of its own group.
            let caller = users.user_of(header).map(|user| Caller {
                user,
                groups: vec![user],
            });
            let handled = vfs.serve(sender, caller.as_ref(), request, bulk, replies);
            vfs.sync_if_due();
            handled
        },
    );
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
    // Every file still open is closed: one whose last name went goes now.
    let open = core::mem::take(&mut vfs.open.files);
    for file in open.into_values() {
        if let Err(error) = vfs.files.let_go(file.inode) {
            println!("vfs-server: closing at the stop: {error}");
        }
    }
    match vfs.files.unmount() {
        Ok(_) => status,
        Err(error) => {
            println!("vfs-server: unmount: {error}");
            1
        }
    }
}
