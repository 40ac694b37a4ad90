//! Kernel text without `core::fmt`: messages written with `ufmt` (a few hundred
//! bytes of code where `core::fmt`'s formatter costs kilobytes in a bare-metal
//! kernel), into a [`Text`], with one source for the host's `Display` ([`display`]).

use alloc::string::String;
use core::convert::Infallible;
use ufmt_write::uWrite;

/// A string being written with `ufmt::uwrite!`.
#[derive(Debug, Default)]
pub struct Text(pub String);

impl uWrite for Text {
    type Error = Infallible;

    fn write_str(&mut self, text: &str) -> Result<(), Infallible> {
        self.0.push_str(text);
        Ok(())
    }
}

/// `text!("...", ...)`: a `String` written with `ufmt` (its `{}`, `{:?}`, `{:x}`,
/// `{:#x}` and `{:02x}`; arguments are passed after the string, not named in it).
#[macro_export]
macro_rules! text {
    ($($argument:tt)*) => {{
        let mut text = $crate::text::Text::default();
        // Writing to a `Text` cannot fail.
        let _ = ufmt::uwrite!(text, $($argument)*);
        text.0
    }};
}

/// Writes `value` with a `core::fmt` formatter: the `Display` of a message whose
/// source is its `ufmt::uDisplay`.
pub fn display<T: ufmt::uDisplay + ?Sized>(
    value: &T,
    formatter: &mut core::fmt::Formatter<'_>,
) -> core::fmt::Result {
    struct Adapter<'a, 'b>(&'a mut core::fmt::Formatter<'b>);
    impl uWrite for Adapter<'_, '_> {
        type Error = core::fmt::Error;

        fn write_str(&mut self, text: &str) -> Result<(), core::fmt::Error> {
            self.0.write_str(text)
        }
    }
    ufmt::uwrite!(Adapter(formatter), "{}", value)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair(u32, u64);

    impl ufmt::uDisplay for Pair {
        fn fmt<W: uWrite + ?Sized>(
            &self,
            formatter: &mut ufmt::Formatter<'_, W>,
        ) -> Result<(), W::Error> {
            ufmt::uwrite!(formatter, "{} and {:#x}", self.0, self.1)
        }
    }

    impl core::fmt::Display for Pair {
        fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            display(self, formatter)
        }
    }

    #[test]
    fn text_and_display_say_the_same() {
        let written = crate::text!("pair: {}; {:02x}", Pair(7, 255), 10u8);
        assert_eq!(written, "pair: 7 and 0xff; 0a");
        assert_eq!(alloc::format!("{}", Pair(7, 255)), "7 and 0xff");
    }
}
