//! `nanvix bench`: board benchmarks against baselines measured in the same run.
//!
//! Each board benchmark boots a prebuilt image several times ("launches": separate
//! boards, separate processes) through `nanvix run --events json`, reads the event
//! stream, and summarizes every trial of every launch into one row of the
//! `nanvix_bench` schema, compared with a baseline row measured in the same run.
//! Rows go to `target/bench/<benchmark>.json` and a table to the terminal.

use crate::events::{Event, Timed};
use nanvix_bench::{BenchError, Options, Row};
use nanvix_hal_hosted::probe::Protocol;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The board benchmarks, in the order they run.
pub const BENCHMARKS: [&str; 15] = [
    "baselines",
    "kcall",
    "buffer",
    "knoise",
    "noc",
    "mailbox",
    "rpc",
    "data",
    "portal",
    "collectives",
    "boot",
    "spawn",
    "file",
    "memory",
    "idle",
];
/// Longest any one launch may take.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(120);
/// Host CPU sampling window of the idle benchmark.
const IDLE_WINDOW: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// The `nanvix` executable (to boot boards in processes of their own).
    pub nanvix: PathBuf,
    /// Prebuilt images by benchmark manifest stem (`noc`, `mppa256`, `idle`).
    pub images: BTreeMap<String, PathBuf>,
    /// The hosted cluster kernel executable (it also runs the NoC hardware probe).
    pub kernel: PathBuf,
    /// The board the NoC hardware probe attaches two clusters of (`tiny`).
    pub probe_board: nanvix_board::Board,
    /// Separate launches per board benchmark (at least 5 for quoted figures).
    pub launches: usize,
    /// Options of the baselines.
    pub baseline_options: Options,
}

/// A failed benchmark.
#[derive(Debug)]
pub struct BenchFailure(pub String);

impl std::fmt::Display for BenchFailure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl From<BenchError> for BenchFailure {
    fn from(error: BenchError) -> Self {
        BenchFailure(error.to_string())
    }
}

/// A board booted for a benchmark: `nanvix run --events json` in its own process
/// group, killed when dropped.
struct Launch {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    started: Instant,
}

impl Launch {
    fn start(
        options: &BenchOptions,
        image: &Path,
        pins: &[(&str, usize)],
    ) -> Result<Launch, BenchFailure> {
        Self::start_with(options, image, pins, &[])
    }

    /// As [`start`](Self::start), with more arguments of `nanvix run`.
    fn start_with(
        options: &BenchOptions,
        image: &Path,
        pins: &[(&str, usize)],
        more: &[&std::ffi::OsStr],
    ) -> Result<Launch, BenchFailure> {
        let mut command = Command::new(&options.nanvix);
        command
            .args(["run", "--events", "json", "--timeout"])
            .arg(LAUNCH_TIMEOUT.as_secs().to_string())
            .args(more);
        for (cluster, cpu) in pins {
            command.arg("--pin").arg(format!("{cluster}={cpu}"));
        }
        let started = Instant::now();
        let mut child = std::os::unix::process::CommandExt::process_group(
            command
                .arg(image)
                .stdin(Stdio::null())
                .stdout(Stdio::piped()),
            0,
        )
        .spawn()
        .map_err(|error| BenchFailure(format!("cannot start nanvix run: {error}")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchFailure("no stdout".into()))?;
        Ok(Launch {
            child,
            lines: BufReader::new(stdout).lines(),
            started,
        })
    }

    /// The next event, or `None` when the board is off.
    fn next(&mut self) -> Result<Option<Event>, BenchFailure> {
        match self.lines.next() {
            None => Ok(None),
            Some(Err(error)) => Err(BenchFailure(format!("reading events: {error}"))),
            Some(Ok(line)) => serde_json::from_str::<Timed>(&line)
                .map(|timed| Some(timed.event))
                .map_err(|error| BenchFailure(format!("bad event line ({error}): {line}"))),
        }
    }

    /// Reads events to the end and checks the board ended cleanly.
    fn finish(mut self) -> Result<Vec<Event>, BenchFailure> {
        let mut events = Vec::new();
        while let Some(event) = self.next()? {
            events.push(event);
        }
        let status = self
            .child
            .wait()
            .map_err(|error| BenchFailure(error.to_string()))?;
        if !status.success() {
            return Err(BenchFailure(format!(
                "the board ended with {status}: {events:?}"
            )));
        }
        Ok(events)
    }
}

impl Drop for Launch {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: killpg on the process group we created for this launch; cluster
            // processes die with their runner.
            unsafe { libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}

fn parameters(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.clone()))
        .collect()
}

fn image<'a>(options: &'a BenchOptions, stem: &str) -> Result<&'a Path, BenchFailure> {
    options
        .images
        .get(stem)
        .map(PathBuf::as_path)
        .ok_or_else(|| BenchFailure(format!("no image for `{stem}`")))
}

/// Runs the baselines every board benchmark is compared with.
pub fn baselines(options: &BenchOptions) -> Result<Vec<Row>, BenchFailure> {
    let mut rows = Vec::new();
    for (baseline, result) in nanvix_bench::all_baselines(&options.baseline_options) {
        rows.push(result.map_err(|error| BenchFailure(format!("{}: {error}", baseline.label())))?);
    }
    Ok(rows)
}

fn find<'a>(
    rows: &'a [Row],
    name: &str,
    parameter: Option<(&str, &str)>,
) -> Result<&'a Row, BenchFailure> {
    rows.iter()
        .find(|row| {
            row.name == name
                && parameter.is_none_or(|(key, value)| {
                    row.parameters.get(key).map(String::as_str) == Some(value)
                })
        })
        .ok_or_else(|| BenchFailure(format!("baseline {name} was not measured")))
}

/// Measures `baseline` once (one short trial) right before a launch, so baseline and
/// board share the machine's state of the moment; returns that trial's value.
fn interleaved_trial(
    options: &BenchOptions,
    baseline: impl Fn(&Options) -> Result<Row, BenchError>,
) -> Result<f64, BenchFailure> {
    let one_trial = Options {
        trials: 1,
        scale: options.baseline_options.scale * 0.2,
        pinned: true,
    };
    Ok(baseline(&one_trial)?.median)
}

/// The row of a baseline measured interleaved with the launches.
fn interleaved_row(
    name: &str,
    mut parameters: BTreeMap<String, String>,
    unit: &str,
    trials: &[f64],
) -> Result<Row, BenchFailure> {
    parameters.insert("interleaved".into(), "one trial before each launch".into());
    Ok(nanvix_bench::summarize(name, parameters, unit, trials)?)
}

/// A process of a NoC probe, killed (with its group) when dropped.
struct ProbeProcess(Child);

impl Drop for ProbeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: killpg on the process group this probe side leads.
            unsafe { libc::killpg(self.0.id() as libc::pid_t, libc::SIGKILL) };
            let _ = self.0.wait();
        }
    }
}

/// Waits for a probe process to end (killing it past `LAUNCH_TIMEOUT`); an error
/// unless it exited with status 0.
fn finish_probe(mut process: ProbeProcess, side: &str) -> Result<(), BenchFailure> {
    let deadline = Instant::now() + LAUNCH_TIMEOUT;
    loop {
        match process.0.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(BenchFailure(format!(
                    "the NoC probe's {side} ended with {status}"
                )));
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => return Err(BenchFailure(format!("the NoC probe's {side} hung"))),
            Err(error) => return Err(BenchFailure(error.to_string())),
        }
    }
}

