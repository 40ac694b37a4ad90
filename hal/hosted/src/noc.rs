//! The hosted board's NoC: the shared-memory NoC ([`nanvix_noc_memory::noc`]) with
//! futex doorbells, or polled ones.
//!
//! A receiver about to sleep waits on the next slot of every incoming channel and
//! on its core's park word at once (`futex_waitv`); a sender that publishes while
//! the receiver's cluster counts sleepers wakes the slot's word. With polled
//! doorbells (as the bare-metal backend must, where no doorbell device exists)
//! nobody wakes anybody across clusters: sleepers poll in bounded intervals.

use crate::cores::HostedCores;
use crate::futex::{self, Scope};
use nanvix_hal::Cores;
use nanvix_noc_memory::noc::Doorbell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub use nanvix_noc_memory::noc::{SPIN_BUDGET, SharedNoc};

/// The NoC of one hosted cluster.
pub type HostedNoc = SharedNoc<HostedDoorbell>;

/// How clusters notify each other across the NoC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Doorbells {
    /// Futex wakes on shared words (the default on the hosted board).
    #[default]
    Futex,
    /// No cross-cluster wakes at all: sleepers poll in bounded intervals, as the
    /// bare-metal backend must where no doorbell device exists.
    Polling,
}

/// How long a sleeper waits between polls when doorbells are polled.
const POLL_INTERVAL: Duration = Duration::from_micros(50);

/// The hosted board's doorbell: futexes on the shared words (or polling), and the
/// cores' park words.
pub struct HostedDoorbell {
    cores: Arc<HostedCores>,
    doorbells: Doorbells,
}

impl HostedDoorbell {
    /// A doorbell of `doorbells` for a cluster with `cores`.
    pub fn new(cores: Arc<HostedCores>, doorbells: Doorbells) -> HostedDoorbell {
        HostedDoorbell { cores, doorbells }
    }
}

impl Doorbell for HostedDoorbell {
    type Lock = parking_lot::RawMutex;

    fn ring(&self, word: &AtomicU32) {
        if self.doorbells == Doorbells::Futex {
            futex::wake(word, Scope::Shared, i32::MAX);
        }
    }

    fn sleep_on(&self, word: &AtomicU32, value: u32, limit: Duration) {
        let limit = match self.doorbells {
            Doorbells::Futex => limit,
            Doorbells::Polling => limit.min(POLL_INTERVAL),
        };
        futex::wait(word, value, Scope::Shared, limit);
    }

    fn wait_for_arrivals(
        &self,
        words: &[(&AtomicU32, u32)],
        idle: &dyn Fn() -> bool,
        limit: Duration,
    ) {
        let permit = self.cores.permit(self.cores.current());
        if permit.swap(0, Ordering::AcqRel) == 1 {
            return;
        }
        if idle() && permit.load(Ordering::SeqCst) == 0 {
            match self.doorbells {
                Doorbells::Futex => {
                    let mut all: Vec<(&AtomicU32, u32, Scope)> = words
                        .iter()
                        .map(|(word, value)| (*word, *value, Scope::Shared))
                        .collect();
                    all.push((permit, 0, Scope::Private));
                    futex::wait_any(&all, limit);
                }
                // Only this cluster's own cores wake the park word; poll the rest.
                Doorbells::Polling => futex::wait(permit, 0, Scope::Private, POLL_INTERVAL),
            }
        }
        permit.store(0, Ordering::Release);
    }

    fn yield_now(&self) {
        std::thread::yield_now();
    }

