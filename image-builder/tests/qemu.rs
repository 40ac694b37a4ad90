//! The qemu-x86_64 platform, first steps (its checks, `nanvix-qemu-checks`): the
//! platform boots under QEMU (PVH entry,
//! long mode), reads its command line, speaks on the serial console and ends QEMU
//! through the exit device; a mode it does not have ends it with failure, and the
//! kernel has none of the checks' modes; an
//! invalid opcode and a wild pointer are reported (vector, where, the address) and
//! end it with failure, and so does a panic (with the kernel addresses on its
//! stack); on 4 and 16 cores every application processor comes online
//! and the HAL's `Cores` contract holds (the master and a core past the count
//! refused, every core runs its entry and knows itself, a busy core refused, the
//! next entry run after); the boot core parks until its timer fires; work with a
//! periodic tick interrupting it gives the same result as without;
//! programs in ring 3 (the HAL's `UserMode`) call the kernel through `syscall` and
//! come back to it by returning or by the exit call; a program that reads a wild
//! pointer or executes a privileged instruction is killed with a report and the
//! kernel runs the next; a program has the kernel run another nested inside its
//! call; every core of 4 and 16 runs a program in ring 3 at once; a program that
//! never ends is interrupted from another core, resumed three times by the HAL's
//! interrupt hook and ended the fourth; the HAL's fault hook pages in a wild read
//! and retries it, ends a privileged program with its value, and finds an invalid
//! instruction fatal (the machine ends with the report); two machines sharing an ivshmem
//! device pass a message through it; the microkernel itself, booted over this HAL
//! with a boot bundle on a cluster of the tiny board, runs `kcall-test` in ring 3
//! and its checks pass. Each boot has a time limit.

use nanvix_board_protocol::ClusterReport;
use nanvix_hal::ClusterState;
use nanvix_hal_hosted::hardware::BoardHardware;
use nanvix_image_builder::{builder, manifest, qemu, workspace_root};
use std::time::Duration;

/// The longest one boot may take (QEMU reaches the kernel in about 0.1 s here).
const LIMIT: Duration = Duration::from_secs(60);

fn boot(command_line: &str) -> qemu::Boot {
    boot_on(1, command_line)
}

fn boot_on(cores: usize, command_line: &str) -> qemu::Boot {
    let root = workspace_root();
    let checks = builder::build_qemu_checks(&root).expect("the qemu-x86_64 checks build");
    let emulator = qemu::ensure_installed().expect("QEMU is there or installed");
    qemu::boot(&emulator, &checks, cores, command_line, LIMIT).expect("QEMU starts")
}

#[test]
fn the_kernel_boots_in_long_mode_and_says_hello() {
    let boot = boot("mode=hello");
    assert_eq!(boot.status, Some(qemu::STATUS_PASS), "{}", boot.console);
    assert!(
        boot.console
            .contains("nanvix-qemu: booted in long mode, command line `mode=hello`"),
        "{}",
        boot.console
    );
    assert!(
        boot.console.contains("nanvix-qemu: hello from bare metal"),
        "{}",
        boot.console
    );
}

#[test]
fn a_mode_the_kernel_does_not_have_ends_it_with_failure() {
    let boot = boot("mode=nonesuch");
    assert_eq!(boot.status, Some(qemu::STATUS_FAIL), "{}", boot.console);
    assert!(
        boot.console
            .contains("nanvix-qemu: no such mode: `nonesuch`"),
        "{}",
        boot.console
    );
}

#[test]
fn the_kernel_has_no_check_modes() {
    let root = workspace_root();
    let kernel = builder::build_qemu_kernel(&root).expect("the qemu-x86_64 kernel builds");
    let emulator = qemu::ensure_installed().expect("QEMU is there or installed");
    let boot = qemu::boot(&emulator, &kernel, 1, "mode=hello", LIMIT).expect("QEMU starts");
    assert_eq!(boot.status, Some(qemu::STATUS_FAIL), "{}", boot.console);
    assert!(
        boot.console.contains("nanvix-qemu: no such mode: `hello`"),
        "{}",
        boot.console
    );
}

