//! The platform's checks, one a `mode=` word (the table in
//! `docs/src/bare-metal.md`): `hello`
//! greets; `smp` starts every application processor and counts them; `cores` checks
//! the HAL's `Cores` contract on them; `sleep` parks the boot core until its timer
//! fires; `ticks` runs work with a periodic timer interrupting it (on the interrupt
//! stack) and checks its result; `shm-send` and `shm-receive` exchange a message between two machines
//! through an ivshmem device; `user` runs programs in ring 3 through the HAL's
//! `UserMode` (one returns, one exits); `user-faults` runs programs that fault (each
//! killed with a report, the kernel going on); `user-nested` runs a program that has
//! the kernel run another inside its call; `user-cores` runs a program on every
//! core; `preempt` interrupts a program that never ends from another core, the
//! HAL's interrupt hook resuming it three times and ending it the fourth;
//! `fault-hook` has the HAL's fault hook page in a wild read and retry it, and end a
//! privileged program; `fault-fatal` has it find a program's fault fatal;
//! `invalid-opcode` and `wild-pointer` fault in the kernel on purpose (the
//! report ends the machine with failure); `panic` panics a few calls deep (the
//! report names their return addresses). Any other mode ends with failure.

use crate::{WILD_ADDRESS, argument, cores, machine, pci, say, smp, user};

/// Rounds of [`tick_work`] in `mode=ticks`.
const TICK_WORK_ROUNDS: u64 = 4_000_000;

/// Integer and floating-point work whose every step depends on the one before:
/// its result's bits, which an interrupt that changed a register, the SSE state or
/// the stack below the stack pointer would change.
fn tick_work(rounds: u64) -> (u64, u64) {
    let mut integer: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut real = 1.0f64;
    let mut scratch = [0u64; 8];
    for round in 0..rounds {
        integer = integer.rotate_left(7) ^ round.wrapping_mul(0x2545_f491_4f6c_dd1d);
        real = real * 1.000_000_1 + (round % 7) as f64 * 0.5;
        scratch[(round % 8) as usize] ^= integer;
        integer ^= core::hint::black_box(scratch[(round % 5) as usize]);
    }
    (integer, real.to_bits())
}

/// Panics `depth` calls deep (each call a frame of its own, so that the panic
/// names their return addresses).
#[inline(never)]
fn panic_at_depth(depth: usize) -> usize {
    if depth == 0 {
        panic!("a panic on purpose");
    }
    // Work after the call: a frame each, not a tail call.
    core::hint::black_box(panic_at_depth(core::hint::black_box(depth - 1))) + 1
}

