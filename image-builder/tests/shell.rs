//! System tests of nsh on a compute cluster: driven by a script on its standard
//! input (foreground and background programs, `ps`, `kill`, `wait`, an unknown
//! program, and the end of the input ending the shell and, through it, the process
//! server and the board), and typed on interactively, with a Ctrl-C (SIGINT to the
//! runner) interrupting the foreground job, and on a terminal, where the runner edits
//! the lines (history, cursor keys).

mod common;

use nanvix_harness::{Board, Event, signal};
use std::time::Duration;

const NANVIX: &str = env!("CARGO_BIN_EXE_nanvix");

#[test]
fn nsh_runs_a_script_from_its_input() {
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
    let mut board = start_with_script(script);
    // The board's status counts each cluster's last incarnation: cc0's last program
    // (hello) ended with 0; the status 3 was the shell's business.
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let lines = common::console_lines(&board, |cluster, program, _| {
        cluster == "cc0" && program == "nsh"
    });
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
            // Process 3 runs on the compute cluster nsh leaves free.
            assert_eq!(line, "3 cc1");
        } else {
            assert_eq!(line, wanted, "{}", board.transcript());
        }
    }
    // The spawned programs' own output reached the console too.
    assert_eq!(greetings(&board), 2, "{}", board.transcript());
}

/// Boots `systems/shell.toml` with `script` typed on the terminal (then closed).
fn start_with_script(script: Vec<u8>) -> Board {
    let manifest = nanvix_image_builder::workspace_root().join("systems/shell.toml");
    Board::start_with_input(
        NANVIX,
        manifest,
        Duration::from_secs(120),
        &[],
        Some(script),
    )
    .unwrap()
}

/// The lines nsh printed so far.
fn shell_lines(board: &Board) -> Vec<String> {
    common::console_lines(board, |_, program, _| program == "nsh")
}

#[test]
fn ctrl_c_interrupts_the_foreground_job_and_not_the_board() {
    let manifest = nanvix_image_builder::workspace_root().join("systems/shell.toml");
    let mut board =
        Board::start_interactive(NANVIX, manifest, Duration::from_secs(120), &[]).unwrap();
    let runner = board.runner_pid();
    // A Ctrl-C at the prompt drops the line being typed; the board goes on.
    board.type_input(b"hello partner=nobody-sees-this").unwrap();
    board
        .wait_until_up(&["io0", "cc0"])
        .unwrap_or_else(|error| panic!("{error:?}\n{}", board.transcript()));
    signal(runner, libc::SIGINT).unwrap();
    board
        .wait_for(|event| matches!(event, Event::Interrupt { cluster } if cluster == "cc0"))
        .unwrap_or_else(|error| panic!("{error:?}\n{}", board.transcript()));
    // A foreground job, interrupted once it runs.
    board.type_input(b"\nprocess-test mode=sleep\n").unwrap();
    board
        .wait_for(|event| matches!(event, Event::ClusterUp { cluster, .. } if cluster == "cc1"))
        .unwrap_or_else(|error| panic!("{error:?}\n{}", board.transcript()));
    signal(runner, libc::SIGINT).unwrap();
    board
        .wait_for(|event| {
            matches!(event, Event::Console { line, .. }
                if line == "nsh: process-test: killed by SIGINT")
        })
        .unwrap_or_else(|error| panic!("{error:?}\n{}", board.transcript()));
    // The shell goes on; the end of the input ends it, and the board.
    board.type_input(b"hello partner=none\n").unwrap();
    board.end_input();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert_eq!(
        shell_lines(&board),
        [
            "$ process-test mode=sleep",
            "nsh: process-test: killed by SIGINT",
            "$ hello partner=none",
        ],
        "{}",
        board.transcript()
    );
}