/// Round trips per trial of the NoC probe in `nanvix bench`.
const PROBE_ROUNDS: u64 = 20_000;
/// Timed trials per launch of the NoC probe.
const PROBE_TRIALS: u64 = 5;

/// One launch of the NoC hardware probe: fresh NoC memory for `board`, whose
/// clusters 1 and 2 (two compute clusters on the boards here) are attached by two
/// processes of the cluster kernel executable `kernel`, as booted kernels attach
/// them, bouncing an 8-byte message through the hosted NoC alone (or, with
/// [`Protocol::Spin`], one word each way through the same mappings), pinned to
/// the bench CPUs or not. Returns ns per round trip of each of `trials` trials of
/// `rounds` round trips.
pub fn noc_probe(
    kernel: &Path,
    board: &nanvix_board::Board,
    (pinned, protocol): (bool, Protocol),
    rounds: u64,
    trials: u64,
) -> Result<Vec<f64>, BenchFailure> {
    let hardware = nanvix_hal_hosted::hardware::BoardHardware::create(board)
        .map_err(|error| BenchFailure(format!("cannot create the probe's NoC: {error}")))?;
    for cluster in [1, 2] {
        let epoch = hardware.epoch(cluster) + 1;
        hardware.set_state(cluster, nanvix_hal::ClusterState::On { epoch });
    }
    let side = |cluster: usize, partner: usize, cpu: usize, client: bool| {
        let mut command = Command::new(kernel);
        command
            .arg(nanvix_hal_hosted::probe::PROBE_FLAG)
            .arg(format!("fd={}", hardware.fd()))
            .arg(format!("cluster={cluster}"))
            .arg(format!("partner={partner}"))
            .arg(format!("rounds={rounds}"))
            .arg(format!("trials={trials}"))
            .arg(match protocol {
                Protocol::Noc => "protocol=noc",
                Protocol::Spin => "protocol=spin",
            })
            .stdin(Stdio::null())
            .stdout(if client {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        if client {
            command.arg("client");
        }
        // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET only sets a bit of it
        // (`cpu` is one of the two bench CPUs, far below CPU_SETSIZE).
        let cpu_set = pinned.then(|| unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            set
        });
        // SAFETY: the closure runs between fork and exec and makes only async-signal-safe
        // calls: it pins the process when asked and asks for SIGKILL if we die.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                if let Some(set) = &cpu_set
                    && libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        std::os::unix::process::CommandExt::process_group(&mut command, 0)
            .spawn()
            .map(ProbeProcess)
            .map_err(|error| BenchFailure(format!("cannot start the NoC probe: {error}")))
    };
    let server = side(2, 1, nanvix_bench::SERVER_CPU, false)?;
    let mut client = side(1, 2, nanvix_bench::CLIENT_CPU, true)?;
    let stdout = client
        .0
        .stdout
        .take()
        .ok_or_else(|| BenchFailure("no stdout".into()))?;
    let mut trials = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|error| BenchFailure(format!("reading the probe: {error}")))?;
        if let Some(value) = line.strip_prefix("trial ns=") {
            trials.push(
                value
                    .parse::<f64>()
                    .map_err(|_| BenchFailure(format!("bad probe line: {line}")))?,
            );
        }
    }
    finish_probe(client, "client")?;
    finish_probe(server, "server")?;
    if trials.is_empty() {
        return Err(BenchFailure("the NoC probe timed no trial".into()));
    }
    Ok(trials)
}

/// Control-NoC round trips between two compute clusters, pinned to distinct host
/// CPUs and unpinned, against the two-process spin round trip.
pub fn noc(options: &BenchOptions) -> Result<Vec<Row>, BenchFailure> {
    let image = image(options, "noc")?;
    let ghz = nanvix_bench::tsc_ghz()?;
    let mut rows = Vec::new();
    for pinned in [true, false] {
        let pins: &[(&str, usize)] = if pinned {
            &[
                ("cc0", nanvix_bench::CLIENT_CPU),
                ("cc1", nanvix_bench::SERVER_CPU),
            ]
        } else {
            &[]
        };
        let mut trials = Vec::new();
        let mut probe_trials = Vec::new();
        let mut view_trials = Vec::new();
        let mut baseline_trials = Vec::new();
        let mut bytes = String::new();
        for _ in 0..options.launches {
            baseline_trials.push(interleaved_trial(options, |baseline_options| {
                nanvix_bench::spin_round_trip_processes(&baseline_options.with_pinned(pinned))
            })?);
            for (protocol, into) in [
                (Protocol::Spin, &mut view_trials),
                (Protocol::Noc, &mut probe_trials),
            ] {
                into.extend(noc_probe(
                    &options.kernel,
                    &options.probe_board,
                    (pinned, protocol),
                    PROBE_ROUNDS,
                    PROBE_TRIALS,
                )?);
            }
            let (launch_trials, size) =
                round_trip_lines(options, image, pins, "bench noc_round_trip cycles=", ghz)?;
            trials.extend(launch_trials);
            bytes = size;
        }
        let baseline = spin_processes_row(pinned, &baseline_trials)?;
        let row = round_trip_row(
            "noc.control_round_trip",
            options,
            (pinned, bytes),
            &trials,
            &baseline,
        )?;
        let hardware = round_trip_row(
            "noc.hardware_round_trip",
            options,
            (pinned, "8".to_string()),
            &probe_trials,
            &baseline,
        )?;
        // The same spin protocol through the clusters' mappings (others' regions
        // read-only): the floor the NoC's isolation sets, and the probe against it.
        let view = round_trip_row(
            "noc.spin_view_round_trip",
            options,
            (pinned, "4".to_string()),
            &view_trials,
            &baseline,
        )?;
        let over_view = round_trip_row(
            "noc.hardware_over_view",
            options,
            (pinned, "8".to_string()),
            &probe_trials,
            &view,
        )?;
        rows.extend([baseline, view, hardware, over_view, row]);
    }
    Ok(rows)
}

/// One launch of `image` (with `pins`): the round trips cc0 printed as lines
/// `PREFIX<cycles> bytes=<B>`, in nanoseconds (`ghz` TSC cycles per ns), and B.
fn round_trip_lines(
    options: &BenchOptions,
    image: &Path,
    pins: &[(&str, usize)],
    prefix: &str,
    ghz: f64,
) -> Result<(Vec<f64>, String), BenchFailure> {
    let mut trials = Vec::new();
    let mut bytes = String::new();
    for event in Launch::start(options, image, pins)?.finish()? {
        if let Event::Console { cluster, line, .. } = event
            && cluster == "cc0"
            && let Some(rest) = line.strip_prefix(prefix)
        {
            // The value after the cycles (` bytes=B`, ` clusters=N`).
            let (cycles, size) = rest
                .split_once(' ')
                .map(|(cycles, tail)| (cycles, tail.split_once('=').map_or("", |(_, value)| value)))
                .unwrap_or((rest, ""));
            let cycles: f64 = cycles
                .parse()
                .map_err(|_| BenchFailure(format!("bad benchmark line: {line}")))?;
            trials.push(cycles / ghz);
            bytes = size.to_string();
        }
    }
    Ok((trials, bytes))
}

