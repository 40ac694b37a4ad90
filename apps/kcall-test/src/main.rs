//! Test program: every kcall's argument checks, through the real gate.
//!
//! Each check makes one call with a bad argument and expects its errno, then checks
//! that nothing changed where that can be seen. Prints one line per failed check and
//! a summary `kcall-test: N checks, M failed`; exits with the number of failures.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use libnanvix::abi::{CLUSTER_SELF, ClusterInfo, Errno, Kcall, MessageHeader, NOC_PAYLOAD_MAX};
use libnanvix::runtime::{kcall, kcall_number};
use libnanvix::{clock, cluster, memory, noc, println, process, thread};

libnanvix::entry!(main);

/// An address no program memory is at.
const WILD: usize = 0x10;

struct Checks {
    run: u32,
    failed: u32,
}

impl Checks {
    fn expect(&mut self, name: &str, result: Result<usize, Errno>, wanted: Result<usize, Errno>) {
        self.run += 1;
        if result != wanted {
            self.failed += 1;
            println!("FAIL {name}: got {result:?}, wanted {wanted:?}");
        }
    }
}

fn main() -> i32 {
    let mut checks = Checks { run: 0, failed: 0 };
    let size = core::mem::size_of::<ClusterInfo>();
    let mut info = ClusterInfo::zeroed();
    let info_address = &raw mut info as usize;

    checks.expect(
        "unknown kcall number",
        kcall_number(999, [0; 5]),
        Err(Errno::NoSystemCall),
    );
    checks.expect(
        "kcall number 0",
        kcall_number(0, [0; 5]),
        Err(Errno::NoSystemCall),
    );

    checks.expect(
        "console_write wild pointer",
        kcall(Kcall::ConsoleWrite, [WILD, 5, 0, 0, 0]),
        Err(Errno::Fault),
    );
    checks.expect(
        "console_write wrapping range",
        kcall(Kcall::ConsoleWrite, [usize::MAX - 1, 16, 0, 0, 0]),
        Err(Errno::Fault),
    );
    checks.expect(
        "console_write empty",
        kcall(Kcall::ConsoleWrite, [WILD, 0, 0, 0, 0]),
        Ok(0),
    );

    checks.expect(
        "cluster_info index out of range",
        kcall(Kcall::ClusterInfo, [100_000, info_address, size, 0, 0]),
        Err(Errno::Invalid),
    );
    checks.expect(
        "cluster_info wrong size",
        kcall(
            Kcall::ClusterInfo,
            [CLUSTER_SELF, info_address, size - 1, 0, 0],
        ),
        Err(Errno::Invalid),
    );
    checks.expect(
        "cluster_info wild pointer",
        kcall(Kcall::ClusterInfo, [CLUSTER_SELF, WILD, size, 0, 0]),
        Err(Errno::Fault),
    );
    checks.run += 1;
    if info.cores != 0 || info.name_length != 0 {
        checks.failed += 1;
        println!("FAIL failed cluster_info calls wrote to the output");
    }
    checks.expect(
        "cluster_info self",
        kcall(Kcall::ClusterInfo, [CLUSTER_SELF, info_address, size, 0, 0]),
        Ok(0),
    );

    let this = cluster::this().unwrap_or(ClusterInfo::zeroed());
    let own_node = process::node() as usize;
    let payload = [7u8; NOC_PAYLOAD_MAX + 1];
    checks.expect(
        "noc_send over 128 bytes",
        kcall(
            Kcall::NocSend,
            [
                own_node,
                0,
                payload.as_ptr() as usize,
                NOC_PAYLOAD_MAX + 1,
                0,
            ],
        ),
        Err(Errno::MessageSize),
    );
    checks.expect(
        "noc_send unknown node",
        kcall(
            Kcall::NocSend,
            [1_000_000, 0, payload.as_ptr() as usize, 4, 0],
        ),
        Err(Errno::Invalid),
    );
    checks.expect(
        "noc_send program out of range",
        kcall(
            Kcall::NocSend,
            [own_node, 4096, payload.as_ptr() as usize, 4, 0],
        ),
        Err(Errno::Invalid),
    );
    checks.expect(
        "noc_send wild pointer",
        kcall(Kcall::NocSend, [own_node, 0, WILD, 4, 0]),
        Err(Errno::Fault),
    );

    let mut header = MessageHeader::default();
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];
    checks.expect(
        "noc_receive wild header",
        kcall(
            Kcall::NocReceive,
            [WILD, buffer.as_mut_ptr() as usize, buffer.len(), 0, 0],
        ),
        Err(Errno::Fault),
    );
    checks.expect(
        "noc_receive wild buffer",
        kcall(
            Kcall::NocReceive,
            [&raw mut header as usize, WILD, 64, 0, 0],
        ),
        Err(Errno::Fault),
    );

    // A message to ourselves arrives with the source the hardware stamped; a buffer
    // too small for it is refused and the message stays queued.
    let sent = noc::send(process::node(), process::id(), b"loopback");
    checks.expect("noc_send to self", sent.map(|()| 0), Ok(0));
    checks.expect(
        "noc_receive buffer too small",
        kcall(
            Kcall::NocReceive,
            [
                &raw mut header as usize,
                buffer.as_mut_ptr() as usize,
                4,
                0,
                0,
            ],
        ),
        Err(Errno::MessageSize),
    );
    let received = noc::receive(&mut buffer);
    checks.run += 1;
    match received {
        Ok((header, length))
            if &buffer[..length] == b"loopback"
                && header.source_node == process::node()
                && header.source_program == process::id() => {}
        other => {
            checks.failed += 1;
            println!("FAIL loopback message: {other:?}");
        }
    }

    let mut input = [0u8; 8];
    checks.expect(
        "console_read without holding the console input",
        kcall(
            Kcall::ConsoleRead,
            [input.as_mut_ptr() as usize, input.len(), 0, 0, 0],
        ),
        Err(Errno::Access),
    );

    // The remote path: served by the master, arguments ignored, answer 0.
    checks.expect("noop", kcall(Kcall::Noop, [WILD, 1, 2, 3, 4]), Ok(0));
    // The local path: the calling thread's id, nonzero and stable.
    let first = thread::current().map(|id| id.0);
    checks.run += 1;
    if !matches!(first, Ok(id) if id > 0) {
        checks.failed += 1;
        println!("FAIL thread_self: got {first:?}, wanted a nonzero id");
    }
    checks.expect("thread_self twice", thread::current().map(|id| id.0), first);

    // Devices: rights, sizes and pointers checked; clocks that tell the time.
    let mut eight = [0u8; 8];
    let eight_at = eight.as_mut_ptr() as usize;
    let device = |number: Kcall, id: usize, address: usize, length: usize| {
        kcall(number, [id, address, length, 0, 0])
    };
    let device_errors = [
        (
            "unknown device",
            device(Kcall::DeviceRead, 99, eight_at, 8),
            Err(Errno::NoEntry),
        ),
        (
            "write the wall clock",
            device(Kcall::DeviceWrite, 1, eight_at, 8),
            Err(Errno::Access),
        ),
        (
            "read the console without it",
            device(Kcall::DeviceRead, 0, eight_at, 8),
            Err(Errno::Access),
        ),
        (
            "a clock into 4 bytes",
            device(Kcall::DeviceRead, 1, eight_at, 4),
            Err(Errno::Invalid),
        ),
        (
            "the timer takes 8 bytes",
            device(Kcall::DeviceWrite, 3, eight_at, 4),
            Err(Errno::Invalid),
        ),
        (
            "a clock into a wild buffer",
            device(Kcall::DeviceRead, 2, WILD, 8),
            Err(Errno::Fault),
        ),
    ];
    for (name, got, wanted) in device_errors {
        checks.expect(name, got, wanted);
    }
    let wall = clock::wall_clock_nanoseconds().unwrap_or(0);
    checks.run += 1;
    if wall < 1_700_000_000_000_000_000 {
        checks.failed += 1;
        println!("FAIL the wall clock says {wall} ns since the epoch");
    }
    let before = clock::monotonic_nanoseconds().unwrap_or(0);
    let slept = thread::sleep_nanoseconds(2_000_000);
    let after = clock::monotonic_nanoseconds().unwrap_or(0);
    checks.run += 1;
    if slept.is_err() || after.saturating_sub(before) < 2_000_000 {
        checks.failed += 1;
        println!(
            "FAIL a 2 ms sleep took {} ns ({slept:?})",
            after.saturating_sub(before)
        );
    }

    // The memory module: a page of the window, mapped, written, read, unmapped;
    // every refusal changes nothing.
    memory_checks(&mut checks);

    // The heap the manifest sized backs the global allocator.
    let numbers: alloc::vec::Vec<u64> = (1..=4_000).collect();
    checks.run += 1;
    if numbers.iter().sum::<u64>() != 8_002_000 {
        checks.failed += 1;
        println!("FAIL heap-allocated vector has the wrong contents");
    }
    // Past the heap (bounded by the manifest, inside the cluster's SRAM budget) an
    // allocation fails with an error the program sees, and the heap still works.
    let mut too_big: alloc::vec::Vec<u8> = alloc::vec::Vec::new();
    checks.run += 1;
    if too_big.try_reserve(64 << 20).is_ok() {
        checks.failed += 1;
        println!("FAIL a 64 MiB reservation past the heap succeeded");
    }
    checks.run += 1;
    if alloc::vec![7u8; 1024]
        .iter()
        .map(|byte| u64::from(*byte))
        .sum::<u64>()
        != 7 * 1024
    {
        checks.failed += 1;
        println!("FAIL the heap after a refused reservation");
    }

    println!(
        "kcall-test on {}: {} checks, {} failed",
        this.name(),
        checks.run,
        checks.failed
    );
    checks.failed as i32
}

