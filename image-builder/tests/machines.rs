//! System tests of the qemu-x86_64 platform through `nanvix run`: a manifest naming
//! it boots one QEMU machine per cluster over one NoC memory, and the kcall,
//! communication and server test programs pass there as on the hosted board (the
//! systems are the hosted tests' own, their platform swapped); a faulting thread is
//! reported and ended while its program goes on; a killed machine is reported dead
//! and its names released; `--gdb` stops a machine for a debugger until it says go;
//! an MPPA-256 of twenty machines boots to init, whose servers serve, and shuts down
//! when the runner is asked to;
//! the terminal's input reaches the program that holds the console, and its end;
//! a disk keeps what a machine wrote for the next boot and serves the file system;
//! the DDR is shared by its machines; nsh runs a script and spawns on a machine;
//! warm machines take program after program; a SIGTERM shuts the machines down
//! through init; programs run from the file system through the staging store.

mod common;

use common::{NANVIX, printed, wait_for_line};
use nanvix_harness::{Board, Event, signal};
use std::path::PathBuf;
use std::time::Duration;

/// The test system `name` (of image-builder/tests/systems, without `.toml`) with its
/// platform swapped for qemu-x86_64, written to a scratch file of its own.
fn on_machines(name: &str) -> PathBuf {
    let root = nanvix_image_builder::workspace_root();
    let text =
        std::fs::read_to_string(root.join(format!("image-builder/tests/systems/{name}.toml")))
            .unwrap();
    assert!(text.contains("platform = \"hosted\""), "{name}");
    let directory = std::env::temp_dir().join(format!("nanvix-machines-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        text.replace("platform = \"hosted\"", "platform = \"qemu-x86_64\""),
    )
    .unwrap();
    path
}

fn start(name: &str) -> Board {
    Board::start(NANVIX, on_machines(name), Duration::from_secs(120)).unwrap()
}

/// Boots `name` on machines, waits for a clean end and checks each (cluster, line).
fn run_and_expect(name: &str, expected: &[(&str, &str)]) {
    common::expect_clean_run(start(name), expected);
}

#[test]
fn a_manifest_on_qemu_boots_a_machine_per_cluster_and_they_play_ping_pong() {
    let manifest =
        nanvix_image_builder::workspace_root().join("image-builder/tests/systems/machines.toml");
    let mut board = Board::start(NANVIX, manifest, Duration::from_secs(120)).unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for (cluster, partner) in [("cc0", "cc1"), ("cc1", "cc0")] {
        assert!(
            printed(
                &board,
                cluster,
                &format!("ping-pong with {partner}: 100 rounds ok")
            ),
            "{}",
            board.transcript()
        );
    }
    let ups = board
        .events()
        .iter()
        .filter(|event| matches!(event, Event::ClusterUp { .. }))
        .count();
    assert_eq!(ups, 3, "{}", board.transcript());
    assert_eq!(board.events().last(), Some(&Event::BoardOff { status: 0 }));
}

#[test]
fn the_kcall_test_passes_on_a_machine() {
    run_and_expect(
        "kcalls",
        &[("cc0", "kcall-test on cc0: 66 checks, 0 failed")],
    );
}

#[test]
fn the_communication_tests_pass_between_machines() {
    run_and_expect(
        "mailbox-errors",
        &[("io0", "mailbox-test: 70 checks, 0 failed")],
    );
    run_and_expect(
        "portal-errors",
        &[("io0", "portal-test: 51 checks, 0 failed")],
    );
    run_and_expect("sync-errors", &[("io0", "sync-test: 21 checks, 0 failed")]);
    run_and_expect(
        "mailbox",
        &[(
            "io0",
            "mailbox-test: received 20000 from 2 senders in order",
        )],
    );
    run_and_expect("portal", &[("cc1", "portal-test: 5 transfers ok")]);
    run_and_expect(
        "data",
        &[
            ("cc0", "data-test: 10 transfers ok"),
            ("cc1", "data-test: 10 transfers ok"),
        ],
    );
    run_and_expect(
        "barrier",
        &[
            ("io0", "sync-test: 1000 rounds ok"),
            ("cc0", "sync-test: 1000 rounds ok"),
            ("cc1", "sync-test: 1000 rounds ok"),
        ],
    );
}

#[test]
fn a_faulting_thread_is_reported_and_ended_while_its_program_goes_on() {
    let mut board = start("threads");
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(&board, "cc0", "thread-test: 46 checks, 0 failed"),
        "{}",
        board.transcript()
    );
    let store = board.events().iter().any(|event| {
        matches!(event, Event::ThreadFault { cluster, access, address, .. }
            if cluster == "cc0" && access == "write" && *address == 0x10)
    });
    assert!(store, "{}", board.transcript());
}