/// Mailbox round trips between two compute clusters (`apps/bench-noc mode=mailbox`
/// on cc0 and cc1 of `systems/bench/mailbox.toml`), pinned to distinct host CPUs,
/// against the two-process spin round trip measured right before each launch.
pub fn mailbox(options: &BenchOptions) -> Result<Vec<Row>, BenchFailure> {
    let image = image(options, "mailbox")?;
    let ghz = nanvix_bench::tsc_ghz()?;
    let pins: &[(&str, usize)] = &[
        ("cc0", nanvix_bench::CLIENT_CPU),
        ("cc1", nanvix_bench::SERVER_CPU),
    ];
    let mut trials = Vec::new();
    let mut baseline_trials = Vec::new();
    let mut bytes = String::new();
    for _ in 0..options.launches {
        baseline_trials.push(interleaved_trial(options, |baseline_options| {
            nanvix_bench::spin_round_trip_processes(&baseline_options.with_pinned(true))
        })?);
        let (launch_trials, size) = round_trip_lines(
            options,
            image,
            pins,
            "bench mailbox_round_trip cycles=",
            ghz,
        )?;
        trials.extend(launch_trials);
        bytes = size;
    }
    let baseline = spin_processes_row(true, &baseline_trials)?;
    let row = round_trip_row(
        "mailbox.round_trip",
        options,
        (true, bytes),
        &trials,
        &baseline,
    )?;
    Ok(vec![baseline, row])
}

/// Null RPC round trips from cc0 to a null server on cc1 (`apps/bench-rpc` on
/// `systems/bench/rpc.toml`: the RPC frame, a typed client, the server loop),
/// pinned, against the mailbox round trip between the same two clusters measured in
/// a launch right before each RPC launch (the target: at most 1.5x).
pub fn rpc(options: &BenchOptions) -> Result<Vec<Row>, BenchFailure> {
    let rpc_image = image(options, "rpc")?;
    let ghz = nanvix_bench::tsc_ghz()?;
    let pins: &[(&str, usize)] = &[
        ("cc0", nanvix_bench::CLIENT_CPU),
        ("cc1", nanvix_bench::SERVER_CPU),
    ];
    let mut mailbox_trials = Vec::new();
    let mut trials = Vec::new();
    for _ in 0..options.launches {
        mailbox_trials.extend(mailbox_launch(options, ghz)?);
        let (calls, _) = round_trip_lines(
            options,
            rpc_image,
            pins,
            "bench rpc_round_trip cycles=",
            ghz,
        )?;
        trials.extend(calls);
    }
    let baseline = mailbox_baseline_row(&mailbox_trials, "RPC")?;
    let mut row = nanvix_bench::summarize(
        "rpc.null_round_trip",
        parameters(&[
            ("pinned", "true".to_string()),
            ("launches", options.launches.to_string()),
        ]),
        nanvix_bench::UNIT_NANOSECONDS,
        &trials,
    )?;
    nanvix_bench::compare(&mut row, &baseline)?;
    Ok(vec![baseline, row])
}

/// One launch of the mailbox benchmark (`systems/bench/mailbox.toml`, cc0 and cc1
/// pinned): its round trips in ns.
fn mailbox_launch(options: &BenchOptions, ghz: f64) -> Result<Vec<f64>, BenchFailure> {
    let pins: &[(&str, usize)] = &[
        ("cc0", nanvix_bench::CLIENT_CPU),
        ("cc1", nanvix_bench::SERVER_CPU),
    ];
    let image = image(options, "mailbox")?;
    round_trip_lines(
        options,
        image,
        pins,
        "bench mailbox_round_trip cycles=",
        ghz,
    )
    .map(|(trials, _)| trials)
}

/// The mailbox round trips of launches made one before each launch of `what`, as a
/// baseline row.
fn mailbox_baseline_row(trials: &[f64], what: &str) -> Result<Row, BenchFailure> {
    Ok(nanvix_bench::summarize(
        "mailbox.round_trip",
        parameters(&[
            ("bytes", "8".to_string()),
            ("pinned", "true".to_string()),
            (
                "interleaved",
                format!("one launch before each {what} launch"),
            ),
        ]),
        nanvix_bench::UNIT_NANOSECONDS,
        trials,
    )?)
}

/// The two-process spin round trip, one trial before each launch, as the
/// baseline row of round trips with that pinning.
fn spin_processes_row(pinned: bool, trials: &[f64]) -> Result<Row, BenchFailure> {
    interleaved_row(
        "baseline.spin_round_trip_processes",
        parameters(&[("pinned", pinned.to_string())]),
        nanvix_bench::UNIT_NANOSECONDS,
        trials,
    )
}

/// Row `name` of round trips (ns) with their pinning and payload size, over the
/// launches, as a ratio against `baseline`.
fn round_trip_row(
    name: &str,
    options: &BenchOptions,
    (pinned, bytes): (bool, String),
    trials: &[f64],
    baseline: &Row,
) -> Result<Row, BenchFailure> {
    let mut row = nanvix_bench::summarize(
        name,
        parameters(&[
            ("pinned", pinned.to_string()),
            ("bytes", bytes),
            ("launches", options.launches.to_string()),
        ]),
        nanvix_bench::UNIT_NANOSECONDS,
        trials,
    )?;
    nanvix_bench::compare(&mut row, baseline)?;
    Ok(row)
}

