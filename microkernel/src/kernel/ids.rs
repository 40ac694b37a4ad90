//! Tables of communication objects by id: the lowest free id first, a bound per owner.

use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};
use nanvix_abi::Errno;

/// What a table entry says about its owner (a program's index).
pub(super) trait Owned {
    fn owner(&self) -> usize;
}

/// Entries by id; an id is free again once its entry is removed.
pub(super) struct IdTable<E> {
    entries: Vec<Option<E>>,
}

impl<E> Default for IdTable<E> {
    fn default() -> Self {
        IdTable {
            entries: Vec::new(),
        }
    }
}

impl<E: Owned> IdTable<E> {
    /// Stores `entry` under the lowest free id, unless its owner holds `most`
    /// entries already (`EAGAIN`).
    pub fn insert(&mut self, entry: E, most: usize) -> Result<usize, Errno> {
        let owner = entry.owner();
        let held = self
            .entries
            .iter()
            .flatten()
            .filter(|entry| entry.owner() == owner)
            .count();
        if held >= most {
            return Err(Errno::Again);
        }
        match self.entries.iter().position(Option::is_none) {
            Some(id) => {
                self.entries[id] = Some(entry);
                Ok(id)
            }
            None => {
                self.entries.push(Some(entry));
                Ok(self.entries.len() - 1)
            }
        }
    }

    /// Entry `id` when `owner` holds it; `EBADF` when the id is free, out of range
    /// or another program's.
    pub fn owned(&self, owner: usize, id: usize) -> Result<&E, Errno> {
        match self.entries.get(id) {
            Some(Some(entry)) if entry.owner() == owner => Ok(entry),
            _ => Err(Errno::BadDescriptor),
        }
    }

    /// Entry `id`, mutably, when `owner` holds it; `EBADF` otherwise.
    pub fn owned_mut(&mut self, owner: usize, id: usize) -> Result<&mut E, Errno> {
        match self.entries.get_mut(id) {
            Some(Some(entry)) if entry.owner() == owner => Ok(entry),
            _ => Err(Errno::BadDescriptor),
        }
    }

    /// Removes every entry of `owner` and returns them.
    pub fn remove_owner(&mut self, owner: usize) -> Vec<E> {
        self.entries
            .iter_mut()
            .filter(|entry| entry.as_ref().is_some_and(|entry| entry.owner() == owner))
            .filter_map(Option::take)
            .collect()
    }
}

impl<E> Deref for IdTable<E> {
    type Target = Vec<Option<E>>;

    fn deref(&self) -> &Self::Target {
        &self.entries
    }
}

impl<E> DerefMut for IdTable<E> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing(usize);

    impl Owned for Thing {
        fn owner(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn ids_are_reused_lowest_first_and_bounded_per_owner() {
        let mut table = IdTable::default();
        assert_eq!(table.insert(Thing(0), 2), Ok(0));
        assert_eq!(table.insert(Thing(0), 2), Ok(1));
        assert_eq!(table.insert(Thing(0), 2), Err(Errno::Again));
        assert_eq!(table.insert(Thing(1), 2), Ok(2));
        table[0] = None;
        assert_eq!(table.insert(Thing(1), 2), Ok(0));
        assert_eq!(table.remove_owner(1).len(), 2);
        assert_eq!(table.insert(Thing(0), 2), Ok(0), "owner 0 held one");
        assert_eq!(table.insert(Thing(0), 2), Err(Errno::Again));
        assert_eq!(table.insert(Thing(3), 2), Ok(2));
    }

    #[test]
    fn only_the_owner_reaches_an_entry() {
        let mut table = IdTable::default();
        assert_eq!(table.insert(Thing(4), 2), Ok(0));
        assert_eq!(table.owned(4, 0).map(|thing| thing.0), Ok(4));
        assert!(table.owned_mut(4, 0).is_ok());
        assert_eq!(table.owned(5, 0).err(), Some(Errno::BadDescriptor));
        assert_eq!(table.owned_mut(5, 0).err(), Some(Errno::BadDescriptor));
        assert_eq!(table.owned(4, 1).err(), Some(Errno::BadDescriptor));
        assert_eq!(table.owned(4, usize::MAX).err(), Some(Errno::BadDescriptor));
        table[0] = None;
        assert_eq!(table.owned(4, 0).err(), Some(Errno::BadDescriptor));
    }
}
