/* QEMU's PVH entry: 32-bit protected mode, paging off, EBX the hvm_start_info.
   Zeroes .bss, identity-maps the first 4 GiB with 2 MiB pages (the local APIC and
   PCI BARs lie below 4 GiB), turns on SSE (core formats with xmm registers), long
   mode and paging, and calls kmain(start_info) on the boot stack. */

/* The way into long mode, for the boot core and the application processors alike:
   CR4 (PAE, OSFXSR, OSXMMEXCPT), CR3 from `root` (an operand of a 32-bit move to
   EAX: the page-table root), EFER (long mode, syscall), CR0 (paging, monitor
   coprocessor, protected mode; no x87 emulation). */
.macro enter_long_mode root
    mov %cr4, %eax
    or $0x620, %eax
    mov %eax, %cr4
    movl \root, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx
    rdmsr
    or $0x101, %eax
    wrmsr
    mov %cr0, %eax
    and $0xFFFFFFFB, %eax
    or $0x80000003, %eax
    mov %eax, %cr0
.endm

/* Around a call from an interrupt or exception stub: every register a call may
   change (nine of them: the stack stays 16-byte aligned for the call), and the SSE
   state (512 bytes). */
.macro save_call_clobbered
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    sub $512, %rsp
    fxsave64 (%rsp)
.endm

.macro restore_call_clobbered
    fxrstor64 (%rsp)
    add $512, %rsp
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
.endm

/* In 64-bit code: the kernel's data segment (0x10) in DS, ES and SS; FS and GS
   null. */
.macro load_kernel_data_segments
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
.endm

.section .note.Xen, "a", @note
.p2align 2
.long 4, 8, 18          /* name size, descriptor size, XEN_ELFNOTE_PHYS32_ENTRY */
.asciz "Xen"
.p2align 2
.long pvh_start32, 0    /* QEMU reads 8 bytes */

.section .text.boot, "ax"
.code32
.global pvh_start32
pvh_start32:
    cli
    cld
    mov %ebx, %esi

    /* .bss to zeros: page tables and the stack live there. */
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb

    /* The user region's zeroed statics (the kernel's record) too. */
    mov $__user_zeroed_start, %edi
    mov $__user_end, %ecx
    sub %edi, %ecx
    rep stosb

    /* PML4[0] -> PDPT; PDPT[0..4] -> the four page directories. */
    mov $boot_pdpt, %eax
    or $0x7, %eax
    mov %eax, boot_pml4
    mov $boot_pd, %eax
    or $0x7, %eax
    mov %eax, boot_pdpt
    add $4096, %eax
    mov %eax, boot_pdpt + 8
    add $4096, %eax
    mov %eax, boot_pdpt + 16
    add $4096, %eax
    mov %eax, boot_pdpt + 24

    /* 2048 entries of 2 MiB: present, writable, user, large. */
    mov $boot_pd, %edi
    xor %ecx, %ecx
