//! What a freestanding Nanvix executable needs that libc would give: `memcpy`,
//! `memmove`, `memset`, `memcmp` and `bcmp` (programs, through `libnanvix`, and the
//! bare-metal kernel link no libc; LLVM emits calls to these for copies and
//! comparisons).
//!
//! They are written in assembly because LLVM turns the equivalent Rust loops back
//! into calls to themselves. Link this crate only into freestanding executables: a
//! hosted one would take these in place of its libc's.
#![no_std]

core::arch::global_asm!(
    ".globl memcpy",
    "memcpy:",
    "    mov rax, rdi",
    "    mov rcx, rdx",
    "    rep movsb",
    "    ret",
    ".globl memmove",
    "memmove:",
    "    mov rax, rdi",
    "    mov rcx, rdx",
    "    cmp rdi, rsi",
    "    jbe 2f",
    "    lea rsi, [rsi + rdx - 1]",
    "    lea rdi, [rdi + rdx - 1]",
    "    std",
    "    rep movsb",
    "    cld",
    "    ret",
    "2:",
    "    rep movsb",
    "    ret",
    ".globl memset",
    "memset:",
    "    mov r8, rdi",
    "    mov eax, esi",
    "    mov rcx, rdx",
    "    rep stosb",
    "    mov rax, r8",
    "    ret",
    ".globl memcmp",
    ".globl bcmp",
    "memcmp:",
    "bcmp:",
    "    xor eax, eax",
    "    test rdx, rdx",
    "    jz 3f",
    "4:",
    "    movzx eax, byte ptr [rdi]",
    "    movzx ecx, byte ptr [rsi]",
    "    sub eax, ecx",
    "    jnz 3f",
    "    inc rdi",
    "    inc rsi",
    "    dec rdx",
    "    jnz 4b",
    "3:",
    "    ret",
);
