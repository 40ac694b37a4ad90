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

/// Keys of arguments the runtime itself reads (`stdin=NODE:PORT`: where standard
/// input comes from; `cwd=PATH`: the working directory it starts in;
/// `stdin-file=PATH`, `stdout=PATH`, `stdout-append=PATH`: files standard input
/// and output are redirected to; `stdout-pipe=NODE:PORT`: a pipe standard output
/// goes into); [`arguments`] does not list them, as a program's argv does not
/// hold its environment.
pub const RUNTIME_KEYS: [&str; 6] = [
    "stdin",
    "cwd",
    "stdin-file",
    "stdout",
    "stdout-append",
    "stdout-pipe",
];

/// Every argument as the spawner gave it, the runtime's included.
fn all_arguments() -> impl Iterator<Item = &'static str> {
    let slices = match start_info() {
        Some(info) => 0..info.argument_count,
        None => 0..0,
    };
    slices.filter_map(crate::runtime::argument)
}

/// The value of `argument` if its key is `key` (`KEY=VALUE`).
fn value_of<'a>(argument: &'a str, key: &str) -> Option<&'a str> {
    argument
        .strip_prefix(key)
        .and_then(|rest| rest.strip_prefix('='))
}

/// The program's arguments; the first is its name. Arguments for the runtime
/// ([`RUNTIME_KEYS`]) are not among them.
pub fn arguments() -> impl Iterator<Item = &'static str> {
    all_arguments().filter(|argument| {
        !RUNTIME_KEYS
            .iter()
            .any(|key| value_of(argument, key).is_some())
    })
}

/// The program's name, its first argument: an image program's name, or the name
/// of the file a program was staged from (the board runs it as `NAME@HASH`; the
/// hash is left out here).
pub fn name() -> &'static str {
    let first = arguments().next().unwrap_or("program");
    match first.rsplit_once('@') {
        Some((base, hash))
            if nanvix_abi::is_staged_base(base.as_bytes())
                && nanvix_abi::is_staged_hash(hash.as_bytes()) =>
        {
            base
        }
        _ => first,
    }
}

/// The value of the first argument `KEY=VALUE` whose key is `key` (the runtime's
/// arguments included).
pub fn argument(key: &str) -> Option<&'static str> {
    all_arguments().find_map(|argument| value_of(argument, key))
}

/// The NoC node this program is bound to.
pub fn node() -> u32 {
    start_info().map_or(0, |info| info.node)
}

/// The program's id on its cluster.
pub fn id() -> u32 {
    start_info().map_or(0, |info| info.program)
}
