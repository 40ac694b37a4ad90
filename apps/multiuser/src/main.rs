//! The multi-user demo's driver (`systems/multiuser.toml`), a program of the
//! system: alice counts the words of four texts at once, each on a compute cluster
//! of its own, bob two others, each writing the counts to files of their own
//! homes (the jobs' standard output redirected: they open the files as
//! themselves); then bob tries to read alice's counts and is refused. Prints each
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
        "multiuser: alice counts the words of 4 texts and bob of 2, each text on a compute cluster of its own"
    );
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