/// The paper's L-Kcall and R-Kcall: `thread_self` on the calling core and the remote
/// `noop` through the master (`apps/bench-kcall` on cc0 and cc1 of
/// `systems/bench/kcall.toml`), against a function call through a pointer and the
/// two-thread spin round trip (unpinned, like the cluster's threads), both measured
/// interleaved with the launches.
pub fn kcall(options: &BenchOptions) -> Result<Vec<Row>, BenchFailure> {
    let image = image(options, "kcall")?;
    let ghz = nanvix_bench::tsc_ghz()?;
    let mut local = Vec::new();
    let mut remote = Vec::new();
    let mut open_close = Vec::new();
    let mut calls = Vec::new();
    let mut round_trips = Vec::new();
    let mut thread_trips = Vec::new();
    // Fork and join times by thread count.
    let mut forks: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut joins: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut fork_cpus: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut join_cpus: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut fork_joins = Vec::new();
    for _ in 0..options.launches {
        calls.push(interleaved_trial(options, nanvix_bench::function_call)?);
        round_trips.push(interleaved_trial(options, |baseline_options| {
            nanvix_bench::spin_round_trip_threads(&baseline_options.with_pinned(false))
        })?);
        thread_trips.push(interleaved_trial(options, |baseline_options| {
            nanvix_bench::pthread_create_join(&baseline_options.with_pinned(false))
        })?);
        for event in Launch::start(options, image, &[])?.finish()? {
            let Event::Console { line, .. } = event else {
                continue;
            };
            if let Some(rest) = line.strip_prefix("bench fork_join threads=") {
                let (threads, fork, join, fork_cpu, join_cpu) = parse_fork_join(rest)
                    .ok_or_else(|| BenchFailure(format!("bad benchmark line: {line}")))?;
                forks.entry(threads).or_default().push(fork / ghz);
                joins.entry(threads).or_default().push(join / ghz);
                fork_cpus.entry(threads).or_default().push(fork_cpu);
                join_cpus.entry(threads).or_default().push(join_cpu);
                if threads == 1 {
                    fork_joins.push((fork + join) / ghz);
                }
                continue;
            }
            for (prefix, trials) in [
                ("bench kcall_local cycles=", &mut local),
                ("bench kcall_remote cycles=", &mut remote),
                ("bench kcall_open_close cycles=", &mut open_close),
            ] {
                if let Some(cycles) = line.strip_prefix(prefix) {
                    let cycles: f64 = cycles
                        .parse()
                        .map_err(|_| BenchFailure(format!("bad benchmark line: {line}")))?;
                    trials.push(cycles / ghz);
                }
            }
        }
    }
    let launches = ("launches", options.launches.to_string());
    let call_baseline = interleaved_row(
        "baseline.function_call",
        BTreeMap::new(),
        nanvix_bench::UNIT_NANOSECONDS,
        &calls,
    )?;
    let round_trip_baseline = interleaved_row(
        "baseline.spin_round_trip_threads",
        parameters(&[("pinned", "false".to_string())]),
        nanvix_bench::UNIT_NANOSECONDS,
        &round_trips,
    )?;
    let mut local_row = nanvix_bench::summarize(
        "kcall.local",
        parameters(&[("call", "thread_self".to_string()), launches.clone()]),
        nanvix_bench::UNIT_NANOSECONDS,
        &local,
    )?;
    nanvix_bench::compare(&mut local_row, &call_baseline)?;
    let mut remote_row = nanvix_bench::summarize(
        "kcall.remote",
        parameters(&[("call", "noop".to_string()), launches.clone()]),
        nanvix_bench::UNIT_NANOSECONDS,
        &remote,
    )?;
    nanvix_bench::compare(&mut remote_row, &round_trip_baseline)?;
    // Placement: a pair of local calls that change the cluster's mailbox table,
    // against the empty trip through the master any remote call would add.
    let mut open_close_row = nanvix_bench::summarize(
        "kcall.open_close",
        parameters(&[
            ("calls", "mailbox_open+mailbox_close".to_string()),
            launches.clone(),
        ]),
        nanvix_bench::UNIT_NANOSECONDS,
        &open_close,
    )?;
    nanvix_bench::compare(&mut open_close_row, &remote_row)?;
    let thread_baseline = interleaved_row(
        "baseline.pthread_create_join",
        parameters(&[("pinned", "false".to_string())]),
        nanvix_bench::UNIT_NANOSECONDS,
        &thread_trips,
    )?;
    let mut fork_join_row = nanvix_bench::summarize(
        "thread.fork_join",
        parameters(&[("threads", "1".to_string()), launches.clone()]),
        nanvix_bench::UNIT_NANOSECONDS,
        &fork_joins,
    )?;
    nanvix_bench::compare(&mut fork_join_row, &thread_baseline)?;
    let mut rows = vec![
        call_baseline,
        local_row,
        round_trip_baseline,
        remote_row,
        open_close_row,
        thread_baseline,
        fork_join_row,
    ];
    // The curve: time to start n threads, and to join them, n = 1..14, and the
    // spawning thread's CPU time in each (no target).
    for (name, times) in [
        ("thread.fork", &forks),
        ("thread.join", &joins),
        ("thread.fork_cpu", &fork_cpus),
        ("thread.join_cpu", &join_cpus),
    ] {
        for (threads, trials) in times {
            rows.push(nanvix_bench::summarize(
                name,
                parameters(&[("threads", threads.to_string()), launches.clone()]),
                nanvix_bench::UNIT_NANOSECONDS,
                trials,
            )?);
        }
    }
    Ok(rows)
}

/// `<n> fork=<cycles> join=<cycles> fork_cpu=<ns> join_cpu=<ns>` of a fork-join
/// line: (threads, fork cycles, join cycles, fork CPU ns, join CPU ns).
fn parse_fork_join(text: &str) -> Option<(usize, f64, f64, f64, f64)> {
    let mut fields = text.split(' ');
    let threads = fields.next()?.parse().ok()?;
    let mut field = |key: &str| fields.next()?.strip_prefix(key)?.parse::<f64>().ok();
    Some((
        threads,
        field("fork=")?,
        field("join=")?,
        field("fork_cpu=")?,
        field("join_cpu=")?,
    ))
}

/// Thread counts of the Buffer (as `apps/bench-buffer` plays them).
const BUFFER_THREADS: [usize; 5] = [2, 6, 8, 10, 14];
/// Objects each producer sends, and runs of each configuration, per launch.
const BUFFER_OBJECTS: usize = 32;
const BUFFER_TRIALS: usize = 3;

/// The paper's Buffer on the duo board's compute cluster (one user core, no more
/// cores than this machine has CPUs), the cluster pinned to one CPU, against the
/// same workload in plain pthreads pinned to that CPU, both in each launch. Per thread count: bandwidth (GB/s over
/// every object size and run) and thread CPU time per KiB moved.
pub fn buffer(options: &BenchOptions) -> Result<Vec<Row>, BenchFailure> {
    let image = image(options, "buffer")?;
    let ghz = nanvix_bench::tsc_ghz()?;
    let mut board_bandwidth: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut board_cpu: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut pthread_bandwidth: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut pthread_cpu: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let moved = |threads: usize, bytes: usize| (threads / 2 * BUFFER_OBJECTS * bytes) as f64;
    for _ in 0..options.launches {
        for threads in BUFFER_THREADS {
            for kib in 1..=8 {
                let bytes = kib * 1024;
                for _ in 0..BUFFER_TRIALS {
                    let (wall, cpu) = nanvix_bench::buffer_pthreads(
                        threads / 2,
                        bytes,
                        BUFFER_OBJECTS,
                        Some(&[nanvix_bench::CLIENT_CPU]),
                    )?;
                    pthread_bandwidth
                        .entry(threads)
                        .or_default()
                        .push(moved(threads, bytes) / wall);
                    pthread_cpu
                        .entry(threads)
                        .or_default()
                        .push(cpu / (moved(threads, bytes) / 1024.0));
                }
            }
        }
        for event in
            Launch::start(options, image, &[("cc0", nanvix_bench::CLIENT_CPU)])?.finish()?
        {
            let Event::Console { line, .. } = event else {
                continue;
            };
            let Some(rest) = line.strip_prefix("bench buffer ") else {
                continue;
            };
            let (threads, bytes, cycles, cpu) = parse_buffer(rest)
                .ok_or_else(|| BenchFailure(format!("bad benchmark line: {line}")))?;
            board_bandwidth
                .entry(threads)
                .or_default()
                .push(moved(threads, bytes) / (cycles / ghz));
            board_cpu
                .entry(threads)
                .or_default()
                .push(cpu / (moved(threads, bytes) / 1024.0));
        }
    }
    let mut rows = Vec::new();
    for threads in BUFFER_THREADS {
        let parameters_of = || {
            parameters(&[
                ("threads", threads.to_string()),
                ("launches", options.launches.to_string()),
                ("sizes", "1-8 KiB".to_string()),
            ])
        };
        let empty = Vec::new();
        for (name, baseline_name, unit, board, pthreads) in [
            (
                "buffer.bandwidth",
                "baseline.buffer_pthreads_bandwidth",
                nanvix_bench::UNIT_GIGABYTES_PER_SECOND,
                board_bandwidth.get(&threads).unwrap_or(&empty),
                pthread_bandwidth.get(&threads).unwrap_or(&empty),
            ),
            (
                "buffer.cpu_per_kib",
                "baseline.buffer_pthreads_cpu_per_kib",
                nanvix_bench::UNIT_NANOSECONDS,
                board_cpu.get(&threads).unwrap_or(&empty),
                pthread_cpu.get(&threads).unwrap_or(&empty),
            ),
        ] {
            let baseline = nanvix_bench::summarize(baseline_name, parameters_of(), unit, pthreads)?;
            let mut row = nanvix_bench::summarize(name, parameters_of(), unit, board)?;
            nanvix_bench::compare(&mut row, &baseline)?;
            rows.push(baseline);
            rows.push(row);
        }
        // Speedup against one pair: each run's bandwidth over the median bandwidth
        // of one pair (2 threads) in the same launches, on both sides.
        let speedups = |samples: &BTreeMap<usize, Vec<f64>>| -> Result<Vec<f64>, BenchFailure> {
            let one_pair = nanvix_bench::summarize(
                "buffer.one_pair",
                parameters_of(),
                nanvix_bench::UNIT_GIGABYTES_PER_SECOND,
                samples.get(&BUFFER_THREADS[0]).unwrap_or(&empty),
            )?;
            Ok(samples
                .get(&threads)
                .unwrap_or(&empty)
                .iter()
                .map(|bandwidth| bandwidth / one_pair.median)
                .collect())
        };
        let baseline = nanvix_bench::summarize(
            "baseline.buffer_pthreads_speedup",
            parameters_of(),
            nanvix_bench::UNIT_TIMES,
            &speedups(&pthread_bandwidth)?,
        )?;
        let mut row = nanvix_bench::summarize(
            "buffer.speedup",
            parameters_of(),
            nanvix_bench::UNIT_TIMES,
            &speedups(&board_bandwidth)?,
        )?;
        nanvix_bench::compare(&mut row, &baseline)?;
        rows.extend([baseline, row]);
    }
    Ok(rows)
}

