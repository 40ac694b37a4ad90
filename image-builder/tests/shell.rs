//! System test of nsh driven by a script on its standard input: foreground and
//! background programs, `ps`, `kill`, `wait`, an unknown program, and the end of
//! the input ending the shell (and, through it, the process server and the board).

use nanvix_harness::{Board, Event};
use std::time::Duration;

const NANVIX: &str = env!("CARGO_BIN_EXE_nanvix");

#[test]
fn nsh_runs_a_script_from_its_input() {
    let manifest = nanvix_image_builder::workspace_root().join("systems/shell.toml");
    let script = b"# a script\n\
        hello partner=none\n\
        process-test mode=exit status=3\n\
        process-test mode=sleep &\n\
        ps\n\
        kill -KILL 3\n\
        wait 3\n\
        nosuch\n\
        \n\
        hello partner=none"
        .to_vec();
    let mut board = Board::start_with_input(
        NANVIX,
        manifest,
        Duration::from_secs(120),
        &[],
        Some(script),
    )
    .unwrap();
    // The board's status counts each cluster's last incarnation: cc0's last program
    // (hello) ended with 0; the status 3 was the shell's business.
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let lines: Vec<String> = board
        .events()
        .iter()
        .filter_map(|event| match event {
            Event::Console {
                cluster,
                program,
                line,
                ..
            } if cluster == "io0" && program == "nsh" => Some(line.clone()),
            _ => None,
        })
        .collect();
    let expected = [
        "$ hello partner=none",
        "$ process-test mode=exit status=3",
        "nsh: process-test: exited with status 3",
        "$ process-test mode=sleep &",
        "[3]",
        "$ ps",
        "LIST",
        "$ kill -KILL 3",
        "$ wait 3",
        "3: killed by SIGKILL",
        "$ nosuch",
        "nsh: nosuch: no such program",
        "$ hello partner=none",
    ];
    assert_eq!(lines.len(), expected.len(), "{}", board.transcript());
    for (line, wanted) in lines.iter().zip(expected) {
        if wanted == "LIST" {
            // Process 3 runs on one of the two compute clusters.
            assert!(line == "3 cc0" || line == "3 cc1", "{line}");
        } else {
            assert_eq!(line, wanted, "{}", board.transcript());
        }
    }
    // The spawned programs' own output reached the console too.
    let hellos = board
        .events()
        .iter()
        .filter(|event| {
            matches!(event, Event::Console { program, line, .. }
                if program == "hello" && line.starts_with("hello from cc"))
        })
        .count();
    assert_eq!(hellos, 2, "{}", board.transcript());
}
