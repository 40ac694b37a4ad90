//! Programs from the file system: a spawn's program looked up in the search path
//! (`path=`), checked as the user it runs as, read from the vfs server and staged
//! with the board, by a loader thread (the server's thread goes on serving: the
//! vfs server asks it who its callers are while the loader waits for it).

use crate::{State, Waiting};
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use libnanvix::abi::{Errno, PROGRAM_STAGE_MAX};
use libnanvix::cluster;
use libnanvix::fs::{self, Metadata};
use libnanvix::sync::{Mutex, Semaphore};
use libnanvix::{println, thread};
use nanvix_process_api::{ProcessError, ProcessProtocol, ProcessReply};
use nanvix_rpc::transport::Replies;
use process_server::staging::base_name;
use process_server::table::ROOT;

/// Staged programs kept at most, by path (the oldest forgotten first).
const KEPT_MAX: usize = 64;

/// What says a file is the one staged before: its inode, size and last change.
type FileKey = (u32, u64, u64);

/// The search path and the programs staged from it so far.
pub struct Programs {
    /// Absolute directories, in search order.
    search: Vec<String>,
    /// Path, the file it was, and the name it is staged as; oldest first.
    staged: Vec<(String, FileKey, String)>,
}

impl Programs {
    /// Programs looked up in `search` (`:`-separated directories; relative ones
    /// are skipped: the server has no working directory).
    pub fn new(search: &str) -> Programs {
        Programs {
            search: search
                .split(':')
                .filter(|directory| directory.starts_with('/'))
                .map(|directory| String::from(directory.trim_end_matches('/')))
                .collect(),
            staged: Vec::new(),
        }
    }

    /// The name the board runs `program` by for a process of `user`: an absolute
    /// path's file, or the first file of that name in the search path that `user`
    /// may execute, staged (again only if the file changed).
    pub fn resolve(&mut self, program: &str, user: u32) -> Result<String, ProcessError> {
        if program.is_empty() || program.contains('\0') {
            return Err(ProcessError::NoSuchProgram);
        }
        let candidates: Vec<String> = if program.contains('/') {
            if !program.starts_with('/') {
                return Err(ProcessError::NoSuchProgram);
            }
            alloc::vec![String::from(program)]
        } else {
            self.search
                .iter()
                .map(|directory| format!("{directory}/{program}"))
                .collect()
        };
        let mut denied = false;
        for path in candidates {
            match executable(&path, user) {
                Ok(metadata) => return self.stage(&path, &metadata),
                Err(ProcessError::NotExecutable) => denied = true,
                Err(_) => {}
            }
        }
        Err(if denied {
            ProcessError::NotExecutable
        } else {
            ProcessError::NoSuchProgram
        })
    }

    /// Stages the file at `path` (`metadata` its look) unless the same file was.
    fn stage(&mut self, path: &str, metadata: &Metadata) -> Result<String, ProcessError> {
        let key = (metadata.ino(), metadata.len(), metadata.modified());
        if let Some((_, _, name)) = self
            .staged
            .iter()
            .find(|(known, kept, _)| known == path && *kept == key)
        {
            return Ok(name.clone());
        }
        if metadata.len() > PROGRAM_STAGE_MAX as u64 {
            return Err(ProcessError::NotAProgram);
        }
        let elf = fs::read(path).map_err(|errno| {
            println!("process-server: cannot read {path}: {errno}");
            ProcessError::NoSuchProgram
        })?;
        let name = cluster::stage_program(&base_name(path), &elf).map_err(|errno| match errno {
            Errno::ExecFormat | Errno::FileTooLarge => ProcessError::NotAProgram,
            _ => {
                println!("process-server: cannot stage {path}: {errno}");
                ProcessError::NoSuchProgram
            }
        })?;
        self.staged.retain(|(known, _, _)| known != path);
        if self.staged.len() >= KEPT_MAX {
            self.staged.remove(0);
        }
        self.staged.push((String::from(path), key, name.clone()));
        Ok(name)
    }
}

/// The file at absolute `path` if `user` may execute it: each directory on the
/// way searchable (root may search any), the file a regular one with an execute
/// bit of `user`'s class (root: any).
fn executable(path: &str, user: u32) -> Result<Metadata, ProcessError> {
    let missing = |_| ProcessError::NoSuchProgram;
    let mut directory = String::new();
    let components: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let (file, directories) = components.split_last().ok_or(ProcessError::NoSuchProgram)?;
    for part in core::iter::once(&"").chain(directories) {
        if !part.is_empty() {
            directory.push('/');
            directory.push_str(part);
        }
        let look = fs::metadata(if directory.is_empty() {
            "/"
        } else {
            &directory
        })
        .map_err(missing)?;
        if !look.is_dir() {
            return Err(ProcessError::NoSuchProgram);
        }
        if user != ROOT && !fs::may_execute(&look, user) {
            return Err(ProcessError::NotExecutable);
        }
    }
    let metadata = fs::metadata(&format!("{directory}/{file}")).map_err(missing)?;
    if !metadata.is_file() || !fs::may_execute(&metadata, user) {
        return Err(ProcessError::NotExecutable);
    }
    Ok(metadata)
}

/// The loader thread's queue: spawns of programs from the file system, in the
/// order they came, each with whether it waits for a free cluster.
pub struct Loader {
    queue: Mutex<VecDeque<(Waiting, bool)>>,
    ready: Semaphore,
}

impl Loader {
    /// Starts the loader thread, which looks programs up in `search` and spawns
    /// them on `clusters` under `state`'s lock.
    pub fn start(
        search: &str,
        state: Arc<Mutex<State>>,
        clusters: Vec<usize>,
    ) -> Result<Arc<Loader>, Errno> {
        let loader = Arc::new(Loader {
            queue: Mutex::new(VecDeque::new())?,
            ready: Semaphore::new(0)?,
        });
        let (own, mut programs) = (Arc::clone(&loader), Programs::new(search));
        thread::spawn(move || {
            let mut replies = Replies::default();
            loop {
                if own.ready.down().is_err() {
                    println!("process-server: the loader cannot wait");
                    return;
                }
                let next = own
                    .queue
                    .lock()
                    .ok()
                    .and_then(|mut queue| queue.pop_front());
                let Some((load, wait)) = next else {
                    continue;
                };
                let to = load.to;
                let reply = match programs.resolve(&load.program, load.user) {
                    Ok(staged) => match state.lock() {
                        Ok(mut state) => {
                            let load = Waiting {
                                program: staged,
                                ..load
                            };
                            crate::start_or_wait(&mut state, &mut replies, &clusters, load, wait)
                        }
                        Err(_) => Some(ProcessReply::Refused(ProcessError::NoFreeCluster)),
                    },
                    Err(error) => Some(ProcessReply::Refused(error)),
                };
                if let Some(reply) = reply {
                    replies.send::<ProcessProtocol>(to, Ok(reply));
                }
            }
        })?;
        Ok(loader)
    }

    /// Hands the loader a spawn (`wait`: for a free cluster if none is).
    pub fn push(&self, load: Waiting, wait: bool) -> Result<(), Errno> {
        self.queue.lock()?.push_back((load, wait));
        self.ready.up()
    }
}
