//! System tests of the kcall layer's remote path.

use nanvix_harness::{Board, Event};
use std::time::Duration;

const NANVIX: &str = env!("CARGO_BIN_EXE_nanvix");

#[test]
fn three_cores_making_remote_calls_at_once_are_all_served() {
    let manifest =
        nanvix_image_builder::workspace_root().join("image-builder/tests/systems/remote.toml");
    let mut board = Board::start(NANVIX, manifest, Duration::from_secs(60)).unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    // Each program times two trials after its warm-up: six lines, and every program
    // exited 0 (a starved core would hold the board until the timeout).
    let trials = board
        .events()
        .iter()
        .filter(|event| {
            matches!(event, Event::Console { cluster, line, .. }
            if cluster == "io0" && line.starts_with("bench kcall_remote cycles="))
        })
        .count();
    assert_eq!(trials, 6, "{}", board.transcript());
}

#[test]
fn threads_outnumber_cores_join_hit_the_limit_and_fail_cleanly() {
    let manifest =
        nanvix_image_builder::workspace_root().join("image-builder/tests/systems/threads.toml");
    let mut board = Board::start(NANVIX, manifest, Duration::from_secs(60)).unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let lines: Vec<&str> = board
        .events()
        .iter()
        .filter_map(|event| match event {
            Event::Console { cluster, line, .. } if cluster == "cc0" => Some(line.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        lines.contains(&"thread-test: 46 checks, 0 failed"),
        "{}",
        board.transcript()
    );
    // The faulting thread was reported (thread, core, access, address, a symbolized
    // backtrace) and ended alone.
    let fault = board.events().iter().find_map(|event| match event {
        Event::ThreadFault {
            cluster,
            program,
            access,
            address,
            status,
            backtrace,
            core,
            thread,
            kind,
            ..
        } if cluster == "cc0" && kind != "panic" => Some((
            program.clone(),
            access.clone(),
            *address,
            *status,
            backtrace.clone(),
            *core,
            *thread,
        )),
        _ => None,
    });
    let Some((program, access, address, status, backtrace, core, thread)) = fault else {
        panic!("no fault reported: {}", board.transcript());
    };
    assert_eq!(
        (program.as_str(), access.as_str(), address, status),
        ("thread-test", "write", 0x10, 139)
    );
    assert!(core >= 1 && thread >= 1, "core {core}, thread {thread}");
    assert!(
        backtrace[0].starts_with("nanvix_sys::runtime::fault_on_purpose+"),
        "{backtrace:?}"
    );
    assert!(
        backtrace.iter().any(|frame| {
            frame.starts_with("thread_test::deliberate_fault+")
                && frame.contains(" at apps/thread-test/src/main.rs:")
        }),
        "{backtrace:?}"
    );
    // The stray read of an unmapped page was reported as a read fault.
    assert!(
        board.events().iter().any(|event| matches!(event,
            Event::ThreadFault { access, status: 139, backtrace, .. }
                if access == "read" && backtrace[0].contains("read_on_purpose"))),
        "{}",
        board.transcript()
    );
    // The fault its pager refused was reported like any other, in `window_load`.
    assert!(
        board.events().iter().any(|event| matches!(event,
            Event::ThreadFault { access, status: 139, backtrace, .. }
                if access == "read" && backtrace[0].contains("window_load"))),
        "{}",
        board.transcript()
    );
    // The panicking thread was reported with a backtrace through the panic.
    assert!(
        board.events().iter().any(|event| matches!(event,
            Event::ThreadFault { kind, status: 101, backtrace, .. }
                if kind == "panic" && backtrace.iter().any(|frame| frame.contains("panic")))),
        "{}",
        board.transcript()
    );
    // The panicking thread was reported; the cluster kept serving the others.
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("panic at") && line.ends_with("deliberate panic")),
        "{}",
        board.transcript()
    );
}

#[test]
fn a_program_that_ends_ends_all_its_threads_first() {
    let manifest =
        nanvix_image_builder::workspace_root().join("image-builder/tests/systems/ending.toml");
    let mut board = Board::start(NANVIX, manifest, Duration::from_secs(60)).unwrap();
    // The worst status of the cluster: the exit's 7 (a program whose main thread
    // stayed blocked in a join would hold the board until the timeout).
    assert_ne!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let events = board.events();
    let exited = |wanted: i32| {
        events.iter().position(
            |event| matches!(event, Event::ProgramExited { status, .. } if *status == wanted),
        )
    };
    let last_line = |mode: &str| {
        events.iter().rposition(|event| {
            matches!(event, Event::Console { line, .. }
                if line == &format!("{mode}: the spinner still runs"))
        })
    };
    for (mode, status) in [("end=exit", 7), ("end=return", 5)] {
        let (Some(exited), Some(last_line)) = (exited(status), last_line(mode)) else {
            panic!(
                "{mode}: no exit {status} or no spinner: {}",
                board.transcript()
            );
        };
        assert!(
            last_line < exited,
            "{mode}: the spinner ran on after its program ended: {}",
            board.transcript()
        );
    }
    // The program that went on ended by itself, after the other two.
    let lingered = exited(0).expect("the lingering program's end");
    assert!(lingered > exited(7).unwrap() && lingered > exited(5).unwrap());
    assert!(
        !events
            .iter()
            .any(|event| matches!(event, Event::Console { line, .. }
            if line.ends_with("outlived the exit"))),
        "{}",
        board.transcript()
    );
}

#[test]
fn two_programs_share_a_page_by_a_grant() {
    let manifest =
        nanvix_image_builder::workspace_root().join("image-builder/tests/systems/grant.toml");
    let mut board = Board::start(NANVIX, manifest, Duration::from_secs(60)).unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for summary in [
        "grant-give: 11 checks, 0 failed",
        "grant-take: 8 checks, 0 failed",
    ] {
        assert!(
            board.events().iter().any(|event| matches!(event,
                Event::Console { line, .. } if line == summary)),
            "{summary}: {}",
            board.transcript()
        );
    }
}