/// KNoise steps per worker (as `systems/bench/knoise.toml` asks `apps/bench-knoise`).
const KNOISE_STEPS: u32 = 2_000;
/// User cores of the KNoise cluster (tiny's compute clusters).
const KNOISE_CORES: usize = 3;

/// The paper's KNoise on the tiny board's cc0 (3 user cores: more than this
/// machine's CPUs, so thread CPU time is the figure): per worker count, the CPU
/// time of a step with noise (the other user cores making remote kcalls) against
/// without, and without noise against the same steps in plain pthreads.
pub fn knoise(options: &BenchOptions) -> Result<Vec<Row>, BenchFailure> {
    let image = image(options, "knoise")?;
    let mut board: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
    let mut pthreads: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let per_step = |cpu: f64| cpu / f64::from(KNOISE_STEPS);
    for _ in 0..options.launches {
        for workers in 1..=KNOISE_CORES {
            for (_, cpu) in nanvix_bench::knoise_pthreads(workers, 0, KNOISE_STEPS)? {
                pthreads.entry(workers).or_default().push(per_step(cpu));
            }
        }
        for event in Launch::start(options, image, &[])?.finish()? {
            let Event::Console { line, .. } = event else {
                continue;
            };
            let Some(rest) = line.strip_prefix("bench knoise ") else {
                continue;
            };
            let (workers, noise, cpu) = parse_knoise(rest)
                .ok_or_else(|| BenchFailure(format!("bad benchmark line: {line}")))?;
            board
                .entry((workers, noise))
                .or_default()
                .push(per_step(cpu));
        }
    }
    let mut rows = Vec::new();
    let empty = Vec::new();
    for workers in 1..=KNOISE_CORES {
        let parameters_of = |noise: &str| {
            parameters(&[
                ("workers", workers.to_string()),
                ("noise", noise.to_string()),
                ("launches", options.launches.to_string()),
            ])
        };
        let [noisy, quiet, again] = [0, 1, 2].map(|run| {
            nanvix_bench::summarize(
                "knoise.cpu_per_step",
                parameters_of(KNOISE_RUNS[run]),
                nanvix_bench::UNIT_NANOSECONDS,
                board.get(&(workers, run)).unwrap_or(&empty),
            )
        });
        let (mut noisy, quiet, mut again) = (noisy?, quiet?, again?);
        nanvix_bench::compare(&mut noisy, &quiet)?;
        // Without noise against without noise: the resolution of the figure.
        nanvix_bench::compare(&mut again, &quiet)?;
        let baseline = nanvix_bench::summarize(
            "baseline.knoise_pthreads_cpu_per_step",
            parameters_of("no"),
            nanvix_bench::UNIT_NANOSECONDS,
            pthreads.get(&workers).unwrap_or(&empty),
        )?;
        let mut against_pthreads = quiet.clone();
        against_pthreads.name = "knoise.cpu_per_step_vs_pthreads".into();
        nanvix_bench::compare(&mut against_pthreads, &baseline)?;
        rows.extend([baseline, quiet, noisy, again, against_pthreads]);
    }
    Ok(rows)
}

/// The KNoise runs: with noise, without, without again.
const KNOISE_RUNS: [&str; 3] = ["yes", "no", "again"];

/// `workers=<w> noise=<yes|no|again> cycles=<c> cpu=<ns>` of a KNoise line; the
/// run as its position in `KNOISE_RUNS`.
fn parse_knoise(text: &str) -> Option<(usize, usize, f64)> {
    let mut fields = text.split(' ');
    let workers = fields.next()?.strip_prefix("workers=")?.parse().ok()?;
    let noise = fields.next()?.strip_prefix("noise=")?;
    let noise = KNOISE_RUNS.iter().position(|run| *run == noise)?;
    let _cycles = fields.next()?.strip_prefix("cycles=")?;
    let cpu = fields.next()?.strip_prefix("cpu=")?.parse().ok()?;
    Some((workers, noise, cpu))
}

/// `threads=<n> bytes=<b> cycles=<c> cpu=<ns>` of a Buffer line.
fn parse_buffer(text: &str) -> Option<(usize, usize, f64, f64)> {
    let mut fields = text.split(' ');
    let mut field = |key: &str| fields.next()?.strip_prefix(key)?.parse::<f64>().ok();
    let threads = field("threads=")? as usize;
    let bytes = field("bytes=")? as usize;
    Some((threads, bytes, field("cycles=")?, field("cpu=")?))
}

/// The sizes `apps/bench-noc mode=data` plays.
const DATA_SIZES: [usize; 3] = [4096, 64 * 1024, 1024 * 1024];

/// Data-NoC round trips of 4 KiB, 64 KiB and 1 MiB between two compute clusters,
/// pinned to distinct host CPUs, as bandwidth (bytes both ways over the round trip)
/// against the cross-core copy of the same size.
pub fn data(options: &BenchOptions) -> Result<Vec<Row>, BenchFailure> {
    transfers(
        options,
        "data",
        "bench data_round_trip cycles=",
        "noc.data_round_trip",
    )
}

/// The operations `apps/bench-collectives` times, in its order.
const COLLECTIVES: [&str; 4] = ["barrier", "broadcast", "gather", "allgather"];

/// A barrier, and a broadcast, gather and allgather of 1 KiB, across the 16
/// compute clusters of the MPPA-256 board (`apps/bench-collectives`,
/// `systems/bench/collectives.toml`; unpinned: 17 clusters share the host's
/// CPUs), each against the mailbox round trip between two pinned compute
/// clusters measured in a launch right before each collectives launch.
pub fn collectives(options: &BenchOptions) -> Result<Vec<Row>, BenchFailure> {
    let collectives_image = image(options, "collectives")?;
    let ghz = nanvix_bench::tsc_ghz()?;
    let mut mailbox_trials = Vec::new();
    let mut trials: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut clusters = String::new();
    for _ in 0..options.launches {
        mailbox_trials.extend(mailbox_launch(options, ghz)?);
        for event in Launch::start(options, collectives_image, &[])?.finish()? {
            if let Event::Console { cluster, line, .. } = event
                && cluster == "cc0"
                && let Some(rest) = line.strip_prefix("bench ")
                && let Some((operation, rest)) = rest.split_once(" cycles=")
                && let Some(operation) = COLLECTIVES.iter().find(|name| **name == operation)
            {
                let (cycles, count) = rest.split_once(" clusters=").unwrap_or((rest, ""));
                let cycles: f64 = cycles
                    .parse()
                    .map_err(|_| BenchFailure(format!("bad benchmark line: {line}")))?;
                trials.entry(operation).or_default().push(cycles / ghz);
                clusters = count.to_string();
            }
        }
    }
    let baseline = mailbox_baseline_row(&mailbox_trials, "collectives")?;
    let mut rows = Vec::new();
    for operation in COLLECTIVES {
        let mut row = nanvix_bench::summarize(
            &format!("collective.{operation}"),
            parameters(&[
                ("clusters", clusters.clone()),
                (
                    "bytes",
                    if operation == "barrier" { "0" } else { "1024" }.to_string(),
                ),
                ("pinned", "false".to_string()),
                ("launches", options.launches.to_string()),
            ]),
            nanvix_bench::UNIT_NANOSECONDS,
            trials.get(operation).map(Vec::as_slice).unwrap_or_default(),
        )?;
        nanvix_bench::compare(&mut row, &baseline)?;
        rows.push(row);
    }
    rows.insert(0, baseline);
    Ok(rows)
}