#[test]
fn a_panic_names_the_kernel_addresses_on_its_stack_and_ends_the_machine() {
    let boot = boot("mode=panic");
    assert_eq!(boot.status, Some(qemu::STATUS_FAIL), "{}", boot.console);
    let line = boot
        .console
        .lines()
        .find_map(|line| line.strip_prefix("nanvix-qemu: panic; kernel addresses on the stack: "))
        .unwrap_or_else(|| panic!("no panic line: {}", boot.console));
    let addresses: Vec<u64> = line
        .split_whitespace()
        .map(|word| u64::from_str_radix(word.trim_start_matches("0x"), 16).unwrap())
        .collect();
    assert_eq!(addresses.len(), 8, "{line}");
    // The panic came three calls deep: their return addresses are there, in the
    // kernel's code (linked at 1 MiB).
    let in_code = addresses
        .iter()
        .filter(|address| (0x10_0000..0x80_0000).contains(*address))
        .count();
    assert!(in_code >= 3, "{line}");
    assert!(!boot.console.contains("no panic came"), "{}", boot.console);
}

#[test]
fn an_invalid_opcode_is_reported_and_ends_the_machine() {
    let boot = boot("mode=invalid-opcode");
    assert_eq!(boot.status, Some(qemu::STATUS_FAIL), "{}", boot.console);
    assert!(
        boot.console
            .contains("nanvix-qemu: fault: vector 6 (invalid opcode), error 0x0, at rip 0x"),
        "{}",
        boot.console
    );
}

#[test]
fn a_wild_pointer_is_a_page_fault_reported_with_its_address() {
    let boot = boot("mode=wild-pointer");
    assert_eq!(boot.status, Some(qemu::STATUS_FAIL), "{}", boot.console);
    assert!(
        boot.console
            .contains("nanvix-qemu: fault: vector 14 (page fault)"),
        "{}",
        boot.console
    );
    assert!(
        boot.console.contains("address 0x1000000000"),
        "{}",
        boot.console
    );
    assert!(
        !boot.console.contains("where nothing is mapped"),
        "{}",
        boot.console
    );
}

#[test]
fn every_application_processor_comes_online() {
    for cores in [4, 16] {
        let boot = boot_on(cores, "mode=smp");
        assert_eq!(boot.status, Some(qemu::STATUS_PASS), "{}", boot.console);
        let others = cores - 1;
        assert!(
            boot.console.contains(&format!(
                "nanvix-qemu: {others} of {others} application processors online"
            )),
            "{}",
            boot.console
        );
        let greetings = boot
            .console
            .lines()
            .filter(|line| {
                line.contains("application processor") && line.contains(" online as core ")
            })
            .count();
        assert_eq!(greetings, others, "{}", boot.console);
    }
}

#[test]
fn the_cores_keep_the_hal_contract_and_the_boot_core_sleeps_on_its_timer() {
    for cores in [1, 4, 16] {
        let checked = boot_on(cores, "mode=cores");
        assert_eq!(
            checked.status,
            Some(qemu::STATUS_PASS),
            "{}",
            checked.console
        );
        assert!(
            checked.console.contains(&format!(
                "nanvix-qemu: cores: {cores} cores, {} contexts, the contract held: true",
                if cores == 1 { 1 } else { 65 }
            )),
            "{}",
            checked.console
        );
        assert!(!checked.console.contains("FAILED"), "{}", checked.console);
        let checks = checked
            .console
            .lines()
            .filter(|line| line.starts_with("nanvix-qemu: cores: ") && line.ends_with(": ok"))
            .count();
        assert_eq!(
            checks,
            if cores == 1 { 3 } else { 7 },
            "{}",
            checked.console
        );
    }
    let slept = boot("mode=sleep");
    assert_eq!(slept.status, Some(qemu::STATUS_PASS), "{}", slept.console);
    assert!(
        slept
            .console
            .contains("nanvix-qemu: the boot core woke on its timer after "),
        "{}",
        slept.console
    );
}