#[test]
fn the_name_server_serves_and_a_killed_machine_is_reported_dead_and_its_names_released() {
    let mut board = start("names");
    wait_for_line(&mut board, "cc0", "name-test: 15 checks, 0 failed");
    assert!(
        printed(&board, "io0", "name-server: serving on node 0 port 1"),
        "{}",
        board.transcript()
    );
    drop(board);
    let mut board = start("names-death");
    wait_for_line(&mut board, "cc0", "name-test: holding");
    wait_for_line(&mut board, "cc1", "name-test: saw held");
    let pid = board
        .events()
        .iter()
        .find_map(|event| match event {
            Event::ClusterUp { cluster, pid, .. } if cluster == "cc0" => Some(*pid),
            _ => None,
        })
        .unwrap();
    signal(pid, libc::SIGKILL).unwrap();
    wait_for_line(&mut board, "cc1", "name-test: took held");
    assert!(
        board.events().iter().any(|event| matches!(event,
            Event::ClusterDied { cluster, .. } if cluster == "cc0")),
        "{}",
        board.transcript()
    );
}

#[test]
fn a_machine_waits_for_a_debugger_and_goes_on_when_told_to() {
    let mut board = Board::start_with(
        NANVIX,
        on_machines("kcalls"),
        Duration::from_secs(120),
        &["--gdb", "cc0"],
    )
    .unwrap();
    let waiting = board
        .wait_for(|event| matches!(event, Event::MachineWaitsForDebugger { .. }))
        .unwrap();
    let Event::MachineWaitsForDebugger {
        cluster,
        address,
        kernel,
    } = waiting
    else {
        unreachable!()
    };
    assert_eq!(cluster, "cc0");
    assert_eq!(
        &std::fs::read(&kernel).unwrap()[..4],
        b"\x7fELF",
        "{kernel}"
    );
    // Stopped: nothing of cc0 comes for a while.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !board.events().iter().any(|event| matches!(event,
            Event::ClusterUp { cluster, .. } if cluster == "cc0")),
        "{}",
        board.transcript()
    );
    // What a debugger's `continue` sends (GDB's remote protocol: a packet `c`).
    let mut stub = std::net::TcpStream::connect(&address).unwrap();
    std::io::Write::write_all(&mut stub, b"+$c#63").unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(&board, "cc0", "kcall-test on cc0: 66 checks, 0 failed"),
        "{}",
        board.transcript()
    );
}

#[test]
fn an_mppa256_of_twenty_machines_boots_to_init_and_shuts_down() {
    let manifest = nanvix_image_builder::workspace_root()
        .join("image-builder/tests/systems/mppa256-init.toml");
    let mut board = Board::start(NANVIX, manifest, Duration::from_secs(240)).unwrap();
    for line in [
        "init: started name-server in slot 2",
        "init: started process-server in slot 4",
        "name-server: serving on node 2 port 1",
        "process-server: serving on node 0 port 2",
    ] {
        wait_for_line(&mut board, "io0", line);
    }
    // Every pair's ping-pong (io2-io3 and the 16 compute clusters) ends.
    let pairs = |board: &Board| {
        board
            .events()
            .iter()
            .filter(|event| {
                matches!(event,
                Event::Console { line, .. } if line.ends_with(": 100 rounds ok"))
            })
            .count()
    };
    while pairs(&board) < 18 {
        board
            .wait_for(|event| {
                matches!(event,
                Event::Console { line, .. } if line.ends_with(": 100 rounds ok"))
            })
            .unwrap_or_else(|error| panic!("{error:?}\n{}", board.transcript()));
    }
    signal(board.runner_pid(), libc::SIGTERM).unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for line in [
        "init: stopping process-server",
        "init: stopping name-server",
        "init: done, status 0",
    ] {
        assert!(
            printed(&board, "io0", line),
            "no `{line}`:\n{}",
            board.transcript()
        );
    }
    let ups = board
        .events()
        .iter()
        .filter(|event| matches!(event, Event::ClusterUp { .. }))
        .count();
    assert_eq!(ups, 20, "{}", board.transcript());
}

#[test]
fn console_input_reaches_the_program_on_its_machine_and_ends() {
    let mut board = Board::start_with_input(
        NANVIX,
        on_machines("console"),
        Duration::from_secs(120),
        &[],
        Some(b"first line\nsecond line\nno newline".to_vec()),
    )
    .unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let echoed = common::console_lines(&board, |cluster, _, line| {
        cluster == "cc0" && !line.starts_with("hello from")
    });
    assert_eq!(
        echoed,
        [
            "echo: first line",
            "echo: second line",
            "echo: no newline",
            "end of input"
        ],
        "{}",
        board.transcript()
    );
}