/// Portal round trips of 4 KiB, 64 KiB and 1 MiB between cc0 and cc1 pinned to
/// CPUs 0 and 1 (`apps/bench-noc mode=portal`: each transfer allowed by its
/// receiver first), as GB/s, against a cross-core copy of the same size.
pub fn portal(options: &BenchOptions) -> Result<Vec<Row>, BenchFailure> {
    transfers(
        options,
        "portal",
        "bench portal_round_trip cycles=",
        "portal.round_trip",
    )
}

/// Round trips of the data sizes through image `stem`, read from cc0's lines
/// `PREFIX<cycles> bytes=<B>`, as rows `name` in GB/s (bytes both ways over the
/// round trip's time) against a cross-core copy of the same size.
fn transfers(
    options: &BenchOptions,
    stem: &str,
    prefix: &str,
    name: &str,
) -> Result<Vec<Row>, BenchFailure> {
    let image = image(options, stem)?;
    let ghz = nanvix_bench::tsc_ghz()?;
    let pins = [
        ("cc0", nanvix_bench::CLIENT_CPU),
        ("cc1", nanvix_bench::SERVER_CPU),
    ];
    let mut trials: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut baseline_trials: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for _ in 0..options.launches {
        for bytes in DATA_SIZES {
            let trial = interleaved_trial(options, |baseline_options| {
                nanvix_bench::cross_core_copy(baseline_options, bytes)
            })?;
            baseline_trials.entry(bytes).or_default().push(trial);
        }
        for event in Launch::start(options, image, &pins)?.finish()? {
            if let Event::Console { cluster, line, .. } = event
                && cluster == "cc0"
                && let Some(rest) = line.strip_prefix(prefix)
                && let Some((cycles, bytes)) = rest.split_once(" bytes=")
            {
                let (Ok(cycles), Ok(bytes)) = (cycles.parse::<f64>(), bytes.parse::<usize>())
                else {
                    return Err(BenchFailure(format!("bad benchmark line: {line}")));
                };
                let nanoseconds = cycles / ghz;
                trials
                    .entry(bytes)
                    .or_default()
                    .push(2.0 * bytes as f64 / nanoseconds);
            }
        }
    }
    let mut rows = Vec::new();
    for (bytes, values) in trials {
        let mut row = nanvix_bench::summarize(
            name,
            parameters(&[
                ("bytes", bytes.to_string()),
                ("pinned", "true".into()),
                ("launches", options.launches.to_string()),
            ]),
            nanvix_bench::UNIT_GIGABYTES_PER_SECOND,
            &values,
        )?;
        let baseline = interleaved_row(
            "baseline.cross_core_copy",
            parameters(&[("bytes", bytes.to_string()), ("pinned", "true".into())]),
            nanvix_bench::UNIT_GIGABYTES_PER_SECOND,
            baseline_trials
                .get(&bytes)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        )?;
        nanvix_bench::compare(&mut row, &baseline)?;
        rows.push(baseline);
        rows.push(row);
    }
    Ok(rows)
}

/// Boot of the full MPPA-256 board from a prebuilt image until all 20 clusters are
/// up, against 20 posix_spawn+waitpid of a tiny static binary.
pub fn boot(options: &BenchOptions, baselines: &[Row]) -> Result<Vec<Row>, BenchFailure> {
    let image = image(options, "mppa256")?;
    let mut trials = Vec::new();
    for _ in 0..options.launches {
        let mut launch = Launch::start(options, image, &[])?;
        let mut up = 0;
        while up < 20 {
            match launch.next()? {
                Some(Event::ClusterUp { .. }) => up += 1,
                Some(_) => {}
                None => {
                    return Err(BenchFailure(format!(
                        "the board ended with {up} clusters up"
                    )));
                }
            }
        }
        trials.push(launch.started.elapsed().as_secs_f64() * 1e9);
        launch.finish()?;
    }
    let mut row = nanvix_bench::summarize(
        "board.boot_mppa256_all_up",
        parameters(&[
            ("clusters", "20".into()),
            ("launches", options.launches.to_string()),
        ]),
        nanvix_bench::UNIT_NANOSECONDS,
        &trials,
    )?;
    let single = find(baselines, "baseline.spawn_wait_tiny_static", None)?;
    let mut twenty = single.clone();
    twenty.name = "baseline.spawn_wait_tiny_static_x20".into();
    twenty.min *= 20.0;
    twenty.median *= 20.0;
    twenty.parameters.insert(
        "derived".into(),
        "20 x baseline.spawn_wait_tiny_static".into(),
    );
    nanvix_bench::compare(&mut row, &twenty)?;
    Ok(vec![twenty, row])
}

/// Runs of the cluster kernel's executable per baseline trial.
const KERNEL_EXEC_RUNS: usize = 20;

/// Spawn and wait of an empty program through the process server
/// (`apps/bench-spawn` on `systems/bench/spawn.toml`), warm and cold:
/// `process.warm_spawn_wait` runs each program on an idle warm compute cluster
/// (the kernel stays up between programs and loads the next one), against
/// `baseline.spawn_wait_tiny_static` (`posix_spawn`+`waitpid` of a tiny static
/// binary, target: at most 2x); `process.cold_spawn_wait` boots a cluster for each
/// program (a cluster process starts, loads the kernel and the program, runs it; the
/// client then powers it off and waits until it is off), against starting and
/// waiting for the cluster kernel's executable itself (`std::process::Command`,
/// which uses `posix_spawn` here; without a boot spec the kernel exits at once),
/// measured one trial before each launch.
pub fn spawn(options: &BenchOptions, baselines: &[Row]) -> Result<Vec<Row>, BenchFailure> {
    let image = image(options, "spawn")?;
    let file_image = self::image(options, "spawn-file")?;
    let ghz = nanvix_bench::tsc_ghz()?;
    let mut warm = Vec::new();
    let mut warm_file = Vec::new();
    let mut cold = Vec::new();
    let mut kernel_trials = Vec::new();
    for _ in 0..options.launches {
        let started = Instant::now();
        for _ in 0..KERNEL_EXEC_RUNS {
            Command::new(&options.kernel)
                .env_remove(nanvix_hal_hosted::protocol::BOOT_ENVIRONMENT)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|error| BenchFailure(format!("cannot run the kernel: {error}")))?;
        }
        kernel_trials.push(started.elapsed().as_secs_f64() * 1e9 / KERNEL_EXEC_RUNS as f64);
        let events = Launch::start(options, image, &[])?.finish()?;
        cycle_lines(
            events,
            "io0",
            &mut [
                ("bench warm_spawn_wait cycles=", &mut warm, &|cycles| {
                    cycles / ghz
                }),
                ("bench cold_spawn_wait cycles=", &mut cold, &|cycles| {
                    cycles / ghz
                }),
            ],
        )?;
        // The same warm spawn of a program looked up in /bin.
        cycle_lines(
            launch_on_fresh_disk(options, file_image)?,
            "io0",
            &mut [(
                "bench warm_spawn_wait_file cycles=",
                &mut warm_file,
                &|cycles| cycles / ghz,
            )],
        )?;
    }
    let kernel = interleaved_row(
        "baseline.spawn_wait_cluster_kernel",
        parameters(&[("runs", KERNEL_EXEC_RUNS.to_string())]),
        nanvix_bench::UNIT_NANOSECONDS,
        &kernel_trials,
    )?;
    let tiny = find(baselines, "baseline.spawn_wait_tiny_static", None)?.clone();
    let launched = parameters(&[
        ("launches", options.launches.to_string()),
        ("pinned", "false".to_string()),
    ]);
    let mut warm_row = nanvix_bench::summarize(
        "process.warm_spawn_wait",
        launched.clone(),
        nanvix_bench::UNIT_NANOSECONDS,
        &warm,
    )?;
    nanvix_bench::compare(&mut warm_row, &tiny)?;
    let mut file_row = nanvix_bench::summarize(
        "process.warm_spawn_wait_file",
        launched.clone(),
        nanvix_bench::UNIT_NANOSECONDS,
        &warm_file,
    )?;
    nanvix_bench::compare(&mut file_row, &warm_row)?;
    let mut cold_row = nanvix_bench::summarize(
        "process.cold_spawn_wait",
        launched,
        nanvix_bench::UNIT_NANOSECONDS,
        &cold,
    )?;
    nanvix_bench::compare(&mut cold_row, &kernel)?;
    Ok(vec![tiny, warm_row, file_row, kernel, cold_row])
}