#[test]
fn a_program_in_ring_3_calls_the_kernel_and_exits_back_to_it() {
    let boot = boot("mode=user");
    assert_eq!(boot.status, Some(qemu::STATUS_PASS), "{}", boot.console);
    assert!(
        boot.console.contains("program: hello from ring 3, CPL 3"),
        "{}",
        boot.console
    );
    assert!(
        boot.console.contains(
            "nanvix-qemu: back in the kernel, the program returned 0xc0ffee; another exited with 0x5eed"
        ),
        "{}",
        boot.console
    );
}

#[test]
fn a_faulting_program_is_killed_with_a_report_and_the_kernel_goes_on() {
    let boot = boot("mode=user-faults");
    assert_eq!(boot.status, Some(qemu::STATUS_PASS), "{}", boot.console);
    for report in [
        "nanvix-qemu: program killed: vector 14 (page fault), error 0x4, at rip 0x",
        ", address 0x1000000000",
        "nanvix-qemu: program killed: vector 13 (general protection), error 0x0, at rip 0x",
        "program: hello from ring 3, CPL 3",
        "nanvix-qemu: the kernel kept serving: 0x800000000000000e, 0x800000000000000d, 0xc0ffee",
    ] {
        assert!(boot.console.contains(report), "{report}: {}", boot.console);
    }
}

#[test]
fn two_machines_pass_a_message_through_shared_memory() {
    let root = workspace_root();
    let kernel = builder::build_qemu_checks(&root).expect("the qemu-x86_64 checks build");
    let emulator = qemu::ensure_installed().expect("QEMU is there or installed");
    let path =
        std::path::PathBuf::from(format!("/dev/shm/nanvix-qemu-test-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let shared = qemu::shared_memory_arguments(&path, 1 << 20).expect("the shared file");
    let (receiver_kernel, receiver_emulator, receiver_shared) =
        (kernel.clone(), emulator.clone(), shared.clone());
    let receiver = std::thread::spawn(move || {
        qemu::boot_with(
            &receiver_emulator,
            &receiver_kernel,
            1,
            "mode=shm-receive",
            &receiver_shared,
            LIMIT,
        )
    });
    let sent = qemu::boot_with(&emulator, &kernel, 1, "mode=shm-send", &shared, LIMIT)
        .expect("QEMU starts");
    let received = receiver.join().unwrap().expect("QEMU starts");
    let _ = std::fs::remove_file(&path);
    assert_eq!(sent.status, Some(qemu::STATUS_PASS), "{}", sent.console);
    assert!(
        sent.console
            .contains("nanvix-qemu: sent; acknowledged: true"),
        "{}",
        sent.console
    );
    assert_eq!(
        received.status,
        Some(qemu::STATUS_PASS),
        "{}",
        received.console
    );
    assert!(
        received
            .console
            .contains("nanvix-qemu: received `a message from the other machine via ivshmem`"),
        "{}",
        received.console
    );
}

#[test]
fn a_program_has_the_kernel_run_another_nested_inside_its_call() {
    let boot = boot("mode=user-nested");
    assert_eq!(boot.status, Some(qemu::STATUS_PASS), "{}", boot.console);
    for line in [
        "program: nested, argument 21",
        "program: the nested program answered 42",
        "nanvix-qemu: the outer program returned 43",
    ] {
        assert!(boot.console.contains(line), "{line}: {}", boot.console);
    }
}

#[test]
fn every_core_runs_a_program_in_ring_3_at_once() {
    for cores in [4, 16] {
        let boot = boot_on(cores, "mode=user-cores");
        assert_eq!(boot.status, Some(qemu::STATUS_PASS), "{}", boot.console);
        for core in 0..cores {
            let line = format!("program: running in ring 3 on core {core}");
            assert!(boot.console.contains(&line), "{line}: {}", boot.console);
        }
        assert!(
            boot.console
                .contains("nanvix-qemu: every core ran its program in ring 3: true"),
            "{}",
            boot.console
        );
    }
}

#[test]
fn work_interrupted_by_a_periodic_tick_gives_the_same_result() {
    let boot = boot("mode=ticks");
    assert_eq!(boot.status, Some(qemu::STATUS_PASS), "{}", boot.console);
    assert!(
        boot.console
            .contains("ticks in the middle of the work; the same result: true"),
        "{}",
        boot.console
    );
}

#[test]
fn an_interrupt_hook_resumes_a_program_and_then_ends_it() {
    for cores in [2, 4] {
        let boot = boot_on(cores, "mode=preempt");
        assert_eq!(boot.status, Some(qemu::STATUS_PASS), "{}", boot.console);
        assert!(
            boot.console.contains(
                "nanvix-qemu: the spinning program ended with 0xdead after 4 interrupts (resumed 3 times)"
            ),
            "{}",
            boot.console
        );
    }
}

#[test]
fn the_fault_hook_retries_a_paged_in_read_ends_a_program_or_ends_the_machine() {
    let hooked = boot("mode=fault-hook");
    assert_eq!(hooked.status, Some(qemu::STATUS_PASS), "{}", hooked.console);
    assert!(
        hooked.console.contains(
            "nanvix-qemu: the paged-in read returned 0x12345678; the privileged program ended with 0xbad; the hook saw 2 faults"
        ),
        "{}",
        hooked.console
    );
    let fatal = boot("mode=fault-fatal");
    assert_eq!(fatal.status, Some(qemu::STATUS_FAIL), "{}", fatal.console);
    assert!(
        fatal
            .console
            .contains("nanvix-qemu: fault: vector 6 (invalid opcode), error 0x0, at rip 0x"),
        "{}",
        fatal.console
    );
    assert!(fatal.console.contains("(cs 0x2b)"), "{}", fatal.console);
    assert!(!fatal.console.contains("came back"), "{}", fatal.console);
}

/// A program to start: name, arguments, heap bytes.
type Program<'a> = (&'a str, &'a [&'a str], u64);