/// Runs the check the command line `line`'s `mode=` names and ends the machine:
/// [`machine::PASS`] when it held.
pub fn run(line: &str) -> ! {
    user::allow_check_calls();
    match argument(line, "mode") {
        Some("hello") => {
            say!("nanvix-qemu: hello from bare metal");
            machine::exit(machine::PASS)
        }
        Some("smp") => {
            let (online, expected) = smp::start_application_processors();
            say!(
                "nanvix-qemu: {} of {} application processors online",
                online,
                expected
            );
            machine::exit_passed(online == expected)
        }
        Some("cores") => {
            let (online, expected) = smp::start_application_processors();
            let held = cores::exercise();
            machine::exit_passed(online == expected && held)
        }
        Some("sleep") => {
            let cycles = smp::sleep(1_000_000);
            say!(
                "nanvix-qemu: the boot core woke on its timer after {} cycles",
                cycles
            );
            machine::exit(machine::PASS)
        }
        Some("shm-send") => {
            let Some(memory) = pci::shared_memory() else {
                say!("nanvix-qemu: no ivshmem device");
                machine::exit(machine::FAIL)
            };
            let acknowledged = pci::send(memory, "a message from the other machine via ivshmem");
            say!("nanvix-qemu: sent; acknowledged: {}", acknowledged);
            machine::exit_passed(acknowledged)
        }
        Some("shm-receive") => {
            let Some(memory) = pci::shared_memory() else {
                say!("nanvix-qemu: no ivshmem device");
                machine::exit(machine::FAIL)
            };
            let mut message = [0u8; pci::MESSAGE_MAX];
            match pci::receive(memory, &mut message) {
                Some(length) => {
                    let text = core::str::from_utf8(&message[..length]).unwrap_or("(not UTF-8)");
                    say!("nanvix-qemu: received `{}`", text);
                    machine::exit(machine::PASS)
                }
                None => {
                    say!("nanvix-qemu: no message came");
                    machine::exit(machine::FAIL)
                }
            }
        }
        Some("ticks") => {
            // The same work twice: with interrupts off, then with the periodic tick
            // coming in the middle of it; the results must be the same bits.
            let quiet = tick_work(TICK_WORK_ROUNDS);
            smp::periodic_tick(Some(200_000));
            let ticked = smp::with_interrupts(|| tick_work(TICK_WORK_ROUNDS));
            smp::periodic_tick(None);
            let ticks = smp::ticks();
            let same = quiet == ticked;
            say!(
                "nanvix-qemu: {} ticks in the middle of the work; the same result: {}",
                ticks,
                same
            );
            machine::exit_passed(same && ticks >= 10)
        }
        Some("preempt") => {
            let (online, expected) = smp::start_application_processors();
            let (value, taken) = cores::preempt();
            say!(
                "nanvix-qemu: the spinning program ended with {:#x} after {} interrupts (resumed {} times)",
                value,
                taken,
                taken.saturating_sub(1)
            );
            machine::exit_passed(online == expected && value == 0xdead && taken == 4)
        }
        Some("fault-hook") => {
            let (paged, ended, seen) = user::fault_hook_check();
            say!(
                "nanvix-qemu: the paged-in read returned {:#x}; the privileged program ended with {:#x}; the hook saw {} faults",
                paged,
                ended,
                seen
            );
            machine::exit_passed(paged == 0x1234_5678 && ended == 0xbad && seen == 2)
        }
        Some("fault-fatal") => {
            let value = user::fatal_fault_check();
            say!("nanvix-qemu: a fatal fault came back with {:#x}", value);
            machine::exit(machine::FAIL)
        }
        Some("user") => {
            let stack = user::program_stack();
            let returned = user::run(user::hello_program, 0, stack);
            let exited = user::run(user::exit_program, 0x5eed, stack);
            say!(
                "nanvix-qemu: back in the kernel, the program returned {:#x}; another exited with {:#x}",
                returned,
                exited
            );
            machine::exit_passed(returned == 0xc0ffee && exited == 0x5eed)
        }
        Some("user-faults") => {
            // Each faulting program is killed; the kernel runs the next.
            let stack = user::program_stack();
            let wild = user::run(user::wild_program, 0, stack);
            let privileged = user::run(user::privileged_program, 0, stack);
            let hello = user::run(user::hello_program, 0, stack);
            say!(
                "nanvix-qemu: the kernel kept serving: {:#x}, {:#x}, {:#x}",
                wild,
                privileged,
                hello
            );
            machine::exit_passed(
                wild == user::KILLED | 14 && privileged == user::KILLED | 13 && hello == 0xc0ffee,
            )
        }
        Some("user-nested") => {
            let value = user::run(user::outer_program, 21, user::program_stack());
            say!("nanvix-qemu: the outer program returned {}", value);
            machine::exit_passed(value == 43)
        }
        Some("user-cores") => {
            let (online, expected) = smp::start_application_processors();
            let all = cores::run_programs_on_every_core();
            say!("nanvix-qemu: every core ran its program in ring 3: {}", all);
            machine::exit_passed(online == expected && all)
        }
        Some("panic") => {
            let depth = panic_at_depth(core::hint::black_box(3));
            say!("nanvix-qemu: no panic came ({})", depth);
            machine::exit(machine::PASS)
        }
        Some("invalid-opcode") => {
            // SAFETY: `ud2` raises #UD on purpose; the report ends the machine.
            unsafe { core::arch::asm!("ud2", options(nomem, nostack)) };
            machine::exit(machine::PASS)
        }
        Some("wild-pointer") => {
            // SAFETY: the boot map leaves this address unmapped: the read faults (#PF)
            // before it returns, touching nothing, and the report ends the machine.
            let value = unsafe { core::ptr::read_volatile(WILD_ADDRESS as *const u64) };
            say!("nanvix-qemu: read {:#x} where nothing is mapped", value);
            machine::exit(machine::PASS)
        }
        other => {
            say!("nanvix-qemu: no such mode: `{}`", other.unwrap_or("(none)"));
            machine::exit(machine::FAIL)
        }
    }
}
