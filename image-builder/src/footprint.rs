//! A kernel's footprint: the bytes its ELF's sections take in memory, by kind
//! (code, read-only data, data, zeroed data, unwind tables), from the section
//! headers. `nanvix footprint` reports the microkernel linked freestanding (the
//! canary, over a stub HAL) and the qemu-x86_64 kernel.

use object::{Object, ObjectSection, SectionKind};

/// Section bytes by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Code (`.text`).
    pub text: u64,
    /// Read-only data (`.rodata`, relocated read-only data, the GOT).
    pub rodata: u64,
    /// Initialized writable data (`.data`).
    pub data: u64,
    /// Zeroed data (`.bss`): stacks, page tables and statics.
    pub bss: u64,
    /// Unwind tables (`.eh_frame`, its header, exception tables): in the image,
    /// unused by a kernel that aborts on panic.
    pub unwind: u64,
}

impl Footprint {
    /// What the kernel's image holds: code, read-only data and data.
    pub fn image(&self) -> u64 {
        self.text + self.rodata + self.data
    }
}

/// The footprint of the ELF `bytes` (its allocated sections).
pub fn measure(bytes: &[u8]) -> Result<Footprint, String> {
    let file = object::File::parse(bytes).map_err(|error| format!("not an ELF: {error}"))?;
    let mut footprint = Footprint::default();
    for section in file.sections() {
        let name = section.name().unwrap_or("");
        let size = section.size();
        if name.starts_with(".eh_frame") || name == ".gcc_except_table" {
            footprint.unwind += size;
            continue;
        }
        match section.kind() {
            SectionKind::Text => footprint.text += size,
            SectionKind::ReadOnlyData
            | SectionKind::ReadOnlyDataWithRel
            | SectionKind::ReadOnlyString => footprint.rodata += size,
            SectionKind::Data => {
                // The GOT and relocated read-only data are written once, at link.
                if name == ".got" || name == ".data.rel.ro" {
                    footprint.rodata += size;
                } else {
                    footprint.data += size;
                }
            }
            SectionKind::UninitializedData => footprint.bss += size,
            _ => {}
        }
    }
    Ok(footprint)
}