/// One launch of `image` on a fresh disk file on tmpfs (so that a figure is the
/// system's, not the host disk's: a disk file on ext4 adds its fdatasyncs),
/// removed after; its events.
fn launch_on_fresh_disk(options: &BenchOptions, image: &Path) -> Result<Vec<Event>, BenchFailure> {
    let disk = PathBuf::from(format!("/dev/shm/nanvix-bench-disk-{}", std::process::id()));
    let more = [
        std::ffi::OsStr::new("--disk"),
        disk.as_os_str(),
        std::ffi::OsStr::new("--fresh-disk"),
    ];
    let events = Launch::start_with(options, image, &[], &more)?.finish();
    let _ = std::fs::remove_file(&disk);
    events
}

/// Bytes of the file benchmark's file (the manifest's `bytes=`).
const FILE_BYTES: usize = 16 << 20;
/// Bytes of each read and write of the file benchmark (the manifest's `chunk=`).
const FILE_CHUNK: usize = 256 << 10;

/// The file benchmark's access pattern on a Linux tmpfs file (`/dev/shm`): writes
/// of [`FILE_CHUNK`] up to [`FILE_BYTES`] and an fsync, then reads of
/// [`FILE_CHUNK`]; the write's and the read's bandwidth in GB/s.
fn tmpfs_trial() -> Result<(f64, f64), BenchFailure> {
    use std::io::{Read, Write};
    let failed = |error: std::io::Error| BenchFailure(format!("the tmpfs baseline: {error}"));
    let path = PathBuf::from(format!("/dev/shm/nanvix-bench-file-{}", std::process::id()));
    let block: Vec<u8> = (0..FILE_CHUNK).map(|index| (index * 7) as u8).collect();
    let started = Instant::now();
    let mut file = std::fs::File::create(&path).map_err(failed)?;
    for _ in 0..FILE_BYTES / FILE_CHUNK {
        file.write_all(&block).map_err(failed)?;
    }
    file.sync_all().map_err(failed)?;
    drop(file);
    let write = FILE_BYTES as f64 / started.elapsed().as_secs_f64() / 1e9;
    let mut back = vec![0u8; FILE_CHUNK];
    let started = Instant::now();
    let mut file = std::fs::File::open(&path).map_err(failed)?;
    let mut read = 0;
    loop {
        let count = file.read(&mut back).map_err(failed)?;
        if count == 0 {
            break;
        }
        read += count;
    }
    drop(file);
    let elapsed = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    if read != FILE_BYTES {
        return Err(BenchFailure(format!(
            "the tmpfs baseline read {read} bytes"
        )));
    }
    Ok((write, FILE_BYTES as f64 / elapsed / 1e9))
}

/// Sequential write (then fsync) and read of a 16 MiB file from a compute cluster
/// through the vfs server, against the same pattern on tmpfs measured before each
/// launch.
pub fn file(options: &BenchOptions) -> Result<Vec<Row>, BenchFailure> {
    let image = image(options, "file")?;
    let ghz = nanvix_bench::tsc_ghz()?;
    let (mut tmpfs_write, mut tmpfs_read, mut write, mut read) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..options.launches {
        let (written, read_back) = tmpfs_trial()?;
        tmpfs_write.push(written);
        tmpfs_read.push(read_back);
        let bandwidth = |cycles: f64| FILE_BYTES as f64 / (cycles / ghz);
        cycle_lines(
            launch_on_fresh_disk(options, image)?,
            "cc0",
            &mut [
                ("bench file_write cycles=", &mut write, &bandwidth),
                ("bench file_read cycles=", &mut read, &bandwidth),
            ],
        )?;
    }
    let pattern = parameters(&[
        ("bytes", FILE_BYTES.to_string()),
        ("chunk", FILE_CHUNK.to_string()),
    ]);
    let gbps = nanvix_bench::UNIT_GIGABYTES_PER_SECOND;
    let tmpfs_write = interleaved_row(
        "baseline.file_write_tmpfs",
        pattern.clone(),
        gbps,
        &tmpfs_write,
    )?;
    let tmpfs_read = interleaved_row(
        "baseline.file_read_tmpfs",
        pattern.clone(),
        gbps,
        &tmpfs_read,
    )?;
    let mut launched = pattern;
    launched.insert("launches".into(), options.launches.to_string());
    let mut write_row =
        nanvix_bench::summarize("file.write_fsync", launched.clone(), gbps, &write)?;
    nanvix_bench::compare(&mut write_row, &tmpfs_write)?;
    let mut read_row = nanvix_bench::summarize("file.read", launched, gbps, &read)?;
    nanvix_bench::compare(&mut read_row, &tmpfs_read)?;
    Ok(vec![tmpfs_write, write_row, tmpfs_read, read_row])
}

