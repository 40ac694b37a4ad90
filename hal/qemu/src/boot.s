/* QEMU's PVH entry: 32-bit protected mode, paging off, EBX the hvm_start_info.
   Zeroes .bss, identity-maps the first 4 GiB with 2 MiB pages (the local APIC and
   PCI BARs lie below 4 GiB), turns on SSE (core formats with xmm registers), long
   mode and paging, and calls kmain(start_info) on the boot stack. */

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

    /* CR4: PAE, OSFXSR, OSXMMEXCPT. */
    mov %cr4, %eax
    or $0x620, %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    /* EFER: long mode, syscall. */
    mov $0xC0000080, %ecx
    rdmsr
    or $0x101, %eax
    wrmsr
    /* CR0: paging, monitor coprocessor, protected mode; no x87 emulation. */
    mov %cr0, %eax
    and $0xFFFFFFFB, %eax
    or $0x80000003, %eax
    mov %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $long_mode_entry

.code64
long_mode_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
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
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096 * 4
boot_stack:
    .skip 65536
boot_stack_top:
