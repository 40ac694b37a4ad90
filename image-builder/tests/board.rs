//! System tests: whole boards booted by `nanvix run`, read through the event stream.

mod common;

use common::NANVIX;
use nanvix_harness::{Board, Event, alive, shared_memory_leftovers, signal};
use std::path::PathBuf;
use std::time::{Duration, Instant};
const TIMEOUT: Duration = Duration::from_secs(90);

fn manifest(relative: &str) -> PathBuf {
    nanvix_image_builder::workspace_root().join(relative)
}

fn cluster_pids(board: &Board) -> Vec<(String, u32)> {
    board
        .events()
        .iter()
        .filter_map(|event| match event {
            Event::ClusterUp { cluster, pid, .. } => Some((cluster.clone(), *pid)),
            _ => None,
        })
        .collect()
}

fn assert_nothing_left(pids: &[(String, u32)]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    for (cluster, pid) in pids {
        while alive(*pid) {
            assert!(
                Instant::now() < deadline,
                "{cluster} (pid {pid}) is still running"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    assert_eq!(shared_memory_leftovers(), Vec::<String>::new());
}

fn console_lines(board: &Board, cluster_name: &str) -> Vec<String> {
    common::console_lines(board, |cluster, _, _| cluster == cluster_name)
}

/// A tiny board whose three clusters wait forever, once all are up, with their pids.
fn hold_board() -> (Board, Vec<(String, u32)>) {
    let mut board = Board::start(
        NANVIX,
        manifest("image-builder/tests/systems/hold.toml"),
        TIMEOUT,
    )
    .unwrap();
    board.wait_until_up(&["io0", "cc0", "cc1"]).unwrap();
    let pids = cluster_pids(&board);
    (board, pids)
}

#[test]
fn all_twenty_mppa256_clusters_report_and_play_ping_pong() {
    let mut board = Board::start(NANVIX, manifest("systems/mppa256.toml"), TIMEOUT).unwrap();
    let status = board.wait_exit().unwrap();
    assert_eq!(status, 0, "{}", board.transcript());
    let pids = cluster_pids(&board);
    assert_eq!(pids.len(), 20, "{}", board.transcript());
    assert_eq!(pids[0].0, "io0", "the boot cluster comes up first");
    let names: Vec<String> = (0..4)
        .map(|n| format!("io{n}"))
        .chain((0..16).map(|n| format!("cc{n}")))
        .collect();
    for (index, name) in names.iter().enumerate() {
        let (node, cores, sram) = if index < 4 {
            (index * 4, 4, 4096)
        } else {
            (16 + index - 4, 16, 2048)
        };
        let lines = console_lines(&board, name);
        let greeting =
            format!("hello from {name}: node {node}, {cores} cores, {sram} KiB SRAM, program 0");
        assert!(lines.contains(&greeting), "{name}: {lines:?}");
        let partner = &names[index ^ 1];
        assert!(
            lines.contains(&format!("ping-pong with {partner}: 100 rounds ok")),
            "{name}: {lines:?}"
        );
        assert!(board.events().contains(&Event::ClusterOff {
            cluster: name.clone(),
            status: 0
        }));
    }
    assert_eq!(board.events().last(), Some(&Event::BoardOff { status: 0 }));
    assert_nothing_left(&pids);
}

#[test]
fn kcall_arguments_are_checked_through_the_gate() {
    let mut board = Board::start(
        NANVIX,
        manifest("image-builder/tests/systems/kcalls.toml"),
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let lines = console_lines(&board, "cc0");
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("kcall-test on cc0: 66 checks, 0 failed")),
        "{lines:?}"
    );
}

#[test]
fn an_elf_that_is_not_a_program_is_refused_with_a_reason() {
    let mut board = Board::start_with(
        NANVIX,
        manifest("image-builder/tests/systems/kcalls.toml"),
        TIMEOUT,
        &["--program", "kcall-test=/bin/true"],
    )
    .unwrap();
    let refused = board
        .wait_for(|event| matches!(event, Event::ProgramRefused { .. }))
        .unwrap();
    let Event::ProgramRefused {
        cluster,
        program,
        reason,
    } = refused
    else {
        unreachable!()
    };
    assert_eq!((cluster.as_str(), program.as_str()), ("cc0", "kcall-test"));
    assert!(reason.contains("dynamic linker"), "{reason}");
    // The cluster has nothing left to run: it powers off with the "refused" status,
    // and the board reports a failed non-critical cluster.
    assert_eq!(board.wait_exit().unwrap(), 2, "{}", board.transcript());
    assert!(board.events().contains(&Event::ClusterOff {
        cluster: "cc0".into(),
        status: 126
    }));
}

#[test]
fn a_killed_non_critical_cluster_is_reported_and_the_rest_keeps_running() {
    let mut board = Board::start(
        NANVIX,
        manifest("image-builder/tests/systems/kill.toml"),
        TIMEOUT,
    )
    .unwrap();
    board
        .wait_for(|event| matches!(event, Event::Console { cluster, line, .. } if cluster == "cc0" && line.starts_with("hello from")))
        .unwrap();
    let pids = cluster_pids(&board);
    let cc0 = pids.iter().find(|(name, _)| name == "cc0").unwrap().1;
    signal(cc0, libc::SIGKILL).unwrap();
    let died = board
        .wait_for(|event| matches!(event, Event::ClusterDied { .. }))
        .unwrap();
    assert_eq!(
        died,
        Event::ClusterDied {
            cluster: "cc0".into(),
            critical: false,
            reason: "killed by signal 9 (SIGKILL)".into(),
            signal: Some(9),
            code: None,
        }
    );
    let status = board.wait_exit().unwrap();
    let events = board.events();
    let death = events.iter().position(|event| *event == died).unwrap();
    // The death reached the other kernels through the board, and io0's program saw
    // it before playing.
    for name in ["io0", "cc1"] {
        assert!(
            board.events().iter().any(|event| matches!(event,
                Event::Console { cluster, program, line }
                    if cluster == name && program == "kernel" && line == "cluster cc0 died in epoch 1")),
            "{name}: {}",
            board.transcript()
        );
    }
    assert!(
        console_lines(&board, "io0").contains(&"cc0 is dead (epoch 1)".to_string()),
        "{}",
        board.transcript()
    );
    for (name, partner) in [("io0", "cc1"), ("cc1", "io0")] {
        let finished = events
            .iter()
            .position(|event| {
                matches!(event, Event::Console { cluster, line, .. }
                    if cluster == name && *line == format!("ping-pong with {partner}: 1000 rounds ok"))
            })
            .unwrap_or_else(|| panic!("{name} did not finish:\n{}", board.transcript()));
        assert!(
            finished > death,
            "{name} finished before the kill: the test proved nothing"
        );
        assert!(events.contains(&Event::ClusterOff {
            cluster: name.into(),
            status: 0
        }));
    }
    assert!(
        !events
            .iter()
            .any(|event| matches!(event, Event::BoardStop { .. }))
    );
    assert_eq!(status, 2, "a non-critical death makes the board's status 2");
    assert_nothing_left(&cluster_pids(&board));
}

#[test]
fn a_killed_critical_cluster_stops_the_board_and_names_it() {
    let (mut board, pids) = hold_board();
    let killed = Instant::now();
    signal(pids[0].1, libc::SIGKILL).unwrap();
    let stop = board
        .wait_for(|event| matches!(event, Event::BoardStop { .. }))
        .unwrap();
    assert_eq!(
        stop,
        Event::BoardStop {
            reason: "critical cluster io0 died: killed by signal 9 (SIGKILL)".into()
        }
    );
    assert_eq!(board.wait_exit().unwrap(), 1);
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "stopping took {:?}",
        killed.elapsed()
    );
    assert!(board.events().contains(&Event::ClusterDied {
        cluster: "io0".into(),
        critical: true,
        reason: "killed by signal 9 (SIGKILL)".into(),
        signal: Some(9),
        code: None,
    }));
    assert_nothing_left(&pids);
}

#[test]
fn sigterm_to_the_runner_stops_every_cluster() {
    let (mut board, pids) = hold_board();
    signal(board.runner_pid(), libc::SIGTERM).unwrap();
    assert_eq!(board.wait_exit().unwrap(), 128 + libc::SIGTERM);
    assert!(board.events().contains(&Event::BoardStop {
        reason: "SIGTERM received".into()
    }));
    assert_nothing_left(&pids);
}

#[test]
fn a_board_that_runs_too_long_is_stopped_at_its_timeout() {
    let mut board = Board::start(
        NANVIX,
        manifest("image-builder/tests/systems/hold.toml"),
        Duration::from_secs(2),
    )
    .unwrap();
    assert_eq!(board.wait_exit().unwrap(), 124);
    assert!(board.events().contains(&Event::BoardStop {
        reason: "timeout".into()
    }));
    assert_nothing_left(&cluster_pids(&board));
}

#[test]
fn killing_the_runner_takes_its_clusters_with_it() {
    let (board, pids) = hold_board();
    signal(board.runner_pid(), libc::SIGKILL).unwrap();
    assert_nothing_left(&pids);
}

#[test]
fn a_bad_manifest_is_refused_before_anything_boots() {
    let directory =
        std::env::temp_dir().join(format!("nanvix-manifest-test-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("bad.toml");
    let good = std::fs::read_to_string(manifest("systems/tiny.toml")).unwrap();
    let cases = [
        (
            good.replace("version = 1", "version = 1\nspeed = 9"),
            "`speed`",
        ),
        (
            good.replace("board = \"tiny\"", "board = \"nosuch\""),
            "`board`",
        ),
        (
            good.replace("[clusters.cc1]", "[clusters.cc7]"),
            "`clusters.cc7`",
        ),
    ];
    for (text, field) in cases {
        std::fs::write(&path, text).unwrap();
        let output = std::process::Command::new(NANVIX)
            .args(["run", "--events", "json", "--no-build"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(field), "{field} not named in: {stderr}");
        assert!(
            output.stdout.is_empty(),
            "something booted: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    std::fs::remove_dir_all(&directory).unwrap();
}

#[test]
fn a_panicking_program_reports_its_panic_and_ends_with_status_101() {
    let mut board = Board::start(
        NANVIX,
        manifest("image-builder/tests/systems/panic.toml"),
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(board.wait_exit().unwrap(), 2, "{}", board.transcript());
    let lines = console_lines(&board, "cc1");
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("panic at apps/hello/src/main.rs:")
                && line.ends_with(": asked to panic on cc1")),
        "{lines:?}"
    );
    let events = board.events();
    assert!(events.contains(&Event::ProgramExited {
        cluster: "cc1".into(),
        program: "hello".into(),
        status: 101
    }));
    assert!(events.contains(&Event::ClusterOff {
        cluster: "cc1".into(),
        status: 101
    }));
    assert!(events.contains(&Event::ClusterOff {
        cluster: "io0".into(),
        status: 0
    }));
}

fn started(board: &Board) -> Vec<(String, u32, u32)> {
    board
        .events()
        .iter()
        .filter_map(|event| match event {
            Event::ProgramStarted {
                program, id, node, ..
            } => Some((program.clone(), *id, *node)),
            _ => None,
        })
        .collect()
}

#[test]
fn several_programs_on_one_io_cluster_each_have_their_own_identity() {
    let mut board = Board::start(
        NANVIX,
        manifest("image-builder/tests/systems/multi.toml"),
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert_eq!(
        started(&board),
        [
            ("hello".into(), 0, 0),
            ("kcall-test".into(), 1, 1),
            ("hello".into(), 2, 2)
        ]
    );
    let lines = console_lines(&board, "io0");
    for program in [0, 2] {
        let greeting =
            format!("hello from io0: node {program}, 4 cores, 4096 KiB SRAM, program {program}");
        assert!(lines.contains(&greeting), "{lines:?}");
    }
    // kcall-test checks that its loopback message carries its own (node, program).
    assert!(
        lines.contains(&"kcall-test on io0: 66 checks, 0 failed".to_string()),
        "{lines:?}"
    );
}

#[test]
fn a_refused_program_does_not_shift_the_identity_of_the_others() {
    let mut board = Board::start_with(
        NANVIX,
        manifest("image-builder/tests/systems/multi.toml"),
        TIMEOUT,
        &["--program", "hello=/bin/true"],
    )
    .unwrap();
    assert_eq!(
        board.wait_exit().unwrap(),
        1,
        "the boot cluster failed: {}",
        board.transcript()
    );
    assert_eq!(started(&board), [("kcall-test".into(), 1, 1)]);
    let refused = board
        .events()
        .iter()
        .filter(
            |event| matches!(event, Event::ProgramRefused { program, .. } if program == "hello"),
        )
        .count();
    assert_eq!(refused, 2);
    let lines = console_lines(&board, "io0");
    assert!(
        lines.contains(&"kcall-test on io0: 66 checks, 0 failed".to_string()),
        "{lines:?}"
    );
}

#[test]
fn console_input_reaches_the_program_the_manifest_names() {
    let mut board = Board::start_with_input(
        NANVIX,
        manifest("image-builder/tests/systems/console.toml"),
        TIMEOUT,
        &[],
        Some(b"first line\nsecond line\nno newline".to_vec()),
    )
    .unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let lines = console_lines(&board, "cc0");
    let echoed: Vec<&str> = lines.iter().skip(1).map(String::as_str).collect();
    assert_eq!(
        echoed,
        [
            "echo: first line",
            "echo: second line",
            "echo: no newline",
            "end of input"
        ]
    );
}

/// The decoded log frames of `program` on `cluster_name`: (level, message), in order.
fn log_frames(
    board: &Board,
    cluster_name: &str,
    program_name: &str,
) -> Vec<(Option<String>, String)> {
    board
        .events()
        .iter()
        .filter_map(|event| match event {
            Event::Log {
                cluster,
                program,
                level,
                message,
                ..
            } if cluster == cluster_name && program == program_name => {
                Some((level.clone(), message.clone()))
            }
            _ => None,
        })
        .collect()
}

fn no_log_problems(board: &Board) {
    for event in board.events() {
        if let Event::KernelOutput { line, .. } = event {
            assert!(
                !line.contains("malformed") && !line.contains("log frames dropped"),
                "a log problem was reported: {line}\n{}",
                board.transcript()
            );
        }
    }
}

#[test]
fn defmt_logs_of_programs_and_kernels_are_decoded_with_their_levels() {
    let mut board = Board::start(
        NANVIX,
        manifest("image-builder/tests/systems/logs.toml"),
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    no_log_problems(&board);
    let some = |level: &str| Some(level.to_string());
    // Default level: info. trace and debug frames are not printed (whether or not
    // the build kept them); println frames have no level and always are.
    assert_eq!(
        log_frames(&board, "cc0", "hello"),
        [
            (
                some("info"),
                "hello from cc0: node 4, program 0".to_string()
            ),
            (some("info"), "levels on cc0: info 3".to_string()),
            (some("warn"), "levels on cc0: warn -4".to_string()),
            (some("error"), "levels on cc0: error true".to_string()),
            (None, "levels on cc0: println".to_string()),
        ],
        "{}",
        board.transcript()
    );
    assert_eq!(
        log_frames(&board, "io0", "hello"),
        [(
            some("info"),
            "hello from io0: node 0, program 0".to_string()
        )]
    );
    // The hosted kernel logs through defmt too, decoded with the kernel's ELF.
    assert!(
        log_frames(&board, "cc0", "kernel")
            .contains(&(some("info"), "cluster cc0 booting, 1 programs".to_string())),
        "{}",
        board.transcript()
    );
    // So does the hosted HAL inside it.
    assert!(
        log_frames(&board, "cc0", "kernel").contains(&(
            some("info"),
            "hosted HAL: cluster 1 epoch 1, 4 cores, 2048 KiB SRAM, NoC of 3 clusters".to_string()
        )),
        "{}",
        board.transcript()
    );
    // Program timestamps are the core's raw cycle counter.
    for event in board.events() {
        if let Event::Log {
            program, timestamp, ..
        } = event
            && program == "hello"
        {
            let cycles = timestamp.as_deref().unwrap_or_default();
            assert!(cycles.parse::<u64>().is_ok(), "timestamp {timestamp:?}");
        }
    }
}

#[test]
fn the_log_level_option_hides_lower_levels() {
    let mut board = Board::start_with(
        NANVIX,
        manifest("image-builder/tests/systems/logs.toml"),
        TIMEOUT,
        &["--log-level", "warn"],
    )
    .unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    no_log_problems(&board);
    assert_eq!(
        log_frames(&board, "cc0", "hello"),
        [
            (Some("warn".into()), "levels on cc0: warn -4".to_string()),
            (
                Some("error".into()),
                "levels on cc0: error true".to_string()
            ),
            (None, "levels on cc0: println".to_string()),
        ],
        "{}",
        board.transcript()
    );
    assert_eq!(log_frames(&board, "io0", "hello"), []);
    assert_eq!(log_frames(&board, "cc0", "kernel"), []);
}

#[test]
fn a_cluster_waits_for_a_debugger_and_says_how_to_load_its_symbols() {
    let mut board = Board::start_with(
        NANVIX,
        manifest("image-builder/tests/systems/kcalls.toml"),
        TIMEOUT,
        &["--gdb", "cc0"],
    )
    .unwrap();
    let waiting = board
        .wait_for(|event| matches!(event, Event::WaitingForDebugger { .. }))
        .unwrap();
    let Event::WaitingForDebugger { cluster, pid } = waiting else {
        unreachable!()
    };
    assert_eq!(cluster, "cc0");
    // Stopped: its state in /proc is T until someone continues it.
    let stopped = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                stat.rsplit(')')
                    .next()
                    .map(|rest| rest.trim_start().starts_with('T'))
            })
            .unwrap_or(false)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stopped() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(stopped(), "cc0 (pid {pid}) is not stopped");
    signal(pid, libc::SIGCONT).unwrap();
    let symbols = board
        .wait_for(|event| matches!(event, Event::DebugSymbols { .. }))
        .unwrap();
    let Event::DebugSymbols {
        program,
        path,
        base,
        ..
    } = symbols
    else {
        unreachable!()
    };
    assert_eq!(program, "kcall-test");
    assert!(base != 0 && base % (64 * 1024) == 0, "base {base:#x}");
    let elf = std::fs::read(&path).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF", "{path}");
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
}