#[test]
fn a_foreground_job_reads_the_shells_input() {
    // `cat` reads the rest of the script, as a job of a shell reading a script does.
    let script = b"process-test mode=cat\nalpha\nbeta gamma\n".to_vec();
    let mut board = start_with_script(script);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert_eq!(
        shell_lines(&board),
        ["$ process-test mode=cat"],
        "{}",
        board.transcript()
    );
    let cat: Vec<String> = board
        .events()
        .iter()
        .filter_map(|event| match event {
            Event::Console { program, line, .. } if common::is_program(program, "process-test") => {
                Some(line.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        cat,
        ["cat: alpha", "cat: beta gamma", "cat: 2 lines"],
        "{}",
        board.transcript()
    );
}

/// A pseudo-terminal: (the terminal's side, the side a program runs on).
fn open_terminal() -> (std::fs::File, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let (mut terminal, mut program) = (-1, -1);
    // SAFETY: two valid out-pointers for the descriptors; no name, settings or size.
    let opened = unsafe {
        libc::openpty(
            &mut terminal,
            &mut program,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty returned two descriptors that nothing else owns.
    unsafe {
        (
            std::fs::File::from_raw_fd(terminal),
            std::os::fd::OwnedFd::from_raw_fd(program),
        )
    }
}

#[test]
fn on_a_terminal_lines_are_edited_and_recalled_from_history() {
    use std::io::{Read, Write};
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;
    let manifest = nanvix_image_builder::workspace_root().join("systems/shell.toml");
    let image = nanvix_harness::prepare(std::path::Path::new(NANVIX), &manifest).unwrap();
    let (mut terminal, program) = open_terminal();
    let mut runner = Command::new(NANVIX)
        .args(["run", "--timeout", "120"])
        .arg(&image)
        .stdin(Stdio::from(program.try_clone().unwrap()))
        .stdout(Stdio::from(program.try_clone().unwrap()))
        .stderr(Stdio::from(program))
        .process_group(0)
        .spawn()
        .unwrap();
    let screen = Arc::new(Mutex::new(String::new()));
    let reader = terminal.try_clone().unwrap();
    let shown = Arc::clone(&screen);
    std::thread::spawn(move || {
        let mut reader = reader;
        let mut chunk = [0u8; 4096];
        // Ends with EIO once the runner and its clusters closed the terminal.
        while let Ok(read @ 1..) = reader.read(&mut chunk) {
            shown
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..read]));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let wait_for_count = |text: &str, count: usize| {
        while screen.lock().unwrap().matches(text).count() < count {
            if Instant::now() > deadline {
                let _ = signal(runner.id(), libc::SIGKILL);
                panic!("no {text:?} on the terminal:\n{}", screen.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let wait_for = |text: &str| wait_for_count(text, 1);
    wait_for("[board] cc0 up");
    // A line typed with a mistake, erased (backspace) and retyped.
    terminal
        .write_all(b"hello partner=nonx\x7f\x7fne\r")
        .unwrap();
    wait_for("$ hello partner=none");
    // The line again from the history (up arrow), its end edited: Ctrl-A to the
    // start, Ctrl-E to the end, Ctrl-W erases the last word.
    terminal
        .write_all(b"\x1b[A\x01\x05\x17partner=again\r")
        .unwrap();
    wait_for("$ hello partner=again");
    // Two lines back in the history: the first line, run again (its status, 0, is
    // the shell's, and so the board's, at the end).
    terminal.write_all(b"\x1b[A\x1b[A\r").unwrap();
    wait_for_count("$ hello partner=none", 2);
    // Ctrl-C drops a half-typed line; Ctrl-D on an empty line ends the input, nsh,
    // and the board.
    terminal.write_all(b"never run\x03").unwrap();
    wait_for("Ctrl-C forwarded to cc0");
    terminal.write_all(b"\x04").unwrap();
    let status = loop {
        if let Some(status) = runner.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = signal(runner.id(), libc::SIGKILL);
            panic!("the board did not end:\n{}", screen.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let shown = screen.lock().unwrap().clone();
    assert!(status.success(), "{status:?}\n{shown}");
    assert!(!shown.contains("$ never run"), "{shown}");
}

/// `nanvix run --user alice`: nsh logs alice in, starts in her home, refuses to
/// enter bob's, keeps a working directory, and runs its jobs as alice from it (the
/// job checks relative paths from /home/alice and that it is alice's); init shuts
/// the servers down when the input ends.
#[test]
fn nsh_logs_a_user_in_and_keeps_a_working_directory() {
    let script = b"whoami\npwd\ncd /home/bob\ncd /etc\npwd\ncd\npwd\nvfs-test mode=api\n".to_vec();
    let (mut board, directory) = start_as_alice("nanvix-shell-users", script);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let expected = [
        "nsh: alice logged in (user 1000)",
        "$ whoami",
        "alice",
        "$ pwd",
        "/home/alice",
        "$ cd /home/bob",
        "nsh: cd /home/bob: EACCES",
        "$ cd /etc",
        "$ pwd",
        "/etc",
        "$ cd",
        "$ pwd",
        "/home/alice",
        "$ vfs-test mode=api",
    ];
    assert_eq!(shell_lines(&board), expected, "{}", board.transcript());
    assert!(
        board.events().iter().any(|event| matches!(event,
            Event::Console { program, line, .. }
                if common::is_program(program, "vfs-test") && line == "vfs-test: api: 30 checks, 0 failed")),
        "{}",
        board.transcript()
    );
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn a_user_the_system_does_not_have_is_refused_before_the_board_boots() {
    let manifest =
        nanvix_image_builder::workspace_root().join("image-builder/tests/systems/shell-users.toml");
    let output = std::process::Command::new(NANVIX)
        .arg("run")
        .arg(&manifest)
        .args(["--user", "mallory"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--user mallory: the system has no such user"),
        "{stderr}"
    );
}

/// `>`, `>>` and `<`: a job's output to a file the job opens as its user, read back
/// as another job's input, appended to; a file the user may not write ends the job
/// with a line on the console; a `>` without a file is refused.
#[test]
fn nsh_redirects_a_jobs_standard_streams_to_files() {
    let script = b"hello partner=none > greeting.txt\n\
        process-test mode=cat < greeting.txt > copy.txt\n\
        hello partner=none >> copy.txt\n\
        process-test mode=cat <copy.txt\n\
        hello partner=none > /etc/nope\n\
        hello partner=none >\n"
        .to_vec();
    let (mut board, directory) = start_as_alice("nanvix-shell-streams", script);
    board.wait_exit().unwrap();
    let job_lines = lines_of(&board, "process-test");
    // Only the last cat prints on the console: the first one's output went to
    // copy.txt, which holds its two lines and the appended greeting.
    assert_eq!(job_lines.len(), 4, "{}", board.transcript());
    assert!(
        job_lines[0].starts_with("cat: cat: hello from cc"),
        "{job_lines:?}"
    );
    assert_eq!(job_lines[1], "cat: cat: 1 lines");
    assert!(
        job_lines[2].starts_with("cat: hello from cc"),
        "{job_lines:?}"
    );
    assert_eq!(job_lines[3], "cat: 3 lines");
    let printed = |wanted: &str| any_line(&board, wanted);
    assert!(
        printed("hello: cannot write its output to /etc/nope: EACCES"),
        "{}",
        board.transcript()
    );
    assert!(
        printed("nsh: hello: exited with status 1"),
        "{}",
        board.transcript()
    );
    assert!(printed("nsh: `>` names no file"), "{}", board.transcript());
    let _ = std::fs::remove_dir_all(&directory);
}

/// `|`: a greeting piped into cat; a 40 KB file (more than a pipe holds) through
/// two cats, every line there and counted; a pipeline longer than the board's
/// compute clusters refused; a stage that names no program refused; a writer that
/// panics ends its pipe (its reader reads the end); and five more greetings piped,
/// each reaching cat (the shell learns of a writer's end before its last messages
/// arrive: the pipe ends after them, not at the news).
#[test]
fn nsh_pipes_one_jobs_output_into_the_next_ones_input() {
    let script = b"hello partner=none | process-test mode=cat\n\
        process-test mode=cat < /etc/lines.txt | process-test mode=cat\n\
        hello | hello | hello\n\
        hello |\n\
        process-test mode=panic | process-test mode=cat\n\
        hello partner=none | process-test mode=cat\n\
        hello partner=none | process-test mode=cat\n\
        hello partner=none | process-test mode=cat\n\
        hello partner=none | process-test mode=cat\n\
        hello partner=none | process-test mode=cat\n"
        .to_vec();
    let (mut board, directory) = start_as_alice("nanvix-shell-pipes", script);
    board.wait_exit().unwrap();
    let cat_lines = lines_of(&board, "process-test");
    assert!(
        cat_lines[0].starts_with("cat: hello from cc"),
        "{cat_lines:?}"
    );
    assert_eq!(cat_lines[1], "cat: 1 lines");
    let lines = std::fs::read_to_string(
        nanvix_image_builder::workspace_root().join("image-builder/tests/systems/lines.txt"),
    )
    .unwrap();
    let mut wanted: Vec<String> = lines
        .lines()
        .map(|line| format!("cat: cat: {line}"))
        .collect();
    wanted.push("cat: cat: 1000 lines".into());
    wanted.push("cat: 1001 lines".into());
    let end = 2 + wanted.len();
    assert_eq!(cat_lines[2..end], wanted[..], "{}", board.transcript());
    // The panicking writer's cat, then five greetings, each counted.
    let rest: Vec<&String> = cat_lines[end..]
        .iter()
        .filter(|line| line.starts_with("cat: "))
        .collect();
    assert_eq!(rest.len(), 1 + 5 * 2, "{}", board.transcript());
    assert_eq!(rest[0], "cat: 0 lines", "{}", board.transcript());
    for pair in rest[1..].chunks(2) {
        assert!(pair[0].starts_with("cat: hello from cc"), "{rest:?}");
        assert_eq!(pair[1], "cat: 1 lines", "{rest:?}");
    }
    let printed = |wanted: &str| any_line(&board, wanted);
    assert!(
        printed("nsh: a pipeline of 3 programs needs as many compute clusters; the board has 2"),
        "{}",
        board.transcript()
    );
    assert!(
        printed("nsh: a pipeline stage names no program"),
        "{}",
        board.transcript()
    );
    let _ = std::fs::remove_dir_all(&directory);
}

/// `path=/bin`: nsh looks programs up as files, as the user: by path (absolute or
/// relative), by name in /bin; a file the user may not execute, or one without an
/// execute bit, is refused; a name found nowhere is no such program.
#[test]
fn nsh_finds_programs_in_its_search_path_as_the_user() {
    let script = b"/bin/hello partner=none\n\
        hello partner=none\n\
        ../../bin/hello partner=none\n\
        nosuch\n\
        /opt/hello\n\
        /etc/lines.txt\n"
        .to_vec();
    let (mut board, directory) = start_as_alice("nanvix-shell-path", script);
    board.wait_exit().unwrap();
    assert_eq!(greetings(&board), 3, "{}", board.transcript());
    let lines = shell_lines(&board);
    for wanted in [
        "nsh: nosuch: no such program",
        "nsh: /opt/hello: permission denied",
        "nsh: /etc/lines.txt: permission denied",
    ] {
        assert!(
            lines.iter().any(|line| line == wanted),
            "{wanted}: {lines:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&directory);
}

/// Boots `shell-users.toml` with alice logged in, on a fresh disk in a directory of
/// its own (`name`, which the caller removes), `script` typed on its input.
fn start_as_alice(name: &str, script: Vec<u8>) -> (Board, std::path::PathBuf) {
    let directory = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let disk = directory.join("shell.disk");
    let manifest =
        nanvix_image_builder::workspace_root().join("image-builder/tests/systems/shell-users.toml");
    let board = Board::start_with_input(
        NANVIX,
        manifest,
        Duration::from_secs(120),
        &[
            "--user",
            "alice",
            "--fresh-disk",
            "--disk",
            disk.to_str().unwrap(),
        ],
        Some(script),
    )
    .unwrap();
    (board, directory)
}

/// How many greetings `hello` printed on compute clusters.
fn greetings(board: &Board) -> usize {
    board
        .events()
        .iter()
        .filter(|event| {
            matches!(event, Event::Console { program, line, .. }
                if common::is_program(program, "hello") && line.starts_with("hello from cc"))
        })
        .count()
}

/// The console lines program `program` printed.
fn lines_of(board: &Board, program: &str) -> Vec<String> {
    board
        .events()
        .iter()
        .filter_map(|event| match event {
            Event::Console {
                program: printer,
                line,
                ..
            } if common::is_program(printer, program) => Some(line.clone()),
            _ => None,
        })
        .collect()
}

/// Whether any program printed `wanted`.
fn any_line(board: &Board, wanted: &str) -> bool {
    board
        .events()
        .iter()
        .any(|event| matches!(event, Event::Console { line, .. } if line == wanted))
}
