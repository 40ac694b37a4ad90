//! Workloads shared by the benchmark programs (no_std, on the board) and their
//! pthreads baselines (std, on the host), so both sides run the very same code.
#![no_std]

/// One KNoise step: about 1,000 floating-point operations (the paper's loop: k
/// from 0 to 10008 in steps of 9, four products summed).
pub fn knoise_step(seed: f64) -> f64 {
    let mut total = 0.0;
    let mut k = 0u32;
    while k <= 10_008 {
        let value = f64::from(k);
        total += value * seed + value * 1.5 + value * 0.25 + value * seed * 0.5;
        k += 9;
    }
    total
}

/// `steps` KNoise steps from `seed`; the sum (so nothing is optimised away).
pub fn knoise_steps(steps: u32, seed: f64) -> f64 {
    (0..steps)
        .map(|index| knoise_step(seed + f64::from(index)))
        .sum()
}
