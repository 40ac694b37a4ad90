//! System test of init: it starts the servers the manifest's `[init]` section
//! lists in their slots, starts a killed one again by its policy (calls under way
//! in the killed one end with ECONNRESET, on its cluster and across the NoC, and
//! the new one serves the old one's clients), refuses a shutdown from a compute cluster, and
//! shuts down in order (the process server, which catches init's SIGTERM, ends by
//! itself; then the name server), after which the board powers off with 0.

mod common;

use common::{printed, start};
use nanvix_harness::Event;

#[test]
fn init_restarts_killed_servers_and_shuts_down_in_order() {
    let mut board = start("init.toml");
    let status = board.wait_exit().unwrap();
    assert!(
        printed(&board, "io0", "init-test: 13 checks, 0 failed"),
        "{}",
        board.transcript()
    );
    // The waiter on a compute cluster: its wait in the killed process server ended
    // with ECONNRESET (the kernel's notice crossed the NoC), and the restarted
    // server answered it again.
    assert!(
        board.events().iter().any(|event| matches!(event,
            Event::Console { cluster, line, .. } if cluster.starts_with("cc")
                && line == "init-test: an in-flight wait ended with ECONNRESET, and the restarted server serves again")),
        "{}",
        board.transcript()
    );
    assert_eq!(status, 0, "{}", board.transcript());
    // Whether cc0 is still on when init powers the compute clusters off depends
    // on whether the process server's own power-off got there first: that line
    // may or may not be there.
    let init_lines = common::console_lines(&board, |_, program, line| {
        program == "init" && !line.starts_with("init: powering off")
    });
    let expected = [
        "init: serving on node 0 port 3, 2 servers",
        "init: started name-server in slot 2",
        "init: started process-server in slot 4",
        "init: name-server ended with status 137: starting it again",
        "init: process-server ended with status 137: starting it again",
        "init: stopping process-server",
        "init: stopping name-server",
        "init: done, status 0",
    ];
    assert_eq!(init_lines, expected, "{}", board.transcript());
    // The process server ended by itself on init's SIGTERM (it stops its processes
    // first): init never had to kill it.
    assert!(
        !init_lines
            .iter()
            .any(|line| line.contains("did not end by itself")),
        "{}",
        board.transcript()
    );
}

#[test]
fn a_sigterm_to_the_runner_shuts_the_board_down_through_init() {
    let mut board = start("init-shutdown.toml");
    // Both servers serve before the request.
    common::shut_down_once_the_servers_serve(&mut board);
    let status = board.wait_exit().unwrap();
    assert_eq!(status, 0, "{}", board.transcript());
    assert!(
        board
            .events()
            .iter()
            .any(|event| matches!(event, Event::ShutdownRequested { cluster } if cluster == "io0")),
        "{}",
        board.transcript()
    );
    for line in [
        "init: stopping process-server",
        "init: stopping name-server",
        "init: powering off cc0",
        "init: done, status 0",
    ] {
        assert!(
            printed(&board, "io0", line),
            "no `{line}`:\n{}",
            board.transcript()
        );
    }
    // Nobody had to be killed, and the board did not stop itself.
    common::assert_no_board_stop(&board);
}
