/* Ring 3: enter_user(rip, rsp) saves the kernel's callee-saved registers and stack,
   then irets to ring 3 (CS 0x2b, SS 0x23, interrupts off); return_from_user(value)
   comes back to enter_user's caller with value (from the exit call, or a user
   fault's report). syscall_entry takes a program's `syscall` on the kernel's call
   stack: syscall_dispatch(a1, a2, a3, number), then sysretq. One core runs
   programs for now: the saved stacks are single. */

.section .text
.code64
.global enter_user, return_from_user, syscall_entry
enter_user:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, kernel_saved_rsp
    push $0x23
    push %rsi
    push $0x2
    push $0x2b
    push %rdi
    iretq

return_from_user:
    mov kernel_saved_rsp, %rsp
    mov %rdi, %rax
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

syscall_entry:
    mov %rsp, user_saved_rsp
    mov $syscall_stack_top, %rsp
    push %rcx
    push %r11
    mov %rax, %rcx
    call syscall_dispatch
    pop %r11
    pop %rcx
    mov user_saved_rsp, %rsp
    sysretq

.section .bss
.p2align 3
kernel_saved_rsp:
    .skip 8
user_saved_rsp:
    .skip 8
.p2align 12
syscall_stack:
    .skip 16384
syscall_stack_top:
