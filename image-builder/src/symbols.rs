//! Program symbols: addresses in a loaded program named by its ELF's symbol table.

use object::{Object, ObjectSymbol, SymbolKind};

/// The functions of one program ELF, by address (relative to its load base).
#[derive(Debug, Default)]
pub struct Symbols {
    /// (start, size, demangled name), sorted by start.
    functions: Vec<(u64, u64, String)>,
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
        Symbols { functions }
    }

    /// `function+0xoffset` for `address` (relative to the load base), if a function
    /// holds it.
    pub fn name(&self, address: u64) -> Option<String> {
        self.function(address)
            .map(|(name, start)| format!("{name}+{:#x}", address - start))
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
        let named = symbols.name(start + 1).unwrap();
        assert!(
            named.ends_with("functions_of_a_real_elf_are_named_and_others_are_not+0x1"),
            "{named}"
        );
        assert_eq!(symbols.name(0), None);
        assert!(Symbols::parse(b"not an elf").name(0x1000).is_none());
    }
}
