//! The NoC shared memory: created and owned by the runner, attached by clusters.

use crate::futex::{self, Scope};
use nanvix_board::Board;
use nanvix_hal::ClusterState;
use nanvix_noc_memory::layout::{DataGeometry, Layout, PAGE_BYTES, ROM_BYTES};
use nanvix_noc_memory::{NocMemory, read_board, write_rom};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Attaches a cluster to the NoC memory behind `fd`: reads the board from the ROM,
/// maps everything read-only and the cluster's own region writable.
pub fn attach(fd: RawFd, cluster: usize) -> io::Result<(Board, NocMemory)> {
    let rom = map(fd, ROM_BYTES, libc::PROT_READ, 0)?;
    let board = read_board(&rom)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()));
    drop(rom);
    let board = board?;
    if cluster >= board.clusters.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cluster index not on this board",
        ));
    }
    let layout = Layout::new(board.clusters.len(), board.channel_depth as usize);
    let whole = map(fd, layout.total_bytes(), libc::PROT_READ, 0)?;
    let region = layout.region(cluster);
    // SAFETY: the target range lies inside `whole` (a mapping we own); MAP_FIXED
    // replaces exactly the cluster's own region with a writable view of the same
    // file range, which nothing else in this process references yet.
    let remapped = unsafe {
        libc::mmap(
            whole.base().add(region).cast(),
            layout.region_bytes(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_FIXED,
            fd,
            region as libc::off_t,
        )
    };
    if remapped == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok((board, whole.with_layout(layout)))
}

fn map(fd: RawFd, bytes: usize, protection: i32, offset: usize) -> io::Result<NocMemory> {
    // SAFETY: a fresh shared mapping of `fd`; the kernel picks the address.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            protection,
            libc::MAP_SHARED,
            fd,
            offset as libc::off_t,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh mapping of `bytes` bytes, page-aligned, that only this value
    // will own; munmap undoes it.
    Ok(unsafe { NocMemory::from_raw(base.cast(), bytes, Layout::new(0, 1), Some(unmap)) })
}

/// Undoes a mapping [`map`] made.
///
/// # Safety
///
/// `base` and `bytes` are a mapping of [`map`]'s that nothing uses any more.
unsafe fn unmap(base: *mut u8, bytes: usize) {
    // SAFETY: the caller's promise.
    unsafe { libc::munmap(base.cast(), bytes) };
}

/// The board's hardware as the runner owns it: the NoC memory and its registers.
pub struct BoardHardware {
    file: OwnedFd,
    memory: NocMemory,
}

impl BoardHardware {
    /// Creates the NoC memory for `board`: an anonymous memory file (nothing appears
    /// in `/dev/shm`, so nothing can be left behind) inherited by cluster processes.
    pub fn create(board: &Board) -> io::Result<BoardHardware> {
        let layout = Layout::new(board.clusters.len(), board.channel_depth as usize);
        BoardHardware::create_with(board, layout, layout.total_bytes())
    }

    /// The NoC memory of a qemu-x86_64 board: the compact data NoC, and a file of a
    /// power of two of bytes (an ivshmem BAR's size must be one), which QEMU maps
    /// through [`BoardHardware::path`].
    pub fn create_for_machines(board: &Board) -> io::Result<BoardHardware> {
        let layout = Layout::with_data(
            board.clusters.len(),
            board.channel_depth as usize,
            DataGeometry::COMPACT,
        );
        BoardHardware::create_with(board, layout, layout.total_bytes().next_power_of_two())
    }

