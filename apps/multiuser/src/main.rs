//! The multi-user demo's driver (`systems/multiuser.toml`), a program of the
//! system: alice counts the words of four texts at once, each on a compute cluster
//! of its own, bob two others, each writing the counts to files of their own
//! homes (the jobs' standard output redirected: they open the files as
//! themselves), and bob multiplies two matrices in remote memory (`matrix`, on a
//! cluster of its own, its checksum checked here); then bob tries to read alice's
//! counts and is refused. Prints each
//! step and the counts, and asks init (`init=NODE`) to shut down with 0 when all
//! went as it should, 1 otherwise.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use libnanvix::{fs, posix, println, process, thread};
use nanvix_init_api::InitClient;
use nanvix_process_api::{ProcessClient, Termination};

libnanvix::entry!(main);

/// Alice's user id (the manifest's users).
const ALICE: u32 = 1000;
/// Bob's.
const BOB: u32 = 1001;

/// The order of bob's matrices.
const MATRIX_ORDER: usize = 128;
/// Pages of them resident at once on bob's cluster (a sixth of the three).
const MATRIX_RESIDENT: usize = 16;
/// Where bob's product's line goes.
const MATRIX_OUTPUT: &str = "/home/bob/matrix.txt";

/// One job: who runs it, the text it counts, and where its counts go.
struct Job {
    user: (&'static str, u32),
    text: String,
    output: String,
}

fn main() -> i32 {
    let status = match demo() {
        Ok(()) => {
            println!("multiuser: done: every job ran as it should");
            0
        }
        Err(problem) => {
            println!("multiuser: {problem}");
            1
        }
    };
    let init = process::argument("init").and_then(|node| node.parse().ok());
    match init.map(InitClient::connect) {
        Some(Ok(mut init)) => {
            let _ = init.shutdown(status);
        }
        _ => println!("multiuser: cannot reach init (init=NODE)"),
    }
    status
}

fn demo() -> Result<(), String> {
    // The servers init starts may not serve yet.
    let mut processes = None;
    for _ in 0..500 {
        if fs::metadata("/").is_ok()
            && let Ok(client) = ProcessClient::connect(posix::process_server_node())
        {
            processes = Some(client);
            break;
        }
        let _ = thread::sleep_nanoseconds(10_000_000);
    }
    let mut processes = processes.ok_or("the servers did not come up")?;
    let mut jobs = Vec::new();
    for (user, texts) in [(("alice", ALICE), 1..=4), (("bob", BOB), 5..=6)] {
        for text in texts {
            jobs.push(Job {
                user,
                text: format!("/usr/share/texts/text-{text}.txt"),
                output: format!("/home/{}/count-{text}.txt", user.0),
            });
        }
    }
    println!(
        "multiuser: alice counts the words of 4 texts and bob of 2, each text on a compute cluster of its own; bob multiplies two {MATRIX_ORDER}x{MATRIX_ORDER} matrices in remote memory on another"
    );
    let order = format!("n={MATRIX_ORDER}");
    let resident = format!("resident={MATRIX_RESIDENT}");
    let output = format!("stdout={MATRIX_OUTPUT}");
    let product = processes
        .spawn_with(
            "matrix",
            &[&order, &resident, &output, "cwd=/home/bob"],
            true,
            Some(BOB),
        )
        .map_err(|error| format!("bob cannot start matrix: {error}"))?;
    let mut running = Vec::new();
    for job in &jobs {
        let stdout = format!("stdout={}", job.output);
        let cwd = format!("cwd=/home/{}", job.user.0);
        let pid = processes
            .spawn_with("wc", &[&job.text, &stdout, &cwd], true, Some(job.user.1))
            .map_err(|error| format!("{} cannot start wc: {error}", job.user.0))?;
        running.push(pid);
    }
    for (job, pid) in jobs.iter().zip(running) {
        let ended = processes
            .wait(pid)
            .map_err(|error| format!("waiting for {}'s wc: {error}", job.user.0))?;
        if ended != Termination::Exited(0) {
            return Err(format!("{}'s wc of {} {ended}", job.user.0, job.text));
        }
    }
    for job in &jobs {
        let counts = fs::read_to_string(&job.output)
            .map_err(|errno| format!("reading {}: {errno}", job.output))?;
        let owner = fs::metadata(&job.output)
            .map_err(|errno| format!("{}: {errno}", job.output))?
            .uid();
        if owner != job.user.1 {
            return Err(format!("{} belongs to user {owner}", job.output));
        }
        println!(
            "multiuser: {}'s {}: {} (lines, words, bytes)",
            job.user.0,
            job.output,
            counts.trim_end()
        );
    }
    match processes.wait(product) {
        Ok(Termination::Exited(0)) => {}
        other => return Err(format!("bob's matrix: {other:?}")),
    }
    check_product()?;
    println!("multiuser: bob tries to count alice's counts");
    let pid = processes
        .spawn_with(
            "wc",
            &["/home/alice/count-1.txt", "cwd=/home/bob"],
            true,
            Some(BOB),
        )
        .map_err(|error| format!("bob cannot start wc: {error}"))?;
    match processes.wait(pid) {
        Ok(Termination::Exited(1)) => {
            println!("multiuser: bob was refused alice's counts, as he should be");
            Ok(())
        }
        other => Err(format!("bob's wc of alice's counts: {other:?}")),
    }
}

/// Checks bob's product: its file is bob's, and its checksum the one computed
/// here from the matrices' definition.
fn check_product() -> Result<(), String> {
    let line = fs::read_to_string(MATRIX_OUTPUT)
        .map_err(|errno| format!("reading {MATRIX_OUTPUT}: {errno}"))?;
    let owner = fs::metadata(MATRIX_OUTPUT)
        .map_err(|errno| format!("{MATRIX_OUTPUT}: {errno}"))?
        .uid();
    if owner != BOB {
        return Err(format!("{MATRIX_OUTPUT} belongs to user {owner}"));
    }
    let line = line.trim_end();
    let checksum = line
        .split(", ")
        .find_map(|part| part.strip_prefix("checksum "))
        .and_then(|value| value.parse::<u64>().ok())
        .ok_or_else(|| format!("{MATRIX_OUTPUT} says `{line}`"))?;
    let wanted = matrix::product_checksum(MATRIX_ORDER);
    if checksum != wanted {
        return Err(format!(
            "bob's product has checksum {checksum}, not {wanted}"
        ));
    }
    println!("multiuser: bob's {MATRIX_OUTPUT}: {line} (the checksum as it should be)");
    Ok(())
}
