//! HAL logging: defmt frames in the cluster kernel executable, nothing elsewhere.
//!
//! The hosted HAL is linked into the cluster kernel (which provides defmt's global
//! logger and sends the frames to the runner) and into host tools such as the
//! runner (which have no logger). The `defmt` feature, enabled only by the kernel
//! executable, turns [`info!`](crate::hal_info) and [`warn!`](crate::hal_warn) into
//! defmt calls; without it they compile to nothing.

/// Logs at info level through defmt when the `defmt` feature is on.
#[macro_export]
macro_rules! hal_info {
    ($($argument:tt)*) => {
        #[cfg(feature = "defmt")]
        defmt::info!($($argument)*);
    };
}

/// Logs at warn level through defmt when the `defmt` feature is on.
#[macro_export]
macro_rules! hal_warn {
    ($($argument:tt)*) => {
        #[cfg(feature = "defmt")]
        defmt::warn!($($argument)*);
    };
}

/// Unit tests of this crate link code that logs; with the `defmt` feature on (as in
/// workspace builds, where the kernel executable turns it on) they need a logger.
/// This one drops every frame.
#[cfg(all(test, feature = "defmt"))]
mod test_logger {
    #[defmt::global_logger]
    struct DiscardingLogger;

    // SAFETY: the logger keeps no state; every method is a no-op, so any sequence of
    // calls from any thread is sound.
    unsafe impl defmt::Logger for DiscardingLogger {
        fn acquire() {}
        unsafe fn flush() {}
        unsafe fn release() {}
        unsafe fn write(_bytes: &[u8]) {}
    }

    defmt::timestamp!("{=u64}", 0);
}
