//! Test harness: boots a system under a hard timeout and reads its event stream.
//!
//! ```ignore
//! let nanvix = env!("CARGO_BIN_EXE_nanvix");
//! let mut board = Board::start(nanvix, "systems/tiny.toml", Duration::from_secs(60))?;
//! let up = board.wait_for(|event| matches!(event, Event::ClusterUp { .. }))?;
//! let status = board.wait_exit()?;
//! ```
//!
//! [`Board::start`] builds the manifest's image once per test process (`nanvix
//! build`), then boots that image with `nanvix run --events json` in a process group
//! of its own with a hard timeout. Dropping the [`Board`] kills that group (cluster processes die with the
//! runner), so a failing test never leaves processes behind.

pub use nanvix_image_builder::events::{Event, Timed};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Why a harness call failed; the message says what was seen.
#[derive(Debug)]
pub struct HarnessError(pub String);

impl std::fmt::Display for HarnessError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

/// A board under test.
pub struct Board {
    child: Child,
    /// The runner's terminal input, while a test types on it.
    input: Option<std::process::ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<Event>,
    deadline: Instant,
    status: Option<i32>,
}

fn built() -> &'static Mutex<HashMap<PathBuf, PathBuf>> {
    static BUILT: OnceLock<Mutex<HashMap<PathBuf, PathBuf>>> = OnceLock::new();
    BUILT.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Builds the image of `manifest`, once per test process, and returns its path
