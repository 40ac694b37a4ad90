//! The calling program: exit, arguments, NoC identity.

use crate::runtime::{kcall, start_info};
use nanvix_abi::Kcall;

/// Ends the program with `status`.
pub fn exit(status: i32) -> ! {
    let _ = kcall(Kcall::Exit, [status as u32 as usize, 0, 0, 0, 0]);
    // The kernel never returns from exit; spin politely if something is very wrong.
    loop {
        core::hint::spin_loop();
    }
}

/// The program's arguments; the first is its name.
pub fn arguments() -> impl Iterator<Item = &'static str> {
    let slices = match start_info() {
        Some(info) => 0..info.argument_count,
        None => 0..0,
    };
    slices.filter_map(crate::runtime::argument)
}

/// The value of the first argument `KEY=VALUE` whose key is `key`.
pub fn argument(key: &str) -> Option<&'static str> {
    arguments().find_map(|argument| {
        argument
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
    })
}

/// The NoC node this program is bound to.
pub fn node() -> u32 {
    start_info().map_or(0, |info| info.node)
}

/// The program's id on its cluster.
pub fn id() -> u32 {
    start_info().map_or(0, |info| info.program)
}
