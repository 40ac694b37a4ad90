//! The sync module: semaphores, mutexes and condition variables for the threads of a
//! program.
//!
//! The table here only decides; it never waits. An operation that must wait puts
//! the caller's context in the object's queue and says so; the kernel then parks the
//! thread without its core (the local wait). An operation that frees a waiter says
//! which context to wake: semaphores and mutexes are handed over directly (the woken
//! thread owns the unit or the mutex when it wakes, so nobody can barge in), and
//! every queue is first come, first served.

use alloc::vec::Vec;
use nanvix_abi::Errno;
use nanvix_hal::CoreId;

/// Bits of an id that hold the slot; the slot's generation is above them.
const SLOT_BITS: u32 = 12;

/// Sync objects a cluster holds at once.
pub const SYNCS_MAX: usize = 1 << 10;

/// The largest value a semaphore counts to.
pub const SEMAPHORE_MAX: u32 = i32::MAX as u32;

/// One sync object.
#[derive(Debug)]
pub enum Object {
    /// A counting semaphore.
    Semaphore {
        /// Units available.
        count: u32,
        /// Contexts waiting for a unit.
        waiters: Vec<CoreId>,
    },
    /// A mutex.
    Mutex {
        /// The context holding it.
        holder: Option<CoreId>,
        /// Contexts waiting for it.
        waiters: Vec<CoreId>,
    },
    /// A condition variable.
    Condition {
        /// Contexts waiting for a signal.
        waiters: Vec<CoreId>,
    },
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    /// The program (index) that created the object.
    owner: usize,
    object: Option<Object>,
}

/// Every sync object of a cluster.
#[derive(Debug, Default)]
pub struct SyncTable {
    slots: Vec<Slot>,
}

/// What a wait-capable operation decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done: the caller goes on.
    Done,
    /// The caller is queued and must wait until it is handed what it asked for.
    Wait,
}

impl SyncTable {
    /// An empty table.
    pub fn new() -> Self {
        SyncTable::default()
    }

    /// Adds `object` for program `owner`; returns its id.
    pub fn create(&mut self, owner: usize, object: Object) -> Result<usize, Errno> {
        let index = match self.slots.iter().position(|slot| slot.object.is_none()) {
            Some(index) => index,
            None if self.slots.len() < SYNCS_MAX => {
                self.slots.push(Slot::default());
                self.slots.len() - 1
            }
            None => return Err(Errno::Again),
        };
        let slot = &mut self.slots[index];
        slot.owner = owner;
        slot.object = Some(object);
        Ok(((slot.generation as usize) << SLOT_BITS) | index)
    }

    /// The object `id` of program `owner`.
    fn object(&mut self, id: usize, owner: usize) -> Result<&mut Object, Errno> {
        let index = id & ((1 << SLOT_BITS) - 1);
        let generation = id >> SLOT_BITS;
        match self.slots.get_mut(index) {
            Some(slot)
                if slot.generation as usize == generation
                    && slot.owner == owner
                    && slot.object.is_some() =>
            {
                slot.object.as_mut().ok_or(Errno::Invalid)
            }
            _ => Err(Errno::Invalid),
        }
    }

    /// Takes a unit of semaphore `id`, or queues `context` for one.
    pub fn down(&mut self, id: usize, owner: usize, context: CoreId) -> Result<Outcome, Errno> {
        match self.object(id, owner)? {
            Object::Semaphore { count, waiters } => {
                if *count > 0 {
                    *count -= 1;
                    Ok(Outcome::Done)
                } else {
                    waiters.push(context);
                    Ok(Outcome::Wait)
                }
            }
            _ => Err(Errno::Invalid),
        }
    }

    /// Gives a unit of semaphore `id` to its first waiter (returned, to wake) or
    /// back to the count.
    pub fn up(&mut self, id: usize, owner: usize) -> Result<Option<CoreId>, Errno> {
        match self.object(id, owner)? {
            Object::Semaphore { count, waiters } => match take_first(waiters) {
                Some(waiter) => Ok(Some(waiter)),
                None if *count < SEMAPHORE_MAX => {
                    *count += 1;
                    Ok(None)
                }
                None => Err(Errno::Busy),
            },
            _ => Err(Errno::Invalid),
        }
    }

    /// Takes mutex `id` for `context`, or queues it.
    pub fn lock(&mut self, id: usize, owner: usize, context: CoreId) -> Result<Outcome, Errno> {
        match self.object(id, owner)? {
            Object::Mutex { holder, waiters } => match holder {
                None => {
                    *holder = Some(context);
                    Ok(Outcome::Done)
                }
                Some(held) if *held == context => Err(Errno::Deadlock),
                Some(_) => {
                    waiters.push(context);
                    Ok(Outcome::Wait)
                }
            },
            _ => Err(Errno::Invalid),
        }
    }

