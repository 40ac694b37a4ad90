//! The cluster kernel executable of the hosted platform: microkernel + hosted HAL.
//!
//! The board runner starts one such process per cluster with a boot spec; the
//! process attaches to the board, loads the programs the spec lists and runs the
//! kernel's master loop on its main thread until the cluster powers off.

use nanvix_hal_hosted::HostedPlatform;
use nanvix_hal_hosted::protocol::ClusterReport;
use nanvix_microkernel::{Kernel, ProgramToLoad};
use std::sync::OnceLock;

static KERNEL: OnceLock<Kernel<HostedPlatform>> = OnceLock::new();

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
    let (platform, board, spec) = match HostedPlatform::attach() {
        Ok(attached) => attached,
        Err(error) => {
            eprintln!("nanvix-kernel-hosted: {error}");
            std::process::exit(2);
        }
    };
    let mut images = Vec::new();
    for program in &spec.programs {
        match std::fs::read(&program.path) {
            Ok(bytes) => images.push(bytes),
            Err(error) => {
                platform
                    .hosted_board()
                    .send(&ClusterReport::ProgramRefused {
                        program: program.name.clone(),
                        reason: format!("cannot read {}: {error}", program.path),
                    });
                images.push(Vec::new());
            }
        }
    }
    let kernel = KERNEL.get_or_init(|| Kernel::new(platform, board, kcall));
    let programs: Vec<ProgramToLoad<'_>> = spec
        .programs
        .iter()
        .zip(&images)
        .map(|(program, elf)| ProgramToLoad {
            name: &program.name,
            elf,
            arguments: &program.arguments,
            heap_bytes: program.heap_bytes as usize,
            stack_bytes: program.stack_bytes as usize,
        })
        .collect();
    kernel.boot(&programs)
}