/// Pages of the MMU window: mapping, rights, refusals, unmapping.
fn memory_checks(checks: &mut Checks) {
    let window = memory::window().unwrap_or(0);
    checks.run += 1;
    if window == 0 || !window.is_multiple_of(64 << 10) {
        checks.failed += 1;
        println!("FAIL memory_window: {window:#x}");
        return;
    }
    let map = |address: usize, size: usize, rights: usize| {
        kcall(Kcall::MemoryMap, [address, size, rights, 0, 0])
    };
    match memory::Page::map(window, false, true) {
        Ok(mut page) => {
            let filled = page.bytes().iter().all(|byte| *byte == 0);
            page.bytes_mut()[..4].copy_from_slice(b"page");
            checks.run += 1;
            if !filled || &page.bytes()[..4] != b"page" {
                checks.failed += 1;
                println!("FAIL a mapped page is not zeroed, or does not keep what is written");
            }
            // read, write, may unmap, may grant
            checks.expect("memory_info", memory::info(window + 100), Ok(0b11_0011));
            let refusals = [
                ("map over a page", map(window, 0, 2), Err(Errno::Busy)),
                (
                    "map misaligned",
                    map(window + 4096 + 8, 0, 2),
                    Err(Errno::Invalid),
                ),
                (
                    "a large page misaligned",
                    map(window + 4096, 1, 2),
                    Err(Errno::Invalid),
                ),
                ("a bad size", map(window + 8192, 2, 2), Err(Errno::Invalid)),
                (
                    "bad rights",
                    map(window + 8192, 0, 1 << 8),
                    Err(Errno::Invalid),
                ),
                (
                    "outside the window",
                    map(window - 4096, 0, 2),
                    Err(Errno::Invalid),
                ),
            ];
            for (name, got, wanted) in refusals {
                checks.expect(name, got, wanted);
            }
            window_pointer_checks(checks, window, &mut page);
            protect_checks(checks, window, &mut page);
            checks.expect("unmap", page.unmap().map(|()| 0), Ok(0));
            checks.expect(
                "a buffer on a page unmapped since",
                kcall(Kcall::ConsoleWrite, [window, 4, 0, 0, 0]),
                Err(Errno::Fault),
            );
        }
        Err(errno) => {
            checks.run += 1;
            checks.failed += 1;
            println!("FAIL memory_map: {errno}");
        }
    }
    checks.expect(
        "unmap twice",
        kcall(Kcall::MemoryUnmap, [window, 0, 0, 0, 0]),
        Err(Errno::NoEntry),
    );
    checks.expect("info of nothing", memory::info(window), Err(Errno::NoEntry));
}

