//! A minimal static x86_64 Linux executable, assembled byte by byte: it exits with status 0.
//!
//! One ELF64 header, one `PT_LOAD` program header mapping the whole file read+execute at
//! [`LOAD_ADDRESS`], then three instructions: `mov eax, 60; xor edi, edi; syscall`
//! (`exit(0)`). No section headers, no interpreter, no libc: the cheapest thing to spawn.

/// Where the file is mapped.
pub const LOAD_ADDRESS: u64 = 0x40_0000;

/// The size of an ELF64 header.
const HEADER_BYTES: u16 = 64;

/// The size of an ELF64 program header.
const PROGRAM_HEADER_BYTES: u16 = 56;

/// The size of an ELF64 section header (none are present; the field still holds it).
const SECTION_HEADER_BYTES: u16 = 64;

/// `mov eax, 60` (exit), `xor edi, edi` (status 0), `syscall`.
const EXIT_ZERO_CODE: [u8; 9] = [0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f, 0x05];

/// The executable's bytes: headers, then the code (the entry point).
pub fn tiny_exit_executable() -> Vec<u8> {
    let code_offset = u64::from(HEADER_BYTES + PROGRAM_HEADER_BYTES);
    let file_bytes = code_offset + EXIT_ZERO_CODE.len() as u64;
    let mut image = Vec::with_capacity(file_bytes as usize);

    // e_ident: magic, 64-bit, little-endian, version 1, System V ABI, padding.
    image.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    image.extend_from_slice(&[0; 8]);
    image.extend_from_slice(&2u16.to_le_bytes()); // e_type: ET_EXEC
    image.extend_from_slice(&62u16.to_le_bytes()); // e_machine: EM_X86_64
    image.extend_from_slice(&1u32.to_le_bytes()); // e_version
    image.extend_from_slice(&(LOAD_ADDRESS + code_offset).to_le_bytes()); // e_entry
    image.extend_from_slice(&u64::from(HEADER_BYTES).to_le_bytes()); // e_phoff
    image.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no sections
    image.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    image.extend_from_slice(&HEADER_BYTES.to_le_bytes()); // e_ehsize
    image.extend_from_slice(&PROGRAM_HEADER_BYTES.to_le_bytes()); // e_phentsize
    image.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    image.extend_from_slice(&SECTION_HEADER_BYTES.to_le_bytes()); // e_shentsize
    image.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    image.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx

    // The program header: load the whole file, read + execute.
    image.extend_from_slice(&1u32.to_le_bytes()); // p_type: PT_LOAD
    image.extend_from_slice(&5u32.to_le_bytes()); // p_flags: PF_R | PF_X
    image.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    image.extend_from_slice(&LOAD_ADDRESS.to_le_bytes()); // p_vaddr
    image.extend_from_slice(&LOAD_ADDRESS.to_le_bytes()); // p_paddr
    image.extend_from_slice(&file_bytes.to_le_bytes()); // p_filesz
    image.extend_from_slice(&file_bytes.to_le_bytes()); // p_memsz
    image.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align

    image.extend_from_slice(&EXIT_ZERO_CODE);
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(image: &[u8], offset: usize) -> u16 {
        u16::from_le_bytes([image[offset], image[offset + 1]])
    }

    fn u64_at(image: &[u8], offset: usize) -> u64 {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&image[offset..offset + 8]);
        u64::from_le_bytes(bytes)
    }

    #[test]
    fn the_headers_describe_the_file() {
        let image = tiny_exit_executable();
        assert_eq!(image.len(), 64 + 56 + 9);
        assert_eq!(&image[..4], b"\x7fELF");
        assert_eq!(u16_at(&image, 16), 2, "ET_EXEC");
        assert_eq!(u16_at(&image, 18), 62, "EM_X86_64");
        assert_eq!(u64_at(&image, 24), LOAD_ADDRESS + 120, "entry");
        assert_eq!(u64_at(&image, 32), 64, "program headers follow the header");
        assert_eq!(u16_at(&image, 56), 1, "one program header");
        assert_eq!(u64_at(&image, 64 + 32), image.len() as u64, "p_filesz");
        assert_eq!(&image[120..], &EXIT_ZERO_CODE);
    }
}
