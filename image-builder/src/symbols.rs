//! Program symbols: addresses in a loaded program named by its ELF's symbol table,
//! and placed in its source by its DWARF line tables.

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use std::sync::Arc;

/// The line tables of one program, as `addr2line` reads them.
type Lines = addr2line::Context<gimli::EndianArcSlice<gimli::RunTimeEndian>>;

/// The functions of one program ELF, by address (relative to its load base).
#[derive(Default)]
pub struct Symbols {
    /// (start, size, demangled name), sorted by start.
    functions: Vec<(u64, u64, String)>,
    /// Its DWARF, if it has any.
    lines: Option<Lines>,
}

impl std::fmt::Debug for Symbols {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Symbols")
            .field("functions", &self.functions.len())
            .field("lines", &self.lines.is_some())
            .finish()
    }
}

/// The DWARF sections of `file`, for `addr2line` (None without debug info).
fn lines(file: &object::File<'_>) -> Option<Lines> {
    let endian = gimli::RunTimeEndian::Little;
    file.section_by_name(".debug_info")?;
    let load = |section: gimli::SectionId| -> Result<_, gimli::Error> {
        let data = file
            .section_by_name(section.name())
            .and_then(|section| section.data().ok())
            .unwrap_or(&[]);
        Ok(gimli::EndianArcSlice::new(Arc::from(data), endian))
    };
    let dwarf = gimli::Dwarf::load(load).ok()?;
    addr2line::Context::from_dwarf(dwarf).ok()
}

impl Symbols {
    /// The function symbols of `elf` (none if it does not parse).
    pub fn parse(elf: &[u8]) -> Symbols {
        let Ok(file) = object::File::parse(elf) else {
            return Symbols::default();
        };
        let mut functions: Vec<(u64, u64, String)> = file
            .symbols()
            .filter(|symbol| symbol.kind() == SymbolKind::Text && symbol.address() != 0)
            .filter_map(|symbol| {
                let name = symbol.name().ok()?;
                Some((
                    symbol.address(),
                    symbol.size(),
                    format!("{:#}", rustc_demangle::demangle(name)),
                ))
            })
            .collect();
        functions.sort();
        Symbols {
            functions,
            lines: lines(&file),
        }
    }

    /// `file:line` of the source `address` (relative to the load base) was built
    /// from, if the line tables say. Of the functions inlined there, the innermost
    /// one whose source lies under `root` (the project's code: a closure inlined
    /// into a `core` shim is placed in the closure, a `core::ptr` accessor inlined
    /// into ours at its call), else the outermost. Paths under `root` are given
    /// relative to it.
    pub fn location(&self, address: u64, root: &std::path::Path) -> Option<String> {
        let mut frames = self
            .lines
            .as_ref()?
            .find_frames(address)
            .skip_all_loads()
            .ok()?;
        let (mut ours, mut outermost) = (None, None);
        while let Ok(Some(frame)) = frames.next() {
            let Some(location) = frame.location else {
                continue;
            };
            let place = (location.file, location.line);
            let in_root = place
                .0
                .is_some_and(|file| std::path::Path::new(file).starts_with(root));
            if in_root && ours.is_none() {
                ours = Some(place);
            }
            outermost = Some(place);
        }
        let (file, line) = ours.or(outermost)?;
        let file = file?;
        let file = std::path::Path::new(file).strip_prefix(root).map_or_else(
            |_| file.to_string(),
            |relative| relative.display().to_string(),
        );
        Some(match line {
            Some(line) => format!("{file}:{line}"),
            None => file,
        })
    }

    /// `function+0xoffset` of `address` in the function that holds `lookup` (both
    /// relative to the load base), if one does. A return address is looked up one
    /// byte back (its call may end its function) but named as it is.
    pub fn name(&self, lookup: u64, address: u64) -> Option<String> {
        self.function(lookup)
            .map(|(name, start)| format!("{name}+{:#x}", address.saturating_sub(start)))
    }

    /// The function holding `address` (relative to the load base) and its start.
    pub fn function(&self, address: u64) -> Option<(&str, u64)> {
        let after = self
            .functions
            .partition_point(|(start, _, _)| *start <= address);
        // The nearest function that starts at or below the address and covers it
        // (aliases and size-less symbols may sit at the same start).
        self.functions[..after]
            .iter()
            .rev()
            .take(8)
            .find(|(start, size, _)| address - start < (*size).max(1))
            .map(|(start, _, name)| (name.as_str(), *start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_of_a_real_elf_are_named_and_others_are_not() {
        // This test binary itself: it has this very function.
        let elf = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let symbols = Symbols::parse(&elf);
        let (start, _, _) = symbols
            .functions
            .iter()
            .find(|(_, _, name)| {
                name.ends_with("functions_of_a_real_elf_are_named_and_others_are_not")
            })
            .expect("the test's own function is in the table")
            .clone();
        let named = symbols.name(start + 1, start + 1).unwrap();
        assert!(
            named.ends_with("functions_of_a_real_elf_are_named_and_others_are_not+0x1"),
            "{named}"
        );
        assert_eq!(symbols.name(0, 0), None);
        // The test binary has line tables: this function is in this file.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let location = symbols.location(start + 1, root).expect("a line");
        assert!(location.starts_with("src/symbols.rs:"), "{location}");
        assert!(Symbols::parse(b"not an elf").name(0x1000, 0x1000).is_none());
    }
}