/// `memory_protect` on the page at `window` (writable, holding `page`): made
/// read-only and back, its bytes kept; every refusal, each changing nothing.
fn protect_checks(checks: &mut Checks, window: usize, page: &mut memory::Page) {
    let protect =
        |address: usize, rights: usize| kcall(Kcall::MemoryProtect, [address, rights, 0, 0, 0]);
    checks.expect("protect read-only", protect(window, 0), Ok(0));
    // read, may unmap, may grant
    checks.expect("its rights", memory::info(window), Ok(0b11_0001));
    checks.expect(
        "a clock into it, read-only now",
        kcall(Kcall::DeviceRead, [1, window + 64, 8, 0, 0]),
        Err(Errno::Fault),
    );
    checks.expect("writable again", page.protect(true).map(|()| 0), Ok(0));
    checks.expect("its rights again", memory::info(window), Ok(0b11_0011));
    checks.run += 1;
    if &page.bytes()[..4] != b"kcal" {
        checks.failed += 1;
        println!("FAIL memory_protect lost the page's bytes");
    }
    for (name, got, wanted) in [
        (
            "protect: bad rights",
            protect(window, 1 << 8),
            Err(Errno::Invalid),
        ),
        (
            "protect: inside a page",
            protect(window + 8, 0),
            Err(Errno::NoEntry),
        ),
        (
            "protect: nothing mapped",
            protect(window + 8192, 0),
            Err(Errno::NoEntry),
        ),
        (
            "protect: outside the window",
            protect(16, 0),
            Err(Errno::NoEntry),
        ),
    ] {
        checks.expect(name, got, wanted);
    }
    checks.expect("still writable", memory::info(window), Ok(0b11_0011));
}