/// (`target/images/test-<manifest name>.img`; `nanvix build` writes it atomically,
/// so test processes building the same manifest at once do not disturb each other).
pub fn prepare(nanvix: &Path, manifest: &Path) -> Result<PathBuf, HarnessError> {
    let mut built = built()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(image) = built.get(manifest) {
        return Ok(image.clone());
    }
    let root = nanvix_image_builder::workspace_root();
    let stem = manifest
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("system");
    let image = nanvix_image_builder::builder::target_directory(&root)
        .join("images")
        .join(format!("test-{stem}.img"));
    let output = Command::new(nanvix)
        .arg("build")
        .arg(manifest)
        .arg("--output")
        .arg(&image)
        .output()
        .map_err(|error| HarnessError(format!("cannot run {}: {error}", nanvix.display())))?;
    if !output.status.success() {
        return Err(HarnessError(format!(
            "nanvix build {} failed: {}",
            manifest.display(),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    built.insert(manifest.to_path_buf(), image.clone());
    Ok(image)
}

impl Board {
    /// Builds (once) and boots `manifest`; the whole run may last at most `timeout`.
    pub fn start(
        nanvix: impl AsRef<Path>,
        manifest: impl AsRef<Path>,
        timeout: Duration,
    ) -> Result<Board, HarnessError> {
        Board::start_with(nanvix, manifest, timeout, &[])
    }

    /// As [`Board::start`], with extra arguments for `nanvix run`.
    pub fn start_with(
        nanvix: impl AsRef<Path>,
        manifest: impl AsRef<Path>,
        timeout: Duration,
        extra: &[&str],
    ) -> Result<Board, HarnessError> {
        Board::start_with_input(nanvix, manifest, timeout, extra, None)
    }

    /// As [`Board::start_with`], typing `input` on the terminal (then closing it).
    pub fn start_with_input(
        nanvix: impl AsRef<Path>,
        manifest: impl AsRef<Path>,
        timeout: Duration,
        extra: &[&str],
        input: Option<Vec<u8>>,
    ) -> Result<Board, HarnessError> {
        let typed = input.is_some();
        let mut board = Board::boot(nanvix, manifest, timeout, extra, typed)?;
        if let (Some(input), Some(mut stdin)) = (input, board.input.take()) {
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = stdin.write_all(&input);
            });
        }
        Ok(board)
    }

    /// As [`Board::start_with`], with the terminal's input open: the test types on
    /// it ([`Board::type_input`]) and closes it ([`Board::end_input`]).
    pub fn start_interactive(
        nanvix: impl AsRef<Path>,
        manifest: impl AsRef<Path>,
        timeout: Duration,
        extra: &[&str],
    ) -> Result<Board, HarnessError> {
        Board::boot(nanvix, manifest, timeout, extra, true)
    }

    /// Types `bytes` on the runner's terminal input (if still open).
    pub fn type_input(&mut self, bytes: &[u8]) -> Result<(), HarnessError> {
        use std::io::Write;
        let input = self
            .input
            .as_mut()
            .ok_or_else(|| HarnessError("the input is closed".into()))?;
        input
            .write_all(bytes)
            .and_then(|()| input.flush())
            .map_err(|error| HarnessError(format!("cannot type: {error}")))
    }

    /// Closes the runner's terminal input (the end of input).
    pub fn end_input(&mut self) {
        self.input = None;
    }

    fn boot(
        nanvix: impl AsRef<Path>,
        manifest: impl AsRef<Path>,
        timeout: Duration,
        extra: &[&str],
        typed: bool,
    ) -> Result<Board, HarnessError> {
        let nanvix = nanvix.as_ref();
        let image = prepare(nanvix, manifest.as_ref())?;
        let mut child = Command::new(nanvix)
            .arg("run")
            .arg("--events")
            .arg("json")
            .arg("--timeout")
            .arg(timeout.as_secs_f64().to_string())
            .args(extra)
            .arg(&image)
            .stdin(if typed { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .map_err(|error| HarnessError(format!("cannot start nanvix run: {error}")))?;
        let input = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Board {
            child,
            input,
            lines,
            seen: Vec::new(),
            // The runner stops itself at `timeout`; the harness allows a little more
            // for it to report, then kills the whole group.
            deadline: Instant::now() + timeout + Duration::from_secs(10),
            status: None,
        })
    }

    /// Every event read so far, in order.
    pub fn events(&self) -> &[Event] {
        &self.seen
    }

    fn read_one(&mut self) -> Result<Option<Event>, HarnessError> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(remaining) {
            Ok(line) => {
                let timed: Timed = serde_json::from_str(&line).map_err(|error| {
                    HarnessError(format!("not an event line ({error}): {line}"))
                })?;
                self.seen.push(timed.event.clone());
                Ok(Some(timed.event))
            }
            Err(RecvTimeoutError::Disconnected) => Ok(None),
            Err(RecvTimeoutError::Timeout) => Err(HarnessError(format!(
                "hard timeout; events so far:\n{}",
                self.transcript()
            ))),
        }
    }

    /// Reads events until one satisfies `wanted` and returns it.
    pub fn wait_for(&mut self, wanted: impl Fn(&Event) -> bool) -> Result<Event, HarnessError> {
        loop {
            match self.read_one()? {
                Some(event) if wanted(&event) => return Ok(event),
                Some(_) => {}
                None => {
                    return Err(HarnessError(format!(
                        "the board ended without the awaited event; events:\n{}",
                        self.transcript()
                    )));
                }
            }
        }
    }

    /// Reads events until `done(all events so far)` holds.
    pub fn wait_until(&mut self, done: impl Fn(&[Event]) -> bool) -> Result<(), HarnessError> {
        while !done(&self.seen) {
            if self.read_one()?.is_none() {
                return Err(HarnessError(format!(
                    "the board ended before the awaited state; events:\n{}",
                    self.transcript()
                )));
            }
        }
        Ok(())
    }

    /// Reads events until every named cluster reported up (in any order).
    pub fn wait_until_up(&mut self, clusters: &[&str]) -> Result<(), HarnessError> {
        self.wait_until(|events| {
            clusters.iter().all(|name| {
                events.iter().any(
                    |event| matches!(event, Event::ClusterUp { cluster, .. } if cluster == name),
                )
            })
        })
    }

    /// Reads every remaining event and waits for the runner to exit; returns its
    /// exit status.
    pub fn wait_exit(&mut self) -> Result<i32, HarnessError> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        while self.read_one()?.is_some() {}
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|error| HarnessError(format!("cannot wait for nanvix run: {error}")))?
            {
                let code = status.code().unwrap_or(-1);
                self.status = Some(code);
                return Ok(code);
            }
            if Instant::now() >= self.deadline {
                return Err(HarnessError("nanvix run did not exit".into()));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The host process ids of the runner's process group (the runner itself).
    pub fn runner_pid(&self) -> u32 {
        self.child.id()
    }

    /// The events so far, one per line, for failure messages.
    pub fn transcript(&self) -> String {
        self.seen
            .iter()
            .map(|event| format!("  {event:?}\n"))
            .collect()
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        if self.status.is_none() {
            // SAFETY: killpg on the process group we created for the runner; its
            // cluster processes die with it (PR_SET_PDEATHSIG).
            unsafe { libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}

/// Sends `signal` to a host process (a cluster, for fault injection).
pub fn signal(pid: u32, signal: i32) -> Result<(), HarnessError> {
    // SAFETY: kill(2) with a pid the board reported; no memory is involved.
    if unsafe { libc::kill(pid as libc::pid_t, signal) } == 0 {
        Ok(())
    } else {
        Err(HarnessError(format!(
            "kill({pid}, {signal}): {}",
            std::io::Error::last_os_error()
        )))
    }
}

/// Whether a host process with this pid still exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Files in `/dev/shm` whose names mention nanvix (there should never be any).
pub fn shared_memory_leftovers() -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.to_ascii_lowercase().contains("nanvix"))
        .collect()
}