/// Boots the clusters of the tiny board that `clusters` names, one machine each at
/// once, each with its programs, over one NoC memory (the runner's registers written
/// as the runner would: each cluster on, in epoch 1, its system run): the
/// microkernel over the qemu-x86_64 HAL. The boots in `clusters`' order.
fn boot_clusters(clusters: &[(&str, &[Program<'_>])]) -> Vec<qemu::Boot> {
    let root = workspace_root();
    let kernel = builder::build_qemu_kernel(&root).expect("the qemu-x86_64 kernel builds");
    let emulator = qemu::ensure_installed().expect("QEMU is there or installed");
    let mut names: Vec<String> = clusters
        .iter()
        .flat_map(|(_, programs)| programs.iter().map(|(name, _, _)| name.to_string()))
        .collect();
    names.sort();
    names.dedup();
    let artifacts = builder::build(&root, &names, true).expect("the programs build");
    let elfs: Vec<(String, Vec<u8>)> = artifacts
        .programs
        .into_iter()
        .map(|(name, path)| (name, std::fs::read(path).unwrap()))
        .collect();
    let library: Vec<(&str, &[u8])> = elfs
        .iter()
        .map(|(name, elf)| (name.as_str(), elf.as_slice()))
        .collect();
    let board = manifest::parse_board(
        "tiny",
        &manifest::workspace_board_text(&root, "tiny").unwrap(),
    )
    .unwrap();
    let hardware = BoardHardware::create_for_machines(&board).expect("the NoC memory");
    let noc = qemu::noc_arguments(&hardware.path(), hardware.file_bytes().unwrap());
    let directory = std::env::temp_dir().join(format!("nanvix-qemu-test-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let machines: Vec<_> = clusters
        .iter()
        .map(|(cluster, programs)| {
            let index = board
                .clusters
                .iter()
                .position(|known| known.name == *cluster)
                .unwrap();
            let plans: Vec<manifest::ProgramPlan> = programs
                .iter()
                .map(|(name, arguments, heap_bytes)| manifest::ProgramPlan {
                    name: name.to_string(),
                    arguments: arguments
                        .iter()
                        .map(|argument| argument.to_string())
                        .collect(),
                    heap_bytes: *heap_bytes,
                    stack_bytes: 64 << 10,
                    console_input: false,
                })
                .collect();
            let bundle = directory.join(format!(
                "{cluster}-{}-{:?}.bundle",
                names.join("-"),
                std::thread::current().id()
            ));
            let bytes = qemu::bundle((index, 1), &plans, qemu::Storage::default(), &library);
            std::fs::write(&bundle, &bytes).unwrap();
            let bytes = bytes.len() as u64;
            hardware.set_status(index, 0, 0);
            hardware.set_run(index, 1, false);
            hardware.set_system_epoch(index, 1);
            hardware.set_state(index, ClusterState::On { epoch: 1 });
            (index, bundle, bytes)
        })
        .collect();
    let boots = std::thread::scope(|scope| {
        let running: Vec<_> = machines
            .iter()
            .map(|(index, bundle, bytes)| {
                let (emulator, kernel, board, noc) = (&emulator, &kernel, &board, &noc);
                scope.spawn(move || {
                    qemu::boot_cluster(emulator, kernel, board, *index, bundle, *bytes, noc, LIMIT)
                        .expect("QEMU starts")
                })
            })
            .collect();
        running
            .into_iter()
            .map(|machine| machine.join().unwrap())
            .collect()
    });
    for (_, bundle, _) in &machines {
        let _ = std::fs::remove_file(bundle);
    }
    boots
}

/// Boots cluster `cluster` of the tiny board alone with `programs`.
/// A machine's console as a reader would see it: each report line (postcard in hex
/// digits) as its program's console line or as the report, the rest as it is.
fn shown(boot: &qemu::Boot) -> String {
    boot.console
        .lines()
        .map(
            |line| match nanvix_board_protocol::parse_report_line(line) {
                Some(Ok(ClusterReport::Console { program, line })) => {
                    format!("{program}: {}\n", String::from_utf8_lossy(&line))
                }
                Some(report) => format!("{report:?}\n"),
                None => format!("{line}\n"),
            },
        )
        .collect()
}

fn boot_cluster(cluster: &str, programs: &[Program<'_>]) -> qemu::Boot {
    boot_clusters(&[(cluster, programs)]).remove(0)
}

#[test]
fn the_microkernel_runs_the_kcall_test_program_in_ring_3() {
    let boot = boot_cluster("cc0", &[("kcall-test", &[], 64 << 10)]);
    let console = shown(&boot);
    assert_eq!(boot.status, Some(qemu::STATUS_PASS), "{console}");
    assert!(
        console.contains("kcall-test on cc0: 66 checks, 0 failed"),
        "{console}"
    );
}
#[test]
fn the_microkernel_runs_the_thread_test_program() {
    let boot = boot_cluster("cc0", &[("thread-test", &[], 1536 << 10)]);
    let console = shown(&boot);
    assert_eq!(boot.status, Some(qemu::STATUS_PASS), "{console}");
    assert!(
        console.contains("thread-test: 46 checks, 0 failed"),
        "{console}"
    );
    // Its panicking and faulting threads were reported and ended alone: a store to
    // 0x10 (the kernel's memory is not the program's), and the window's pages.
    let faults: Vec<(String, u64)> = boot
        .console
        .lines()
        .filter_map(
            |line| match nanvix_board_protocol::parse_report_line(line)? {
                Ok(ClusterReport::ThreadFault {
                    access, address, ..
                }) => Some((
                    nanvix_hal::FaultAccess::from_code(access)
                        .map_or("unknown", nanvix_hal::FaultAccess::text)
                        .to_string(),
                    address,
                )),
                _ => None,
            },
        )
        .collect();
    assert_eq!(faults.len(), 4, "{console}");
    assert_eq!(faults[1], ("write".to_string(), 16), "{console}");
}

#[test]
fn two_machines_play_ping_pong_over_the_shared_noc() {
    let boots = boot_clusters(&[
        (
            "cc0",
            &[("hello", &["rounds=100", "partner=cc1"], 64 << 10)],
        ),
        (
            "cc1",
            &[("hello", &["rounds=100", "partner=cc0"], 64 << 10)],
        ),
    ]);
    for (boot, (name, partner)) in boots.iter().zip([("cc0", "cc1"), ("cc1", "cc0")]) {
        let console = shown(boot);
        assert_eq!(boot.status, Some(qemu::STATUS_PASS), "{console}");
        assert!(
            console.contains(&format!("ping-pong with {partner}: 100 rounds ok")),
            "{name}: {console}"
        );
    }
}