    /// Releases mutex `id`, held by `context`, handing it to its first waiter
    /// (returned, to wake).
    pub fn unlock(
        &mut self,
        id: usize,
        owner: usize,
        context: CoreId,
    ) -> Result<Option<CoreId>, Errno> {
        match self.object(id, owner)? {
            Object::Mutex { holder, waiters } => {
                if *holder != Some(context) {
                    return Err(Errno::Permission);
                }
                *holder = take_first(waiters);
                Ok(*holder)
            }
            _ => Err(Errno::Invalid),
        }
    }

    /// Queues `context` on condition `condition` and releases mutex `mutex` (which
    /// it must hold); returns the context the mutex went to, to wake. The caller then
    /// waits for a signal, then for the mutex.
    pub fn wait(
        &mut self,
        condition: usize,
        mutex: usize,
        owner: usize,
        context: CoreId,
    ) -> Result<Option<CoreId>, Errno> {
        match self.object(mutex, owner)? {
            Object::Mutex { holder, .. } if *holder == Some(context) => {}
            Object::Mutex { .. } => return Err(Errno::Permission),
            _ => return Err(Errno::Invalid),
        }
        match self.object(condition, owner)? {
            Object::Condition { waiters } => waiters.push(context),
            _ => return Err(Errno::Invalid),
        }
        self.unlock(mutex, owner, context)
    }

    /// Wakes the first waiter of condition `id` (returned), if any.
    pub fn signal(&mut self, id: usize, owner: usize) -> Result<Option<CoreId>, Errno> {
        match self.object(id, owner)? {
            Object::Condition { waiters } => Ok(take_first(waiters)),
            _ => Err(Errno::Invalid),
        }
    }

    /// Wakes every waiter of condition `id` (returned, in order).
    pub fn broadcast(&mut self, id: usize, owner: usize) -> Result<Vec<CoreId>, Errno> {
        match self.object(id, owner)? {
            Object::Condition { waiters } => Ok(core::mem::take(waiters)),
            _ => Err(Errno::Invalid),
        }
    }

    /// Removes every object of program `owner` (it ended); their ids are dead from
    /// then on. Returns how many there were.
    pub fn remove_owner(&mut self, owner: usize) -> usize {
        let mut removed = 0;
        for slot in &mut self.slots {
            if slot.owner == owner && slot.object.take().is_some() {
                slot.generation = slot.generation.wrapping_add(1);
                removed += 1;
            }
        }
        removed
    }

    /// Removes object `id`; refused while a thread waits on it or holds it.
    pub fn destroy(&mut self, id: usize, owner: usize) -> Result<(), Errno> {
        let busy = match self.object(id, owner)? {
            Object::Semaphore { waiters, .. } | Object::Condition { waiters } => {
                !waiters.is_empty()
            }
            Object::Mutex { holder, waiters } => holder.is_some() || !waiters.is_empty(),
        };
        if busy {
            return Err(Errno::Busy);
        }
        let slot = &mut self.slots[id & ((1 << SLOT_BITS) - 1)];
        slot.object = None;
        // Ids stay far below isize::MAX: a u32 generation above 12 bits of slot.
        slot.generation = slot.generation.wrapping_add(1);
        Ok(())
    }
}