    /// Bytes of the memory file.
    pub fn file_bytes(&self) -> io::Result<u64> {
        let mut status = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: fstat on our own descriptor fills the buffer it is given.
        if unsafe { libc::fstat(self.file.as_raw_fd(), status.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fstat succeeded, so the buffer is filled.
        Ok(unsafe { status.assume_init() }.st_size as u64)
    }

    /// A path of the memory file valid in this process and in its children (which
    /// inherit the descriptor): QEMU's `mem-path`.
    pub fn path(&self) -> String {
        format!("/proc/self/fd/{}", self.file.as_raw_fd())
    }

    /// The memory laid out as `layout`, in a file of `file_bytes` (at least the
    /// layout's).
    fn create_with(board: &Board, layout: Layout, file_bytes: usize) -> io::Result<BoardHardware> {
        // SAFETY: memfd_create with a static NUL-terminated name; no CLOEXEC so the
        // cluster processes the runner starts inherit the descriptor.
        let raw = unsafe { libc::memfd_create(c"nanvix-noc".as_ptr(), 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let file = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: `file` is a valid memory file descriptor.
        if unsafe { libc::ftruncate(file.as_raw_fd(), file_bytes as libc::off_t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let memory = map(
            file.as_raw_fd(),
            layout.total_bytes(),
            libc::PROT_READ | libc::PROT_WRITE,
            0,
        )?
        .with_layout(layout);
        write_rom(&memory, board).map_err(|error| io::Error::other(error.to_string()))?;
        // Every epoch register starts at 0: no cluster has booted (the first boot is
        // epoch 1). The file is new, so it holds zeros already.
        debug_assert_eq!(layout.total_bytes() % PAGE_BYTES, 0);
        Ok(BoardHardware { file, memory })
    }

    /// The descriptor cluster processes inherit.
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// The epoch cluster `index`'s next (or current) boot has.
    /// (The epoch of the current, dead or last incarnation; 0 for a cluster never
    /// booted. A boot takes the next.)
    pub fn epoch(&self, index: usize) -> u32 {
        self.memory.cluster_epoch(index)
    }

    /// Records the status cluster `index`'s incarnation ended with (its worst
    /// program's, or 128 + the signal that ended it; 0 while on). Set it before the
    /// state, whose change readers watch.
    /// With it, how it ended (`ending`, see `BoardControl::cluster_ending`).
    pub fn set_status(&self, index: usize, status: i32, ending: u32) {
        self.memory.set_cluster_status(index, status, ending);
    }

    /// Posts a program request (its bytes) to cluster `index`'s request area: how a
    /// machine, which takes no pipe, hears of one.
    pub fn post_program_request(&self, index: usize, bytes: &[u8]) -> io::Result<()> {
        self.memory
            .post_program_request(index, bytes)
            .map_err(|_| io::Error::other("the request does not fit its area"))
    }

    /// Asks cluster `index` for an orderly shutdown through its request area (a
    /// machine takes a signal as QEMU's end).
    pub fn post_shutdown_request(&self, index: usize) {
        self.memory.post_shutdown_request(index);
    }

    /// The status register of cluster `index`.
    pub fn status(&self, index: usize) -> i32 {
        self.memory.cluster_status(index)
    }

    /// Records that cluster `index` started its `run`-th program of the epoch
    /// (`idle`: false) or that its programs ended and it waits for one (`idle`:
    /// true). Set before the state, whose change readers watch.
    pub fn set_run(&self, index: usize, run: u32, idle: bool) {
        self.memory.set_cluster_run(index, run, idle);
    }

    /// Records that the manifest booted cluster `index` with its program in boot
    /// epoch `epoch` (before the epoch's state is published).
    pub fn set_system_epoch(&self, index: usize, epoch: u32) {
        self.memory.set_cluster_system_epoch(index, epoch);
    }

    /// The state registers say cluster `index` is in.
    pub fn state(&self, index: usize) -> ClusterState {
        self.memory.cluster_state(index)
    }

    /// Sets cluster `index`'s state and wakes every cluster waiting on the NoC, so
    /// none waits forever on a peer that died.
    pub fn set_state(&self, index: usize, new_state: ClusterState) {
        self.memory.set_cluster_state(index, new_state);
        futex::wake(self.memory.generation(), Scope::Shared, i32::MAX);
    }
}
