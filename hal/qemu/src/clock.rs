//! The wall clock: the CMOS real-time clock (QEMU sets it to the host's time at
//! start), read once at boot and carried on by the cycle counter.

use crate::machine::{in_byte, out_byte};
use core::sync::atomic::{AtomicU64, Ordering};

/// The CMOS index port (bit 7 also masks NMIs: kept set) and its data port.
const CMOS_INDEX: u16 = 0x70;
const CMOS_DATA: u16 = 0x71;
/// The RTC's registers: seconds, minutes, hours, day, month, year (of the century),
/// status A (bit 7: an update is under way) and B (bit 2: binary, else BCD; bit 1:
/// 24-hour).
const SECONDS: u8 = 0x00;
const MINUTES: u8 = 0x02;
const HOURS: u8 = 0x04;
const DAY: u8 = 0x07;
const MONTH: u8 = 0x08;
const YEAR: u8 = 0x09;
const STATUS_A: u8 = 0x0a;
const STATUS_B: u8 = 0x0b;

/// Nanoseconds since the Unix epoch at boot, and the monotonic clock then.
static BOOT_WALL_NANOSECONDS: AtomicU64 = AtomicU64::new(0);
static BOOT_MONOTONIC_NANOSECONDS: AtomicU64 = AtomicU64::new(0);

fn read(register: u8) -> u8 {
    out_byte(CMOS_INDEX, 0x80 | register);
    in_byte(CMOS_DATA)
}

/// The RTC's date and time, as (year, month, day, hours, minutes, seconds), read
/// twice alike outside an update.
fn date_and_time() -> [u32; 6] {
    let sample = || {
        while read(STATUS_A) & 0x80 != 0 {
            core::hint::spin_loop();
        }
        [YEAR, MONTH, DAY, HOURS, MINUTES, SECONDS].map(read)
    };
    let mut raw = sample();
    loop {
        let again = sample();
        if again == raw {
            break;
        }
        raw = again;
    }
    let status = read(STATUS_B);
    let binary = status & 0x04 != 0;
    let decode = |value: u8| {
        if binary {
            u32::from(value)
        } else {
            u32::from(value >> 4) * 10 + u32::from(value & 0x0f)
        }
    };
    let mut hours = decode(raw[3] & 0x7f);
    if status & 0x02 == 0 && raw[3] & 0x80 != 0 {
        // 12-hour mode, afternoon.
        hours = (hours % 12) + 12;
    }
    [
        2000 + decode(raw[0]),
        decode(raw[1]),
        decode(raw[2]),
        hours,
        decode(raw[4]),
        decode(raw[5]),
    ]
}

/// Days from 1970-01-01 to `year`-`month`-`day` (proleptic Gregorian).
pub fn days_since_epoch(year: u32, month: u32, day: u32) -> i64 {
    let (year, month) = (i64::from(year), i64::from(month));
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Reads the RTC (at boot, once the cycle counter is calibrated).
pub fn start(monotonic_nanoseconds: u64) {
    let [year, month, day, hours, minutes, seconds] = date_and_time();
    let days = days_since_epoch(year, month, day).max(0) as u64;
    let seconds =
        days * 86_400 + u64::from(hours) * 3_600 + u64::from(minutes) * 60 + u64::from(seconds);
    BOOT_MONOTONIC_NANOSECONDS.store(monotonic_nanoseconds, Ordering::Relaxed);
    BOOT_WALL_NANOSECONDS.store(seconds * 1_000_000_000, Ordering::Release);
}

/// Nanoseconds since the Unix epoch, from the monotonic clock now (0 before
/// [`start`]).
pub fn wall_clock_nanoseconds(monotonic_nanoseconds: u64) -> u64 {
    let boot = BOOT_WALL_NANOSECONDS.load(Ordering::Acquire);
    if boot == 0 {
        return 0;
    }
    boot + monotonic_nanoseconds.saturating_sub(BOOT_MONOTONIC_NANOSECONDS.load(Ordering::Relaxed))
}