/// The first of `queue`, taken out: the waiting queues are short (a cluster's
/// contexts), and a vector's removal keeps `VecDeque`'s code out of the kernel.
pub(crate) fn take_first(queue: &mut Vec<CoreId>) -> Option<CoreId> {
    (!queue.is_empty()).then(|| queue.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn semaphore(count: u32) -> Object {
        Object::Semaphore {
            count,
            waiters: Vec::new(),
        }
    }

    fn mutex() -> Object {
        Object::Mutex {
            holder: None,
            waiters: Vec::new(),
        }
    }

    #[test]
    fn semaphores_count_queue_and_hand_over_in_order() {
        let mut table = SyncTable::new();
        let id = table.create(0, semaphore(1)).unwrap();
        assert_eq!(table.down(id, 0, 1), Ok(Outcome::Done));
        assert_eq!(table.down(id, 0, 2), Ok(Outcome::Wait));
        assert_eq!(table.down(id, 0, 3), Ok(Outcome::Wait));
        assert_eq!(
            table.up(id, 0),
            Ok(Some(2)),
            "the first waiter gets the unit"
        );
        assert_eq!(table.up(id, 0), Ok(Some(3)));
        assert_eq!(table.up(id, 0), Ok(None), "nobody waits: the count goes up");
        assert_eq!(table.down(id, 0, 4), Ok(Outcome::Done));
    }

    #[test]
    fn mutexes_refuse_relocking_and_foreign_unlocks_and_hand_over() {
        let mut table = SyncTable::new();
        let id = table.create(0, mutex()).unwrap();
        assert_eq!(table.lock(id, 0, 1), Ok(Outcome::Done));
        assert_eq!(table.lock(id, 0, 1), Err(Errno::Deadlock));
        assert_eq!(table.unlock(id, 0, 2), Err(Errno::Permission));
        assert_eq!(table.lock(id, 0, 2), Ok(Outcome::Wait));
        assert_eq!(table.unlock(id, 0, 1), Ok(Some(2)), "handed to the waiter");
        assert_eq!(
            table.unlock(id, 0, 1),
            Err(Errno::Permission),
            "1 no longer holds it"
        );
        assert_eq!(table.destroy(id, 0), Err(Errno::Busy), "held");
        assert_eq!(table.unlock(id, 0, 2), Ok(None));
        assert_eq!(table.destroy(id, 0), Ok(()));
    }

    #[test]
    fn condition_waits_release_the_mutex_and_signals_go_in_order() {
        let mut table = SyncTable::new();
        let lock = table.create(0, mutex()).unwrap();
        let condition = table
            .create(
                0,
                Object::Condition {
                    waiters: Vec::new(),
                },
            )
            .unwrap();
        assert_eq!(
            table.wait(condition, lock, 0, 1),
            Err(Errno::Permission),
            "mutex not held"
        );
        assert_eq!(table.lock(lock, 0, 1), Ok(Outcome::Done));
        assert_eq!(table.lock(lock, 0, 2), Ok(Outcome::Wait));
        assert_eq!(
            table.wait(condition, lock, 0, 1),
            Ok(Some(2)),
            "the mutex goes on"
        );
        assert_eq!(table.unlock(lock, 0, 2), Ok(None));
        assert_eq!(table.lock(lock, 0, 3), Ok(Outcome::Done));
        assert_eq!(table.wait(condition, lock, 0, 3), Ok(None));
        assert_eq!(table.destroy(condition, 0), Err(Errno::Busy));
        assert_eq!(table.signal(condition, 0), Ok(Some(1)));
        assert_eq!(table.broadcast(condition, 0), Ok(alloc::vec![3]));
        assert_eq!(table.signal(condition, 0), Ok(None));
    }

    #[test]
    fn ids_are_per_program_typed_and_not_reused_while_stale() {
        let mut table = SyncTable::new();
        let id = table.create(0, semaphore(0)).unwrap();
        assert_eq!(
            table.down(id, 1, 1),
            Err(Errno::Invalid),
            "another program's object"
        );
        assert_eq!(table.lock(id, 0, 1), Err(Errno::Invalid), "not a mutex");
        assert_eq!(
            table.down(id + 1, 0, 1),
            Err(Errno::Invalid),
            "no such slot"
        );
        assert_eq!(table.destroy(id, 0), Ok(()));
        assert_eq!(table.up(id, 0), Err(Errno::Invalid), "destroyed");
        let again = table.create(0, semaphore(0)).unwrap();
        assert_ne!(again, id, "the slot is reused under a new generation");
        assert_eq!(
            table.up(id, 0),
            Err(Errno::Invalid),
            "the stale id stays dead"
        );
        assert_eq!(table.up(again, 0), Ok(None));
    }

    #[test]
    fn an_ended_programs_objects_go_and_their_ids_die() {
        let mut table = SyncTable::new();
        let mine = table.create(0, semaphore(1)).unwrap();
        let theirs = table.create(1, semaphore(1)).unwrap();
        assert_eq!(table.remove_owner(0), 1);
        assert_eq!(table.down(mine, 0, 1), Err(Errno::Invalid));
        assert_eq!(table.down(theirs, 1, 1), Ok(Outcome::Done));
    }

    #[test]
    fn the_table_is_bounded_and_a_semaphore_does_not_overflow() {
        let mut table = SyncTable::new();
        for _ in 0..SYNCS_MAX {
            table.create(0, semaphore(0)).unwrap();
        }
        assert_eq!(table.create(0, semaphore(0)), Err(Errno::Again));
        let mut table = SyncTable::new();
        let id = table.create(0, semaphore(SEMAPHORE_MAX)).unwrap();
        assert_eq!(table.up(id, 0), Err(Errno::Busy));
    }
}
