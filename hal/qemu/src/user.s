/* Ring 3, per core and nesting. Each core's PerCore (user.rs; its address in
   IA32_KERNEL_GS_BASE) holds at 0 the kernel stack of the innermost enter_user,
   where syscalls run and where return_from_user goes back, and at 8 a scratch
   word for the user stack pointer.

   enter_user(rip, argument, user_rsp, per_core, rsp0): saves the kernel's
   callee-saved registers, the outer enter's kernel stack and TSS.RSP0 (restored
   at return: enters nest), makes this stack both, puts the return stub's address
   on the program's stack (a program's entry returns into it) and irets to ring 3
   (CS 0x2b, SS 0x23, interrupts on: they run on the interrupt stack) with the
   argument in rdi and no kernel value in any other register.
   return_from_user(value, per_core, rsp0): back to the innermost enter_user's
   caller with value, the outer enter's kernel stack and RSP0 put back in the
   per-core state and TSS of the core it runs on now (a context may have moved
   to another core since it entered).
   syscall_entry: a program's `syscall`, on its enter's kernel stack:
   syscall_dispatch(rdi, rsi, rdx, r10, r8, r9, number in rax), then sysretq (GS
   is swapped only to find the stack: kernel code does not use it).
   gate_kcall: the kcall entry of the gate the kernel hands programs (a C function
   of six arguments, run in ring 3): the kcall call, its fourth argument moved from
   rcx (which `syscall` takes) to r10. */

.section .text
.code64
.global enter_user, return_from_user, syscall_entry, user_return_stub, gate_kcall
enter_user:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    push (%rcx)
    push (%r8)
    push %rcx
    push %r8
    mov %rsp, (%rcx)
    mov %rsp, (%r8)
    sub $8, %rdx
    movabs $user_return_stub, %rax
    mov %rax, (%rdx)
    push $0x23
    push %rdx
    push $0x202
    push $0x2b
    push %rdi
    mov %rsi, %rdi
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %ebp, %ebp
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    xor %r12d, %r12d
    xor %r13d, %r13d
    xor %r14d, %r14d
    xor %r15d, %r15d
    iretq

return_from_user:
    mov (%rsi), %rsp
    pop %r8
    pop %rcx
    pop (%rdx)
    pop (%rsi)
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    mov %rdi, %rax
    ret

syscall_entry:
    swapgs
    mov %rsp, %gs:8
    mov %gs:0, %rsp
    push %gs:8
    swapgs
    push %rcx
    push %r11
    sub $8, %rsp
    push %rax
    mov %r10, %rcx
    call syscall_dispatch
    add $16, %rsp
    pop %r11
    pop %rcx
    pop %rsp
    sysretq

/* Ring 3 (in the section programs may execute): a program's entry returned its
   i32 in eax: the return call. */
.section .user_text, "ax"
user_return_stub:
    movslq %eax, %rdi
    mov $3, %eax
    syscall
    ud2

/* Ring 3: a program's kcall through its gate. */
gate_kcall:
    mov %rcx, %r10
    mov $5, %eax
    syscall
    ret