1:
    mov %ecx, %eax
    shl $21, %eax
    or $0x87, %eax
    mov %eax, (%edi,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jne 1b

    enter_long_mode $boot_pml4
    lgdt boot_gdt_pointer
    ljmp $0x08, $long_mode_entry

.code64
long_mode_entry:
    load_kernel_data_segments
    mov $boot_stack_top, %rsp
    mov %esi, %edi
    call kmain
2:
    hlt
    jmp 2b

.section .data
.p2align 3
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF    /* 0x08: kernel code, 64-bit */
    .quad 0x00CF92000000FFFF    /* 0x10: kernel data */
boot_gdt_end:
boot_gdt_pointer:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

.section .bss
.p2align 12
.global boot_pd
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096 * 4
boot_stack:
    .skip 65536
boot_stack_top:

/* Exceptions: a stub per vector pushes a zero where the CPU pushes no error code,
   then the vector, and goes to exception_common, which saves what a call may
   change (the SSE state too) and calls the Rust exception(vector, error, frame,
   frame_pointer) with frame the CPU's (rip, cs, rflags, rsp, ss). When it returns
   (a program's fault that the fault hook settled: Retry), the faulting instruction
   runs again. */
.section .text
.macro exception_stub vector, error
exception_\vector:
.if \error == 0
    push $0
.endif
    push $\vector
    jmp exception_common
.endm

exception_stub 0, 0
exception_stub 1, 0
exception_stub 2, 0
exception_stub 3, 0
exception_stub 4, 0
exception_stub 5, 0
exception_stub 6, 0
exception_stub 7, 0
exception_stub 8, 1
exception_stub 9, 0
exception_stub 10, 1
exception_stub 11, 1
exception_stub 12, 1
exception_stub 13, 1
exception_stub 14, 1
exception_stub 15, 0
exception_stub 16, 0
exception_stub 17, 1
exception_stub 18, 0
exception_stub 19, 0
exception_stub 20, 0
exception_stub 21, 1
exception_stub 22, 0
exception_stub 23, 0
exception_stub 24, 0
exception_stub 25, 0
exception_stub 26, 0
exception_stub 27, 0
exception_stub 28, 0
exception_stub 29, 1
exception_stub 30, 1
exception_stub 31, 0

exception_common:
    save_call_clobbered
    mov 584(%rsp), %rdi
    mov 592(%rsp), %rsi
    lea 600(%rsp), %rdx
    mov %rbp, %rcx
    call exception
    restore_call_clobbered
    add $16, %rsp
    iretq

/* The stubs' addresses, for the IDT the kernel fills. */
.section .rodata
.p2align 3
.global exception_stubs
exception_stubs:
.irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exception_\vector
.endr

/* An application processor starts here, in real mode at 0x8000 (the boot core
   copies these bytes there and patches the page table root): straight to long
   mode with the boot core's page tables, then ap_entry64 on a stack of its own. */
.section .rodata
.global ap_trampoline, ap_trampoline_end, ap_trampoline_cr3
.code16
ap_trampoline:
    cli
    xor %ax, %ax
    mov %ax, %ds
    lgdtl 0x8000 + (ap_trampoline_gdt_pointer - ap_trampoline)
    enter_long_mode 0x8000 + (ap_trampoline_cr3 - ap_trampoline)
    ljmpl $0x08, $(0x8000 + (ap_trampoline_64 - ap_trampoline))
.code64
ap_trampoline_64:
    movabs $ap_entry64, %rax
    jmp *%rax
.p2align 3
ap_trampoline_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF
    .quad 0x00CF92000000FFFF
ap_trampoline_gdt_pointer:
    .word 23
    .long 0x8000 + (ap_trampoline_gdt - ap_trampoline)
ap_trampoline_cr3:
    .long 0
ap_trampoline_end:

.section .text
.code64
ap_entry64:
    load_kernel_data_segments
    mov $1, %eax
    lock xadd %eax, ap_next
    mov %eax, %edi
    inc %eax
    shl $14, %rax
    mov $ap_stacks, %rsp
    add %rax, %rsp
    call ap_main
4:
    cli
    hlt
    jmp 4b

.section .data
.p2align 2
ap_next:
    .long 0

.section .bss
.p2align 12
.global ap_stacks
ap_stacks:
    .skip 16384 * 63

/* Parking: park_core enables interrupts for exactly one `hlt` (the `sti` shadow
   covers it, so a wake-up that comes before the `hlt`, or was pending, still ends
   it) and turns them off again. A leaf with no red zone: the interrupt frame lands
   below its return address. wakeup_interrupt (the wake-up IPI's and the timer's
   vectors) only acknowledges the local APIC. */
.section .text
.code64
.global park_core, wakeup_interrupt, spurious_interrupt
park_core:
    sti
    hlt
    cli
    ret

spurious_interrupt:
    iretq

wakeup_interrupt:
    push %rax
    movabs $0xfee000b0, %rax
    movl $0, (%rax)
    pop %rax
    iretq

/* A TLB shootdown (paging.rs): drops every translation of this core (a reload of
   CR3), counts the acknowledgement, and acknowledges the local APIC. */
.global shootdown_interrupt
shootdown_interrupt:
    push %rax
    mov %cr3, %rax
    mov %rax, %cr3
    lock incq shootdowns_done
    movabs $0xfee000b0, %rax
    movl $0, (%rax)
    pop %rax
    iretq

/* Interrupts that call Rust, possibly in the middle of kernel or program code (on
   the IST 1 stack, so the interrupted function's red zone is left alone): a stub
   saves every register a call may change, the SSE state included, and calls the
   handler with the interrupted CS (to tell ring 3 from the kernel), then restores
   them and returns. The tick (the periodic local APIC timer) and the interrupt
   request (Cores::interrupt's IPI) are such. A handler may also not return: it
   leaves a program (UserMode::leave) when its hook says so. An interrupt of ring 3
   moves its frame to the core's kernel stack (below the innermost enter's frame,
   free while a program runs; one pad word keeps the IST's alignment) before it
   calls the handler: a handler that waits with interrupts on (the interrupt hook
   may park) leaves IST 1 to the next interrupt. */
.macro interrupt_stub name, handler
\name:
    testb $3, 8(%rsp)
    jz 1f
    push %rbx
    push %rax
    swapgs
    mov %gs:0, %rax
    swapgs
    sub $48, %rax
    mov 16(%rsp), %rbx
    mov %rbx, (%rax)
    mov 24(%rsp), %rbx
    mov %rbx, 8(%rax)
    mov 32(%rsp), %rbx
    mov %rbx, 16(%rax)
    mov 40(%rsp), %rbx
    mov %rbx, 24(%rax)
    mov 48(%rsp), %rbx
    mov %rbx, 32(%rax)
    mov %rax, %rbx
    pop %rax
    xchg %rbx, (%rsp)
    mov (%rsp), %rsp
1:
    save_call_clobbered
    mov 592(%rsp), %rdi
    call \handler
    restore_call_clobbered
    iretq
.endm

.section .text
.code64
.global tick_interrupt, interrupt_request, kick_request
interrupt_stub tick_interrupt, tick
interrupt_stub interrupt_request, interrupted
interrupt_stub kick_request, kicked

/* Contexts (cores.rs): switch_context(save, resume) pushes the callee-saved
   registers, MXCSR and the x87 control word, saves the stack pointer at save, and
   pops the same from the stack pointer resume; context_start is where a new
   context's first switch returns to: context_main(r12). */
.section .text
.code64
.global switch_context, context_start
switch_context:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    sub $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    mov %rsp, (%rdi)
    mov %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

context_start:
    mov %r12, %rdi
    call context_main
    ud2