/// Boots `name` on machines with the disk file `disk` (started over when `fresh`).
fn start_on_disk(name: &str, disk: &std::path::Path, fresh: bool) -> Board {
    common::start_on_disk_within(on_machines(name), disk, fresh, Duration::from_secs(120))
}

#[test]
fn a_machines_disk_keeps_what_it_wrote_for_the_next_boot_and_serves_the_file_system() {
    let directory = common::scratch_directory("nanvix-machines-disk");
    let disk = directory.join("disk.img");
    let mut board = start_on_disk("disk-write", &disk, true);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let mut board = start_on_disk("disk-verify", &disk, false);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(&board, "io0", "disk-test: verified round 1"),
        "{}",
        board.transcript()
    );
    let files = directory.join("files.img");
    let mut board = start_on_disk("vfs", &files, true);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for (cluster, line) in [
        ("io0", "vfs-test: local: 42 checks, 0 failed"),
        ("cc0", "vfs-test: remote: 8 checks, 0 failed"),
    ] {
        assert!(printed(&board, cluster, line), "{}", board.transcript());
    }
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn the_ddr_is_shared_by_the_machines_attached_to_it() {
    run_and_expect(
        "ddr",
        &[
            ("io0", "ddr-test: write: 10 checks, 0 failed"),
            ("io1", "ddr-test: read: 3 checks, 0 failed"),
            ("cc0", "ddr-test: absent: 3 checks, 0 failed"),
        ],
    );
}

#[test]
fn nsh_on_a_machine_runs_a_script_from_its_input_and_spawns_on_another() {
    let root = nanvix_image_builder::workspace_root();
    let text = std::fs::read_to_string(root.join("systems/shell.toml")).unwrap();
    let path =
        std::env::temp_dir().join(format!("nanvix-machines-shell-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        text.replace("platform = \"hosted\"", "platform = \"qemu-x86_64\""),
    )
    .unwrap();
    // nsh ends with its last program's status: a greeting last.
    let script = b"process-test mode=exit status=3\nnosuch\nhello partner=none\n".to_vec();
    let mut board = Board::start_with_input(
        NANVIX,
        path.clone(),
        Duration::from_secs(120),
        &[],
        Some(script),
    )
    .unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let lines = common::console_lines(&board, |cluster, program, _| {
        cluster == "cc0" && program == "nsh"
    });
    assert_eq!(
        lines,
        [
            "$ process-test mode=exit status=3",
            "nsh: process-test: exited with status 3",
            "$ nosuch",
            "nsh: nosuch: no such program",
            "$ hello partner=none",
        ],
        "{}",
        board.transcript()
    );
    assert!(
        printed(
            &board,
            "cc1",
            "hello from cc1: node 5, 4 cores, 2048 KiB SRAM, program 0"
        ),
        "{}",
        board.transcript()
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn warm_machines_run_program_after_program_for_the_process_and_power_tests() {
    run_and_expect(
        "power",
        &[
            ("io0", "power-test: 43 checks, 0 failed"),
            (
                "cc0",
                "power-test: worker up in epoch 1, 3 checks, 0 failed",
            ),
        ],
    );
    let mut board = start("processes");
    // The sleeper's machine, killed under its process: reaped, its waiter told.
    common::kill_the_sleepers_cluster(&mut board);
    wait_for_line(&mut board, "io0", "process-test: 25 checks, 0 failed");
    assert!(
        !board
            .events()
            .iter()
            .any(|event| matches!(event, Event::Console { line, .. } if line.starts_with("FAIL"))),
        "{}",
        board.transcript()
    );
}

#[test]
fn a_sigterm_to_the_runner_shuts_the_machines_down_through_init() {
    let mut board = start("init-shutdown");
    common::shut_down_once_the_servers_serve(&mut board);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for line in ["init: stopping process-server", "init: done, status 0"] {
        assert!(
            printed(&board, "io0", line),
            "no `{line}`:\n{}",
            board.transcript()
        );
    }
    common::assert_no_board_stop(&board);
}

#[test]
fn programs_run_from_the_file_system_on_machines_through_the_staging_store() {
    let directory = common::scratch_directory("nanvix-machines-programs");
    let mut board = start_on_disk("programs-from-files", &directory.join("disk"), true);
    let status = board.wait_exit().unwrap();
    let _ = std::fs::remove_dir_all(&directory);
    // The bytes ran on a warm compute machine booted before they were staged.
    common::assert_programs_ran_from_files(&board, status);
}
