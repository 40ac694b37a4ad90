//! The multi-user demo's computation: C = A × B of `n` × `n` integers whose
//! entries follow from their indices, so any program can check C's checksum.
#![no_std]
#![forbid(unsafe_code)]

/// Entry (`row`, `column`) of A.
pub fn a(row: usize, column: usize) -> u64 {
    ((row * 31 + column * 17 + 1) % 1000) as u64
}

/// Entry (`row`, `column`) of B.
pub fn b(row: usize, column: usize) -> u64 {
    ((row * 7 + column * 13 + 3) % 1000) as u64
}

/// The checksum of an `n` × `n` matrix with entries `entry(row, column)`: each
/// entry times its position (counted from 1), summed with wrap-around, so a
/// misplaced entry shows.
pub fn checksum(n: usize, entry: impl Fn(usize, usize) -> u64) -> u64 {
    let mut sum = 0u64;
    for row in 0..n {
        for column in 0..n {
            let position = (row * n + column + 1) as u64;
            sum = sum.wrapping_add(entry(row, column).wrapping_mul(position));
        }
    }
    sum
}

/// The checksum of A × B for `n`, each entry of the product summed straight from
/// A's and B's (`n`³ steps, no memory beyond the stack).
pub fn product_checksum(n: usize) -> u64 {
    checksum(n, |row, column| {
        (0..n).fold(0u64, |sum, k| {
            sum.wrapping_add(a(row, k).wrapping_mul(b(k, column)))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::{a, b, checksum, product_checksum};

    #[test]
    fn the_checksum_of_a_small_product_is_its_entries_by_position() {
        // n = 2: C = A × B worked out by hand from the entry formulas.
        let (a00, a01, a10, a11) = (a(0, 0), a(0, 1), a(1, 0), a(1, 1));
        let (b00, b01, b10, b11) = (b(0, 0), b(0, 1), b(1, 0), b(1, 1));
        let c = [
            a00 * b00 + a01 * b10,
            a00 * b01 + a01 * b11,
            a10 * b00 + a11 * b10,
            a10 * b01 + a11 * b11,
        ];
        let by_hand = c[0] + 2 * c[1] + 3 * c[2] + 4 * c[3];
        assert_eq!(product_checksum(2), by_hand);
    }

    #[test]
    fn a_swapped_pair_of_entries_changes_the_checksum() {
        let straight = checksum(3, |row, column| (row * 3 + column) as u64);
        let swapped = checksum(3, |row, column| (column * 3 + row) as u64);
        assert_ne!(straight, swapped);
    }
}