/// A remote-memory page fault's service from a compute cluster (the pager thread
/// of a `RemoteHeap` reads the page from the memory server), against the sum of its
/// parts measured in the same program, trial by trial: a fault a local pager
/// thread serves (the fault, the hand-off to the pager thread and back, the map)
/// plus a 4 KiB read from the memory server (a mailbox round trip, the server's
/// DDR read, a 4 KiB portal transfer). Nanoseconds per 4 KiB page.
pub fn memory(options: &BenchOptions) -> Result<Vec<Row>, BenchFailure> {
    let image = image(options, "memory")?;
    let ghz = nanvix_bench::tsc_ghz()?;
    let (mut local, mut read, mut remote, mut parts) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..options.launches {
        let events = Launch::start(options, image, &[])?.finish()?;
        let (mut launch_local, mut launch_read) = (Vec::new(), Vec::new());
        let nanoseconds = |cycles: f64| cycles / ghz;
        cycle_lines(
            events,
            "cc0",
            &mut [
                ("bench fault_local cycles=", &mut launch_local, &nanoseconds),
                ("bench rpc_read_4k cycles=", &mut launch_read, &nanoseconds),
                ("bench fault_remote cycles=", &mut remote, &nanoseconds),
            ],
        )?;
        if launch_local.len() != launch_read.len() {
            return Err(BenchFailure(format!(
                "the memory benchmark gave {} local faults and {} reads",
                launch_local.len(),
                launch_read.len()
            )));
        }
        parts.extend(launch_local.iter().zip(&launch_read).map(|(a, b)| a + b));
        local.extend(launch_local);
        read.extend(launch_read);
    }
    let mut launched = parameters(&[("launches", options.launches.to_string())]);
    launched.insert("page_bytes".into(), "4096".into());
    let unit = nanvix_bench::UNIT_NANOSECONDS;
    let local =
        nanvix_bench::summarize("memory.fault_local_pager", launched.clone(), unit, &local)?;
    let read = nanvix_bench::summarize("memory.rpc_read_4k", launched.clone(), unit, &read)?;
    let parts = nanvix_bench::summarize("memory.fault_parts_sum", launched.clone(), unit, &parts)?;
    let mut remote = nanvix_bench::summarize("memory.fault_remote", launched, unit, &remote)?;
    nanvix_bench::compare(&mut remote, &parts)?;
    Ok(vec![local, read, parts, remote])
}

/// Where [`cycle_lines`] puts the cycle counts of lines with a prefix: the prefix,
/// the trials, and the conversion of a count into a trial.
type CycleSink<'a> = (&'a str, &'a mut Vec<f64>, &'a dyn Fn(f64) -> f64);

/// The console lines of `cluster` among `events` that start with a prefix of
/// `sinks` and go on with a cycle count: each count, through its sink's
/// conversion, onto its sink's trials.
fn cycle_lines(
    events: Vec<Event>,
    cluster: &str,
    sinks: &mut [CycleSink<'_>],
) -> Result<(), BenchFailure> {
    for event in events {
        let Event::Console {
            cluster: from,
            line,
            ..
        } = event
        else {
            continue;
        };
        if from != cluster {
            continue;
        }
        for (prefix, trials, convert) in sinks.iter_mut() {
            if let Some(rest) = line.strip_prefix(*prefix) {
                let cycles: f64 = rest
                    .split(' ')
                    .next()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|_| BenchFailure(format!("bad benchmark line: {line}")))?;
                trials.push(convert(cycles));
            }
        }
    }
    Ok(())
}

/// CPU time (user + system, in clock ticks) of a host process so far.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based).
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Host CPU of an idle booted MPPA-256 (every program waiting for a message), as a
/// percentage of one host core, runner included.
pub fn idle(options: &BenchOptions) -> Result<Vec<Row>, BenchFailure> {
    let image = image(options, "idle")?;
    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut trials = Vec::new();
    for _ in 0..options.launches {
        let mut launch = Launch::start(options, image, &[])?;
        let mut pids = vec![launch.child.id()];
        while pids.len() < 21 {
            match launch.next()? {
                Some(Event::ClusterUp { pid, .. }) => pids.push(pid),
                Some(_) => {}
                None => return Err(BenchFailure("the idle board ended early".into())),
            }
        }
        std::thread::sleep(Duration::from_millis(500));
        let before: u64 = pids.iter().filter_map(|pid| process_ticks(*pid)).sum();
        let window = Instant::now();
        std::thread::sleep(IDLE_WINDOW);
        let after: u64 = pids.iter().filter_map(|pid| process_ticks(*pid)).sum();
        let seconds = window.elapsed().as_secs_f64();
        trials.push((after.saturating_sub(before)) as f64 / ticks_per_second / seconds * 100.0);
    }
    let row = nanvix_bench::summarize(
        "board.idle_host_cpu",
        parameters(&[
            ("clusters", "20".into()),
            ("window_seconds", IDLE_WINDOW.as_secs().to_string()),
            ("launches", options.launches.to_string()),
        ]),
        "% of one core",
        &trials,
    )?;
    Ok(vec![row])
}

/// Runs the named benchmarks (all when `names` is empty), writes each one's rows to
/// `directory/<name>.json` and returns every row.
pub fn run(
    options: &BenchOptions,
    names: &[String],
    directory: &Path,
) -> Result<Vec<Row>, BenchFailure> {
    for name in names {
        if !BENCHMARKS.contains(&name.as_str()) {
            return Err(BenchFailure(format!(
                "no benchmark `{name}` (benchmarks: {})",
                BENCHMARKS.join(", ")
            )));
        }
    }
    let wanted = |name: &str| names.is_empty() || names.iter().any(|wanted| wanted == name);
    let baseline_rows = baselines(options)?;
    let mut all = Vec::new();
    for name in BENCHMARKS {
        if !wanted(name) {
            continue;
        }
        let rows = match name {
            "baselines" => baseline_rows.clone(),
            "kcall" => kcall(options)?,
            "buffer" => buffer(options)?,
            "knoise" => knoise(options)?,
            "noc" => noc(options)?,
            "mailbox" => mailbox(options)?,
            "rpc" => rpc(options)?,
            "data" => data(options)?,
            "portal" => portal(options)?,
            "collectives" => collectives(options)?,
            "boot" => boot(options, &baseline_rows)?,
            "spawn" => spawn(options, &baseline_rows)?,
            "file" => file(options)?,
            "memory" => memory(options)?,
            _ => idle(options)?,
        };
        nanvix_bench::write_rows(&directory.join(format!("{name}.json")), &rows)
            .map_err(|error| BenchFailure(format!("writing {name}.json: {error}")))?;
        all.extend(rows);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_of_a_live_process_are_read_and_unknown_benchmarks_named() {
        let busy_until = Instant::now() + Duration::from_millis(30);
        while Instant::now() < busy_until {
            std::hint::spin_loop();
        }
        assert!(process_ticks(std::process::id()).is_some());
        assert!(process_ticks(u32::MAX).is_none());
        let options = BenchOptions {
            nanvix: PathBuf::from("/nonexistent"),
            images: BTreeMap::new(),
            launches: 1,
            baseline_options: Options::quick(),
            kernel: PathBuf::from("/nonexistent"),
            probe_board: crate::manifest::parse_board(
                "tiny",
                include_str!("../../boards/tiny.toml"),
            )
            .unwrap(),
        };
        let error = run(&options, &["speed".to_string()], Path::new("/nonexistent")).unwrap_err();
        assert_eq!(
            error.0,
            "no benchmark `speed` (benchmarks: baselines, kcall, buffer, knoise, noc, mailbox, rpc, data, portal, collectives, boot, spawn, file, memory, idle)"
        );
    }

    #[test]
    fn benchmark_lines_decode_or_are_refused() {
        assert_eq!(
            parse_knoise("workers=2 noise=again cycles=10 cpu=2500"),
            Some((2, 2, 2500.0))
        );
        assert_eq!(
            parse_knoise("workers=1 noise=yes cycles=10 cpu=7"),
            Some((1, 0, 7.0))
        );
        for bad in [
            "workers=1 noise=maybe cycles=1 cpu=1",
            "workers=x noise=no cycles=1 cpu=1",
            "workers=1 noise=no cycles=1",
            "",
        ] {
            assert_eq!(parse_knoise(bad), None, "{bad}");
        }
        assert_eq!(
            parse_buffer("threads=6 bytes=1024 cycles=99 cpu=5"),
            Some((6, 1024, 99.0, 5.0))
        );
        assert_eq!(parse_buffer("threads=6 bytes=1024 cycles=99"), None);
    }
}
