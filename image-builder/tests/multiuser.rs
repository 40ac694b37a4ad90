//! The multi-user demo (`systems/multiuser.toml`) end to end: alice's four and bob's
//! two word counts, each on a compute cluster of its own, written to files of
//! their homes as themselves, agree with the texts' counts taken here; bob's
//! matrix product in remote memory (paged: evictions) has the checksum the driver
//! computes; bob is refused alice's counts; the board powers off with 0.

mod common;

use common::NANVIX;
use nanvix_harness::{Board, Event};
use std::time::Duration;

/// Lines, words and bytes of `text`, as `wc` counts them.
fn counts(text: &str) -> (usize, usize, usize) {
    (
        text.bytes().filter(|byte| *byte == b'\n').count(),
        text.split_ascii_whitespace().count(),
        text.len(),
    )
}

#[test]
fn two_users_count_words_on_several_clusters_and_one_is_refused_the_others_files() {
    let root = nanvix_image_builder::workspace_root();
    let directory = std::env::temp_dir().join(format!("nanvix-multiuser-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let disk = directory.join("multiuser.disk");
    let mut board = Board::start_with_input(
        NANVIX,
        root.join("systems/multiuser.toml"),
        Duration::from_secs(120),
        &["--fresh-disk", "--disk", disk.to_str().unwrap()],
        None,
    )
    .unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let lines = common::console_lines(&board, |_, program, _| program == "multiuser");
    for text in 1..=6 {
        let contents =
            std::fs::read_to_string(root.join(format!("systems/texts/text-{text}.txt"))).unwrap();
        let (lines_counted, words, bytes) = counts(&contents);
        let user = if text <= 4 { "alice" } else { "bob" };
        let wanted = format!(
            "multiuser: {user}'s /home/{user}/count-{text}.txt: {lines_counted} {words} {bytes} /usr/share/texts/text-{text}.txt (lines, words, bytes)"
        );
        assert!(lines.contains(&wanted), "{wanted}\n{}", board.transcript());
    }
    let product = lines
        .iter()
        .find(|line| {
            line.starts_with(
                "multiuser: bob's /home/bob/matrix.txt: matrix: 128x128 product, checksum ",
            )
        })
        .unwrap_or_else(|| panic!("no product line\n{}", board.transcript()));
    assert!(
        product.ends_with("(the checksum as it should be)"),
        "{product}"
    );
    let evictions: u64 = product
        .split(", ")
        .find_map(|part| part.strip_suffix(" evictions"))
        .and_then(|count| count.parse().ok())
        .unwrap_or(0);
    assert!(evictions > 0, "{product}");
    for wanted in [
        "multiuser: bob was refused alice's counts, as he should be",
        "multiuser: done: every job ran as it should",
    ] {
        assert!(
            lines.iter().any(|line| line == wanted),
            "{}",
            board.transcript()
        );
    }
    // The jobs ran on several compute clusters.
    let clusters: std::collections::BTreeSet<String> = board
        .events()
        .iter()
        .filter_map(|event| match event {
            // `wc` from /bin, staged as `wc@` and its hash.
            Event::Console {
                cluster, program, ..
            } if program.starts_with("wc@") => Some(cluster.clone()),
            Event::ProgramStarted {
                cluster, program, ..
            } if program.starts_with("wc@") => Some(cluster.clone()),
            _ => None,
        })
        .collect();
    assert!(clusters.len() >= 4, "{clusters:?}");
    let _ = std::fs::remove_dir_all(&directory);
}