    fn discarded(&self, kind: &str, source: usize) {
        crate::hal_warn!(
            "{=str} NoC: discarded a slot from cluster {=usize} (forged node, stale epoch or bad length)",
            kind,
            source
        );
        let _ = (kind, source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{BoardHardware, attach};
    use crate::layout::{DATA_CHUNK_BYTES, DATA_DEPTH, slot, state};
    use nanvix_abi::{MessageHeader, NOC_PAYLOAD_MAX};
    use nanvix_board::Board;
    use nanvix_hal::{
        ClusterState, ControlNoc, DataNoc, NocError, ReceiveDecision, Source, SyncSignals,
    };

    fn tiny_board() -> Board {
        let file: nanvix_board::BoardFile =
            toml::from_str(include_str!("../../../boards/tiny.toml")).unwrap();
        Board::from_file("tiny", &file).unwrap()
    }

    /// The hardware plus the NoCs of clusters 1 (cc0, node 4) and 2 (cc1, node 5).
    fn two_clusters() -> (BoardHardware, HostedNoc, HostedNoc) {
        let board = tiny_board();
        let hardware = BoardHardware::create(&board).unwrap();
        let board = Arc::new(board);
        let attach = |index: usize| {
            let (_, memory) = attach(hardware.fd(), index).unwrap();
            hardware.set_state(index, ClusterState::On { epoch: 1 });
            let cores = HostedCores::boot(2).unwrap();
            HostedNoc::new(
                Arc::new(memory),
                &board,
                index,
                1,
                HostedDoorbell::new(cores, Doorbells::Futex),
            )
        };
        let (first, second) = (attach(1), attach(2));
        (hardware, first, second)
    }

    fn drain(noc: &HostedNoc) -> Vec<(MessageHeader, u32, u32, Vec<u8>)> {
        let mut received = Vec::new();
        noc.receive(&mut |arrival| {
            received.push((
                arrival.header,
                arrival.destination_node,
                arrival.destination_program,
                arrival.payload.to_vec(),
            ));
            ReceiveDecision::Take
        });
        received
    }

    const CC0: Source = Source {
        node: 4,
        program: 0,
        run: 1,
    };

    #[test]
    fn a_message_arrives_with_the_source_the_hardware_stamped() {
        let (_hardware, cc0, cc1) = two_clusters();
        cc0.try_send(
            Source {
                node: 4,
                program: 3,
                run: 7,
            },
            5,
            1,
            b"ping",
        )
        .unwrap();
        let received = drain(&cc1);
        let expected = MessageHeader {
            source_node: 4,
            source_program: 3,
            source_epoch: 1,
            source_run: 7,
            length: 4,
        };
        assert_eq!(received, vec![(expected, 5, 1, b"ping".to_vec())]);
        assert!(drain(&cc1).is_empty(), "delivered exactly once");
    }

    #[test]
    fn payloads_of_every_length_arrive_intact() {
        let (_hardware, cc0, cc1) = two_clusters();
        // Lengths around every 8-byte word boundary, with leftovers of old payloads in
        // the slots (the ring wraps several times).
        for length in 0..=NOC_PAYLOAD_MAX {
            let payload: Vec<u8> = (0..length).map(|byte| (byte * 7 + length) as u8).collect();
            cc0.try_send(CC0, 5, 0, &payload).unwrap();
            let received = drain(&cc1);
            assert_eq!(received.len(), 1, "length {length}");
            assert_eq!(received[0].3, payload, "length {length}");
            assert_eq!(received[0].0.length as usize, length);
        }
    }

    #[test]
    fn bad_sends_are_refused_and_send_nothing() {
        let (hardware, cc0, cc1) = two_clusters();
        assert_eq!(
            cc0.try_send(
                Source {
                    node: 0,
                    program: 0,
                    run: 1,
                },
                5,
                0,
                b"x"
            ),
            Err(NocError::NotLocalNode)
        );
        assert_eq!(cc0.try_send(CC0, 99, 0, b"x"), Err(NocError::NoSuchNode));
        assert_eq!(
            cc0.try_send(CC0, 5, 0, &[0; NOC_PAYLOAD_MAX + 1]),
            Err(NocError::TooLong)
        );
        hardware.set_state(2, ClusterState::Dead { epoch: 1 });
        assert_eq!(
            cc0.try_send(CC0, 5, 0, b"x"),
            Err(NocError::DestinationDead)
        );
        hardware.set_state(2, ClusterState::On { epoch: 1 });
        assert!(drain(&cc1).is_empty());
    }

    #[test]
    fn a_full_channel_refuses_until_the_receiver_takes_and_keep_leaves_messages_queued() {
        let (_hardware, cc0, cc1) = two_clusters();
        for round in 0..8u8 {
            cc0.try_send(CC0, 5, 0, &[round]).unwrap();
        }
        assert_eq!(cc0.try_send(CC0, 5, 0, b"overflow"), Err(NocError::Full));
        let mut seen = 0;
        cc1.receive(&mut |_| {
            seen += 1;
            ReceiveDecision::Keep
        });
        assert_eq!(seen, 1);
        assert_eq!(
            cc0.try_send(CC0, 5, 0, b"overflow"),
            Err(NocError::Full),
            "kept messages hold their slots"
        );
        let received = drain(&cc1);
        assert_eq!(
            received
                .iter()
                .map(|message| message.3[0])
                .collect::<Vec<_>>(),
            (0..8).collect::<Vec<_>>()
        );
        cc0.try_send(CC0, 5, 0, b"room again").unwrap();
    }

    #[test]
    fn an_answer_acknowledges_the_slots_its_sender_took() {
        let (_hardware, cc0, cc1) = two_clusters();
        let known =
            |noc: &HostedNoc, destination: usize| noc.known_tail(destination).unwrap_or_default();
        for round in 0..8u8 {
            cc0.try_send(CC0, 5, 0, &[round]).unwrap();
        }
        assert_eq!(drain(&cc1).len(), 8);
        assert_eq!(known(&cc0, 2), 0, "cc0 has not looked at cc1's tail");
        // cc1's answer carries its tail of cc0's ring: cc0 learns of the room from it.
        let cc1_source = Source {
            node: 5,
            program: 0,
            run: 1,
        };
        cc1.try_send(cc1_source, 4, 0, b"answer").unwrap();
        assert_eq!(drain(&cc0).len(), 1);
        assert_eq!(known(&cc0, 2), 8);
        // A wild acknowledgement (past what cc0 ever sent) changes nothing, nor does
        // one older than what cc0 knows.
        for wild in [1000, 3] {
            let layout = cc1.memory().layout();
            let head = cc1.memory().word(layout.head(2, 1));
            let position = head.load(Ordering::Relaxed);
            cc1.try_send(cc1_source, 4, 0, b"wild").unwrap();
            cc1.memory()
                .word(layout.slot(2, 1, position) + slot::ACKNOWLEDGED)
                .store(wild, Ordering::SeqCst);
            assert_eq!(drain(&cc0).len(), 1);
            assert_eq!(known(&cc0, 2), 8, "acknowledgement {wild} was taken");
        }
    }

    #[test]
    fn receives_take_the_rings_in_turn() {
        let (hardware, cc0, cc1) = two_clusters();
        let (_, memory) = attach(hardware.fd(), 0).unwrap();
        hardware.set_state(0, ClusterState::On { epoch: 1 });
        let io0 = HostedNoc::new(
            Arc::new(memory),
            &tiny_board(),
            0,
            1,
            HostedDoorbell::new(HostedCores::boot(1).unwrap(), Doorbells::Futex),
        );
        let io0_source = Source {
            node: 0,
            program: 0,
            run: 1,
        };
        for round in 0..3u8 {
            io0.try_send(io0_source, 5, 0, &[round]).unwrap();
            cc0.try_send(CC0, 5, 0, &[10 + round]).unwrap();
        }
        // Each receive takes what one ring holds; the next starts after that ring.
        let sources = |received: Vec<(MessageHeader, u32, u32, Vec<u8>)>| {
            received
                .iter()
                .map(|message| (message.0.source_node, message.3[0]))
                .collect::<Vec<_>>()
        };
        assert_eq!(sources(drain(&cc1)), [(0, 0), (0, 1), (0, 2)]);
        io0.try_send(io0_source, 5, 0, &[3]).unwrap();
        assert_eq!(sources(drain(&cc1)), [(4, 10), (4, 11), (4, 12)]);
        assert_eq!(sources(drain(&cc1)), [(0, 3)]);
        assert!(drain(&cc1).is_empty());
    }

    #[test]
    fn forged_and_stale_messages_are_discarded() {
        let (hardware, cc0, cc1) = two_clusters();
        // cc0 writes a slot of its own channel claiming io0's node, bypassing try_send.
        let layout = cc0.memory().layout();
        let offset = layout.slot(1, 2, 0);
        for (field, value) in [
            (slot::SOURCE_NODE, 0),
            (slot::SOURCE_EPOCH, 1),
            (slot::DESTINATION_EPOCH, 1),
            (slot::SEQUENCE, 1),
        ] {
            cc0.memory()
                .word(offset + field)
                .store(value, Ordering::SeqCst);
        }
        cc0.memory()
            .word(layout.head(1, 2))
            .store(1, Ordering::SeqCst);
        assert!(drain(&cc1).is_empty());
        assert_eq!(cc1.discarded.load(Ordering::Relaxed), 1);
        // A message from cc0's epoch 1 is not credited to its next incarnation.
        cc0.try_send(CC0, 5, 0, b"old").unwrap();
        hardware.set_state(1, ClusterState::On { epoch: 2 });
        assert!(drain(&cc1).is_empty());
        assert_eq!(cc1.discarded.load(Ordering::Relaxed), 2);
        assert_eq!(
            cc1.memory()
                .word(layout.cluster_state(1))
                .load(Ordering::Relaxed),
            state::ON
        );
    }

    /// The permissions column of /proc/self/maps for the mapping holding `address`.
    fn rights_of(address: usize) -> String {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let line = maps
            .lines()
            .find(|line| {
                let range = line.split(' ').next().unwrap();
                let (start, end) = range.split_once('-').unwrap();
                (usize::from_str_radix(start, 16).unwrap()..usize::from_str_radix(end, 16).unwrap())
                    .contains(&address)
            })
            .unwrap();
        line.split_whitespace().nth(1).unwrap().to_string()
    }

    #[test]
    fn a_cluster_cannot_write_another_clusters_region() {
        let (_hardware, cc0, _cc1) = two_clusters();
        let layout = cc0.memory().layout();
        // cc1's region (its channels and tails) is read-only in cc0's view: a stray
        // write would fault instead of forging. cc0's own region is writable.
        assert!(rights_of(cc0.memory().address(layout.region(2), 1) as usize).starts_with("r--"));
        assert!(rights_of(cc0.memory().address(layout.region(0), 1) as usize).starts_with("r--"));
        assert!(rights_of(cc0.memory().address(layout.registers(), 1) as usize).starts_with("r--"));
        assert!(rights_of(cc0.memory().address(layout.region(1), 1) as usize).starts_with("rw-"));
    }

    #[test]
    fn data_chunks_arrive_stamped_in_order_with_backpressure_and_keep() {
        let (hardware, cc0, cc1) = two_clusters();
        let chunk = vec![7u8; DATA_CHUNK_BYTES];
        assert_eq!(
            cc0.try_write(CC0, 5, 2, 0, 0, &vec![0u8; DATA_CHUNK_BYTES + 1]),
            Err(NocError::TooLong)
        );
        // A transfer of DATA_DEPTH whole chunks and a short last one.
        let whole = (DATA_DEPTH * DATA_CHUNK_BYTES) as u32;
        let total = whole + 4464;
        for position in 0..DATA_DEPTH {
            let offset = (position * DATA_CHUNK_BYTES) as u32;
            cc0.try_write(CC0, 5, 2, total, offset, &chunk).unwrap();
        }
        assert_eq!(
            cc0.try_write(CC0, 5, 2, total, whole, &chunk[..4464]),
            Err(NocError::Full)
        );
        let mut kept = 0;
        cc1.receive_chunks(&mut |_| {
            kept += 1;
            ReceiveDecision::Keep
        });
        assert_eq!(kept, 1, "a kept chunk stops its channel");
        let mut offsets = Vec::new();
        cc1.receive_chunks(&mut |arrival| {
            assert_eq!(
                (arrival.header.source_node, arrival.destination_program),
                (4, 2)
            );
            assert_eq!(
                (arrival.total, arrival.data.len()),
                (total, DATA_CHUNK_BYTES)
            );
            assert!(arrival.data.iter().all(|byte| *byte == 7));
            offsets.push(arrival.offset);
            ReceiveDecision::Take
        });
        let expected: Vec<u32> = (0..DATA_DEPTH)
            .map(|position| (position * DATA_CHUNK_BYTES) as u32)
            .collect();
        assert_eq!(offsets, expected);
        cc0.try_write(CC0, 5, 2, total, whole, &chunk[..4464])
            .unwrap();
        hardware.set_state(2, ClusterState::Dead { epoch: 1 });
        assert_eq!(
            cc0.try_write(CC0, 5, 2, 1, 0, b"x"),
            Err(NocError::DestinationDead)
        );
    }

    #[test]
    fn sync_signals_count_per_epoch_and_are_not_credited_to_the_next() {
        let (hardware, cc0, cc1) = two_clusters();
        assert_eq!(cc1.signals_from(1), 0);
        cc0.signal(5).unwrap();
        cc0.signal(5).unwrap();
        assert_eq!(cc1.signals_from(1), 2);
        assert_eq!(cc1.signals_from(0), 0);
        assert_eq!(cc1.signals_from(99), 0);
        assert_eq!(cc0.signal(99), Err(NocError::NoSuchNode));
        // cc0 reboots in epoch 2: its old signals no longer count.
        hardware.set_state(1, ClusterState::On { epoch: 2 });
        assert_eq!(cc1.signals_from(1), 0);
        hardware.set_state(2, ClusterState::Dead { epoch: 1 });
        assert_eq!(cc0.signal(5), Err(NocError::DestinationDead));
    }
}
