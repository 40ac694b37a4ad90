//! The name a program file is staged under with the board.

use alloc::string::String;
use libnanvix::abi::STAGED_BASE_MAX;

/// The name a file at `path` is staged under: its last component, each byte the
/// board does not take (not an ASCII letter, digit, `-`, `_` or `.`) as `_`, at
/// most [`STAGED_BASE_MAX`] bytes; `program` for a name of dots only (or none).
pub fn base_name(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or_default();
    let base: String = last
        .chars()
        .map(|character| match u8::try_from(character) {
            Ok(byte) if libnanvix::abi::is_staged_byte(byte) => character,
            _ => '_',
        })
        .take(STAGED_BASE_MAX)
        .collect();
    if base.chars().all(|character| character == '.') {
        String::from("program")
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::base_name;

    #[test]
    fn a_base_name_is_the_last_component_in_the_boards_alphabet() {
        assert_eq!(base_name("/bin/wc"), "wc");
        assert_eq!(base_name("/home/alice/my prog"), "my_prog");
        assert_eq!(base_name("/home/alice/été"), "_t_");
        assert_eq!(base_name("/tmp/.."), "program");
        assert_eq!(base_name("/tmp/"), "program");
        assert_eq!(base_name(&"x".repeat(40)).len(), 32);
    }
}
