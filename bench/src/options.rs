//! How a baseline runs: how many trials, how many iterations, pinned or not.

use crate::BenchError;

/// The fewest iterations a trial ever runs, whatever the scale.
pub const MINIMUM_ITERATIONS: u64 = 10;

/// How a baseline runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Trials per row; each trial runs the whole iteration count once. Default 5.
    pub trials: usize,
    /// Multiplier of every baseline's iteration count (at least [`MINIMUM_ITERATIONS`]
    /// remain). Default 1.0; `--quick` uses 0.01, tests far less.
    pub scale: f64,
    /// Whether the two sides of a two-sided baseline run on CPUs 0 and 1 (and the creator
    /// of `pthread_create_join` on CPU 0). Default `true`.
    pub pinned: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            trials: 5,
            scale: 1.0,
            pinned: true,
        }
    }
}

impl Options {
    /// The options of a quick run: scale 0.01, otherwise the defaults.
    pub fn quick() -> Self {
        Self {
            scale: 0.01,
            ..Self::default()
        }
    }

    /// These options with `pinned` replaced.
    pub fn with_pinned(&self, pinned: bool) -> Self {
        Self {
            pinned,
            ..self.clone()
        }
    }

    /// Fails unless there is at least one trial and the scale is finite and positive.
    pub fn validate(&self) -> Result<(), BenchError> {
        if self.trials == 0 {
            return Err(BenchError::InvalidOptions(
                "at least one trial is needed".to_string(),
            ));
        }
        if !self.scale.is_finite() || self.scale <= 0.0 {
            return Err(BenchError::InvalidOptions(format!(
                "the scale must be finite and positive, not {}",
                self.scale
            )));
        }
        Ok(())
    }

    /// `full` iterations (the count at scale 1) scaled, and at least [`MINIMUM_ITERATIONS`].
    pub fn iterations(&self, full: u64) -> u64 {
        // The cast saturates: an absurd scale yields u64::MAX, not a wrap.
        let scaled = (full as f64 * self.scale).round() as u64;
        scaled.max(MINIMUM_ITERATIONS)
    }
}

/// How many untimed iterations warm a trial up: a tenth of it, at least one.
pub(crate) fn warmup_iterations(iterations: u64) -> u64 {
    (iterations / 10).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterations_scale_with_a_floor() {
        let options = Options {
            scale: 0.001,
            ..Options::default()
        };
        assert_eq!(options.iterations(1_000_000), 1_000);
        assert_eq!(options.iterations(100), MINIMUM_ITERATIONS);
        assert_eq!(Options::default().iterations(2_000), 2_000);
    }

    #[test]
    fn validation_refuses_bad_options() {
        assert!(Options::default().validate().is_ok());
        let no_trials = Options {
            trials: 0,
            ..Options::default()
        };
        assert!(no_trials.validate().is_err());
        for scale in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let options = Options {
                scale,
                ..Options::default()
            };
            assert!(options.validate().is_err(), "scale {scale}");
        }
    }
}
