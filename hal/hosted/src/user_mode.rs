//! Entering programs on their own stacks and leaving them from inside a kcall.
//!
//! `nanvix_enter_user` saves the callee-saved registers and the kernel stack pointer,
//! switches to the program's stack and calls its entry; `nanvix_leave_user` restores
//! that stack pointer from anywhere deeper on the same core, so the innermost enter
//! returns the given value (a setjmp/longjmp done by hand; the abandoned frames are
//! not unwound, which is why callers must hold no lock and own nothing).

use nanvix_hal::UserMode;
use std::cell::Cell;

std::arch::global_asm!(
    ".globl nanvix_enter_user",
    "nanvix_enter_user:",
    "    push rbp",
    "    push rbx",
    "    push r12",
    "    push r13",
    "    push r14",
    "    push r15",
    "    mov rbx, rdi",
    "    mov [rbx], rsp",
    "    mov rsp, rcx",
    "    mov rdi, rdx",
    "    call rsi",
    "    mov eax, eax",
    "    mov rsp, [rbx]",
    ".globl nanvix_enter_user_resume",
    "nanvix_enter_user_resume:",
    "    pop r15",
    "    pop r14",
    "    pop r13",
    "    pop r12",
    "    pop rbx",
    "    pop rbp",
    "    ret",
    ".globl nanvix_leave_user",
    "nanvix_leave_user:",
    "    mov rsp, rdi",
    "    mov rax, rsi",
    "    jmp nanvix_enter_user_resume",
);

unsafe extern "C" {
    fn nanvix_enter_user(
        saved_stack: *mut usize,
        entry: usize,
        argument: usize,
        stack_top: usize,
    ) -> u64;
    fn nanvix_leave_user(saved_stack: usize, value: u64) -> !;
    fn nanvix_enter_user_resume();
}

/// Where a fault handler resumes this thread to end its innermost user mode: the
/// kernel stack pointer to restore and the instruction to go to (with the value in
/// `rax`, `enter` returns it). `None` outside user mode.
pub(crate) fn resume_point() -> Option<(usize, usize)> {
    let slot = SAVED_STACK.with(Cell::get);
    if slot == 0 {
        return None;
    }
    // SAFETY: `slot` points at the `saved` word of the innermost `enter` on this
    // thread, live while that enter runs (the fault interrupted code above it).
    let saved_stack = unsafe { *(slot as *const usize) };
    Some((saved_stack, nanvix_enter_user_resume as *const () as usize))
}

thread_local! {
    /// Kernel stack pointer saved by the innermost enter on this core (0: none).
    static SAVED_STACK: Cell<usize> = const { Cell::new(0) };
}

/// User-mode entry for hosted cores.
#[derive(Default)]
pub struct HostedUserMode;

impl UserMode for HostedUserMode {
    unsafe fn enter(&self, entry: usize, argument: usize, stack_top: usize) -> u64 {
        assert!(
            stack_top.is_multiple_of(16),
            "user stack top must be 16-byte aligned"
        );
        let mut saved = 0usize;
        let outer = SAVED_STACK.with(Cell::get);
        SAVED_STACK.with(|slot| slot.set(&raw mut saved as usize));
        // SAFETY: the caller guarantees `entry` is a loaded `extern "C" fn(usize) ->
        // i32` and `stack_top` the top of a private stack; `saved` outlives the call.
        let value = unsafe { nanvix_enter_user(&raw mut saved, entry, argument, stack_top) };
        SAVED_STACK.with(|slot| slot.set(outer));
        value
    }

    fn leave(&self, value: u64) -> ! {
        let slot = SAVED_STACK.with(Cell::get);
        assert!(slot != 0, "leave outside of a user program");
        // SAFETY: `slot` points at the `saved` word of the innermost `enter` on this
        // thread, which is still live (we are deeper on the same stack of frames).
        let saved_stack = unsafe { *(slot as *const usize) };
        // SAFETY: `saved_stack` is the kernel stack pointer `nanvix_enter_user` stored;
        // resuming there returns from that `enter`, abandoning the frames above.
        unsafe { nanvix_leave_user(saved_stack, value) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static USER_MODE: HostedUserMode = HostedUserMode;

    extern "C" fn returns_double(argument: usize) -> i32 {
        (argument * 2) as i32
    }

    extern "C" fn leaves_early(argument: usize) -> i32 {
        fn deeper(value: usize) -> ! {
            USER_MODE.leave(value as u64 + 1000)
        }
        deeper(argument);
    }

    fn with_stack(entry: extern "C" fn(usize) -> i32, argument: usize) -> u64 {
        let mut stack = vec![0u128; 4096];
        let top = stack.as_mut_ptr() as usize + stack.len() * 16;
        // SAFETY: `entry` is a real extern "C" fn and `stack` a private 64 KiB stack.
        unsafe { USER_MODE.enter(entry as usize, argument, top) }
    }

    #[test]
    fn enter_returns_the_program_result_or_the_left_value() {
        assert_eq!(with_stack(returns_double, 21), 42);
        assert_eq!(with_stack(leaves_early, 7), 1007);
        assert_eq!(with_stack(returns_double, 5), 10);
    }
}
