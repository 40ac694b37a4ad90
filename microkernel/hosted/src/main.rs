//! The cluster kernel executable of the hosted platform: microkernel + hosted HAL.
//!
//! The board runner starts one such process per cluster with a boot spec; the
//! process attaches to the board, loads the programs the spec lists and runs the
//! kernel's master loop on its main thread until the cluster powers off. Kernel log
//! frames (defmt) go to the runner through [`logger`].

mod logger;

use nanvix_hal_hosted::HostedPlatform;
use nanvix_microkernel::{Kernel, ProgramToLoad};
use std::sync::OnceLock;

pub(crate) static KERNEL: OnceLock<Kernel<HostedPlatform>> = OnceLock::new();

/// The image's programs by name, and the file of each (the boot spec lists them).
static LIBRARY: OnceLock<Vec<(String, String)>> = OnceLock::new();

/// The run's staging directory (the boot spec names it).
static STAGED: OnceLock<std::path::PathBuf> = OnceLock::new();

/// The image programs read so far, by name (each read once, kept for good).
static READ: std::sync::Mutex<Vec<(String, &'static [u8])>> = std::sync::Mutex::new(Vec::new());

/// The image's program `name` for `program_spawn` and a warm cluster's next
/// program: read from its file the first time, then kept (a warm cluster runs the
/// same programs again and again).
fn library(name: &str) -> Option<Result<&'static [u8], String>> {
    let image = LIBRARY
        .get()?
        .iter()
        .find(|(known, _)| known == name)
        .map(|(_, path)| std::path::PathBuf::from(path));
    // Else a program staged while the board runs: its name is its bytes' hash,
    // so what was read under it stays right.
    let path = image.or_else(|| {
        nanvix_hal_hosted::protocol::staged_path(STAGED.get().map(|path| path.as_path()), name)
    })?;
    let mut read = READ
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, elf)) = read.iter().find(|(known, _)| known == name) {
        return Some(Ok(elf));
    }
    Some(match std::fs::read(&path) {
        Ok(elf) => {
            let elf: &'static [u8] = Box::leak(elf.into_boxed_slice());
            read.push((name.to_string(), elf));
            Ok(elf)
        }
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    })
}

/// The gate's kcall entry: every program call into the kernel lands here.
unsafe extern "C" fn kcall(
    number: usize,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
) -> isize {
    match KERNEL.get() {
        Some(kernel) => kernel.kcall(number, [a0, a1, a2, a3, a4]),
        None => nanvix_abi::Errno::NoSystemCall.to_result(),
    }
}

fn main() {
    let mut arguments = std::env::args().skip(1).peekable();
    if arguments.peek().map(String::as_str) == Some(nanvix_hal_hosted::probe::PROBE_FLAG) {
        std::process::exit(nanvix_hal_hosted::probe::main(arguments.skip(1)));
    }
    if std::env::var_os("NANVIX_WAIT_FOR_DEBUGGER").is_some() {
        // `nanvix run --gdb`: stop here until a debugger (or SIGCONT) resumes us.
        // SAFETY: raising a signal on ourselves has no preconditions.
        unsafe { libc::raise(libc::SIGSTOP) };
    }
    logger::start();
    let (platform, board, spec) = match HostedPlatform::attach() {
        Ok(attached) => attached,
        Err(error) => {
            eprintln!("nanvix-kernel-hosted: {error}");
            std::process::exit(2);
        }
    };
    let _ = LIBRARY.set(spec.image_programs.clone());
    if !spec.staged_directory.is_empty() {
        let _ = STAGED.set(std::path::PathBuf::from(&spec.staged_directory));
    }
    // The hosted board delivers program images as files the runner names.
    let images: Vec<Result<Vec<u8>, String>> = spec
        .programs
        .iter()
        .map(|program| {
            std::fs::read(&program.path)
                .map_err(|error| format!("cannot read {}: {error}", program.path))
        })
        .collect();
    let cluster_name = board
        .clusters
        .get(spec.cluster as usize)
        .map_or_else(|| "?".to_string(), |cluster| cluster.name.clone());
    let kernel = KERNEL.get_or_init(|| Kernel::new(platform, board, kcall));
    let programs: Vec<ProgramToLoad<'_>> = spec
        .programs
        .iter()
        .zip(&images)
        .map(|(program, elf)| ProgramToLoad {
            name: &program.name,
            elf: elf.as_deref().map_err(String::as_str),
            arguments: &program.arguments,
            heap_bytes: program.heap_bytes as usize,
            stack_bytes: program.stack_bytes as usize,
            console_input: program.console_input,
        })
        .collect();
    defmt::info!(
        "cluster {=str} booting, {=usize} programs",
        cluster_name.as_str(),
        programs.len()
    );
    kernel.boot(&programs, library)
}