/// Kcall buffers on pages of the window: taken where the program holds the page
/// with the right the kcall needs, refused (EFAULT) where not.
fn window_pointer_checks(checks: &mut Checks, window: usize, page: &mut memory::Page) {
    let line = b"kcall-test: a line from a window page\n";
    page.bytes_mut()[..line.len()].copy_from_slice(line);
    checks.expect(
        "console_write from a window page",
        kcall(Kcall::ConsoleWrite, [window, line.len(), 0, 0, 0]),
        Ok(line.len()),
    );
    checks.expect(
        "a clock into a window page",
        kcall(Kcall::DeviceRead, [1, window + 64, 8, 0, 0]),
        Ok(8),
    );
    checks.run += 1;
    if page.bytes()[64..72].iter().all(|byte| *byte == 0) {
        checks.failed += 1;
        println!("FAIL the wall clock read into a window page is 0");
    }
    checks.expect(
        "a buffer running off the page",
        kcall(Kcall::ConsoleWrite, [window + 4096 - 4, 8, 0, 0, 0]),
        Err(Errno::Fault),
    );
    let read_only = window + 8192;
    checks.expect(
        "a read-only page",
        kcall(Kcall::MemoryMap, [read_only, 0, 0, 0, 0]),
        Ok(0),
    );
    checks.expect(
        "a clock into a read-only page",
        kcall(Kcall::DeviceRead, [1, read_only, 8, 0, 0]),
        Err(Errno::Fault),
    );
    checks.expect(
        "the timer reads a read-only page",
        kcall(Kcall::DeviceWrite, [3, read_only, 8, 0, 0]),
        Ok(8),
    );
    checks.expect(
        "unmap the read-only page",
        kcall(Kcall::MemoryUnmap, [read_only, 0, 0, 0, 0]),
        Ok(0),
    );
}
