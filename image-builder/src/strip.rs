//! Program ELFs without their debug sections, as the root file system's `/bin`
//! holds them: what runs is the same, a tenth of the bytes to read and stage.

/// `elf` without its `.debug*` sections (the runner symbolizes and decodes logs of
/// a program staged from `/bin` with its symbol table and `.defmt` section, which
/// stay).
pub fn without_debug_sections(elf: &[u8]) -> Result<Vec<u8>, String> {
    let mut builder = object::build::elf::Builder::read(elf)
        .map_err(|error| format!("not an ELF the builder reads: {error}"))?;
    for section in builder.sections.iter_mut() {
        if section.name.starts_with(b".debug") {
            section.delete = true;
        }
    }
    let mut stripped = Vec::new();
    builder
        .write(&mut stripped)
        .map_err(|error| format!("cannot write the ELF back: {error}"))?;
    Ok(stripped)
}

#[cfg(test)]
mod tests {
    use super::without_debug_sections;
    use object::{Object, ObjectSection};

    #[test]
    fn stripping_drops_the_debug_sections_and_only_them() {
        // Any ELF with debug sections shows it: this test's own. (That a program
        // stripped so still runs, `tests/programs.rs` shows on the board.)
        let path = std::env::current_exe().unwrap();
        let elf = std::fs::read(path).unwrap();
        let stripped = without_debug_sections(&elf).unwrap();
        let (before, after) = (
            object::File::parse(&*elf).unwrap(),
            object::File::parse(&*stripped).unwrap(),
        );
        let names = |file: &object::File| -> Vec<String> {
            file.sections()
                .filter_map(|section| section.name().ok().map(str::to_string))
                .collect()
        };
        assert!(names(&before).iter().any(|name| name.starts_with(".debug")));
        assert!(!names(&after).iter().any(|name| name.starts_with(".debug")));
        let kept: Vec<String> = names(&before)
            .into_iter()
            .filter(|name| !name.starts_with(".debug"))
            .collect();
        assert_eq!(names(&after), kept);
        assert!(stripped.len() < elf.len());
    }

    #[test]
    fn bytes_that_are_not_an_elf_are_refused() {
        assert!(without_debug_sections(b"#!/bin/sh\n").is_err());
    }
}
