//! Page tables: a cluster's virtual window mapped onto its SRAM frames in two page
//! sizes, each mapping with the capability that says who holds it and what they
//! may do with it.
//!
//! This is the memory module's bookkeeping: it decides, the HAL's MMU (next) makes
//! it so. A mapping belongs to one program; its capability says whether that
//! program may unmap it or grant it to another, and with which access rights
//! (read, write, execute). A grant maps the same frames for another program with
//! at most the granter's rights. Every refusal is an error that changes nothing.

use alloc::vec::Vec;

/// The page sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSize {
    /// 4 KiB.
    Small,
    /// 64 KiB (the program alignment: a program's image can be one large page).
    Large,
}

impl PageSize {
    /// Bytes of a page of this size.
    pub const fn bytes(self) -> usize {
        match self {
            PageSize::Small => 4 << 10,
            PageSize::Large => 64 << 10,
        }
    }
}

/// Access rights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Rights {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
}

impl Rights {
    /// Read only.
    pub const READ: Rights = Rights {
        read: true,
        write: false,
        execute: false,
    };
    /// Read and write.
    pub const READ_WRITE: Rights = Rights {
        read: true,
        write: true,
        execute: false,
    };

    /// Whether every right of `self` is also in `other`.
    pub fn within(self, other: Rights) -> bool {
        (!self.read || other.read)
            && (!self.write || other.write)
            && (!self.execute || other.execute)
    }
}

/// How a mapping may be used and passed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability {
    /// The program (index) holding the mapping.
    pub owner: usize,
    /// Access rights through it.
    pub rights: Rights,
    /// Whether the holder may remove it.
    pub may_unmap: bool,
    /// Whether the holder may grant it to another program.
    pub may_grant: bool,
}

/// One mapping: a page of the window onto a frame of SRAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Its first virtual address.
    pub virtual_base: usize,
    /// The first byte of its frame, as an offset into SRAM.
    pub frame: usize,
    /// Its size.
    pub size: PageSize,
    /// Who holds it, with which rights.
    pub capability: Capability,
}

/// How an access touched memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Execute,
}

/// Why a page-table change or an access was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingError {
    /// An address is not aligned to the page size.
    Misaligned,
    /// The page is outside the window, or the frame outside SRAM.
    OutOfRange,
    /// The page overlaps a mapping.
    Overlaps,
    /// Nothing is mapped there (for an access: a page fault for the pager).
    NotMapped,
    /// The caller does not hold the mapping, or its capability forbids this.
    NotPermitted,
    /// The rights asked for exceed the granter's.
    RightsExceeded,
}

/// The page table of one cluster's window.
#[derive(Debug)]
pub struct PageTable {
    window_base: usize,
    window_bytes: usize,
    sram_bytes: usize,
    /// Mappings, sorted by first virtual address (a sorted vector: a cluster has
    /// at most a few hundred, and B-tree maps cost the bare-metal kernel 10 KB of
    /// code).
    mappings: Vec<Mapping>,
    /// `(frame, mappings of it)` of each frame in use, sorted by frame (a grant
    /// adds one): a frame goes back to SRAM only when its last mapping does.
    frame_users: Vec<(usize, usize)>,
}

impl PageTable {
    /// An empty table for the window `window_base..+window_bytes` over an SRAM of
    /// `sram_bytes`.
    pub fn new(window_base: usize, window_bytes: usize, sram_bytes: usize) -> Self {
        PageTable {
            window_base,
            window_bytes,
            sram_bytes,
            mappings: Vec::new(),
            frame_users: Vec::new(),
        }
    }

    /// The mapping that covers `address`, if any.
    pub fn covering(&self, address: usize) -> Option<&Mapping> {
        let after = self
            .mappings
            .partition_point(|mapping| mapping.virtual_base <= address);
        let mapping = self.mappings.get(after.checked_sub(1)?)?;
        (address - mapping.virtual_base < mapping.size.bytes()).then_some(mapping)
    }

    /// The index of the mapping at `virtual_base`.
    fn index(&self, virtual_base: usize) -> Result<usize, PagingError> {
        self.mappings
            .binary_search_by_key(&virtual_base, |mapping| mapping.virtual_base)
            .map_err(|_| PagingError::NotMapped)
    }

    /// Whether a page of `size` may go at `virtual_base`: aligned, inside the
    /// window, over no mapping (what `map` checks of the page, so a caller can ask
    /// before it takes a frame).
    pub fn check_place(&self, virtual_base: usize, size: PageSize) -> Result<(), PagingError> {
        let bytes = size.bytes();
        if !virtual_base.is_multiple_of(bytes) {
            return Err(PagingError::Misaligned);
        }
        let inside_window = virtual_base >= self.window_base
            && virtual_base
                .checked_add(bytes)
                .is_some_and(|end| end <= self.window_base + self.window_bytes);
        if !inside_window {
            return Err(PagingError::OutOfRange);
        }
        let first_at_or_after = self
            .mappings
            .partition_point(|mapping| mapping.virtual_base < virtual_base);
        let overlaps = self.covering(virtual_base).is_some()
            || self
                .mappings
                .get(first_at_or_after)
                .is_some_and(|mapping| mapping.virtual_base < virtual_base + bytes);
        if overlaps {
            return Err(PagingError::Overlaps);
        }
        Ok(())
    }

    /// Maps `size` bytes at `virtual_base` onto `frame` with `capability`.
    pub fn map(
        &mut self,
        virtual_base: usize,
        frame: usize,
        size: PageSize,
        capability: Capability,
    ) -> Result<(), PagingError> {
        let bytes = size.bytes();
        if !virtual_base.is_multiple_of(bytes) || !frame.is_multiple_of(bytes) {
            return Err(PagingError::Misaligned);
        }
        if frame
            .checked_add(bytes)
            .is_none_or(|end| end > self.sram_bytes)
        {
            return Err(PagingError::OutOfRange);
        }
        self.check_place(virtual_base, size)?;
        match self
            .frame_users
            .binary_search_by_key(&frame, |&(used, _)| used)
        {
            Ok(at) => self.frame_users[at].1 += 1,
            Err(at) => self.frame_users.insert(at, (frame, 1)),
        }
        let at = self
            .mappings
            .partition_point(|mapping| mapping.virtual_base < virtual_base);
        self.mappings.insert(
            at,
            Mapping {
                virtual_base,
                frame,
                size,
                capability,
            },
        );
        Ok(())
    }

    /// Removes the mapping at `virtual_base` for `program`, which must hold it
    /// with the right to unmap; returns it, and whether it was its frame's last
    /// (the frame is free again).
    pub fn unmap(
        &mut self,
        virtual_base: usize,
        program: usize,
    ) -> Result<(Mapping, bool), PagingError> {
        let at = self.index(virtual_base)?;
        let mapping = self.mappings[at];
        if mapping.capability.owner != program || !mapping.capability.may_unmap {
            return Err(PagingError::NotPermitted);
        }
        self.mappings.remove(at);
        Ok((mapping, self.drop_frame_user(mapping.frame)))
    }

    /// Removes every mapping `program` holds (it ended), whatever its capability
    /// says; returns each with whether it was its frame's last.
    pub fn remove_owner(&mut self, program: usize) -> Vec<(Mapping, bool)> {
        let held: Vec<Mapping> = self
            .mappings
            .extract_if(.., |mapping| mapping.capability.owner == program)
            .collect();
        held.into_iter()
            .map(|mapping| (mapping, self.drop_frame_user(mapping.frame)))
            .collect()
    }

    /// One mapping of `frame` fewer; true when it was the last.
    fn drop_frame_user(&mut self, frame: usize) -> bool {
        match self
            .frame_users
            .binary_search_by_key(&frame, |&(used, _)| used)
        {
            Ok(at) if self.frame_users[at].1 > 1 => {
                self.frame_users[at].1 -= 1;
                false
            }
            Ok(at) => {
                self.frame_users.remove(at);
                true
            }
            Err(_) => true,
        }
    }

    /// Sets the rights of `program`'s own mapping at `virtual_base` (one it made,
    /// not one granted to it: granted rights stay as granted); returns it as it
    /// was.
    pub fn protect(
        &mut self,
        virtual_base: usize,
        program: usize,
        rights: Rights,
    ) -> Result<Mapping, PagingError> {
        let at = self.index(virtual_base)?;
        let mapping = &mut self.mappings[at];
        if mapping.capability.owner != program || !mapping.capability.may_grant {
            return Err(PagingError::NotPermitted);
        }
        let before = *mapping;
        mapping.capability.rights = rights;
        Ok(before)
    }

    /// Maps the frames of `program`'s mapping at `virtual_base` for program `to`
    /// at `to_virtual`, with `rights` (at most the granter's); the new mapping may
    /// be unmapped by its holder but not granted on. Returns it.
    pub fn grant(
        &mut self,
        virtual_base: usize,
        program: usize,
        to: usize,
        to_virtual: usize,
        rights: Rights,
    ) -> Result<Mapping, PagingError> {
        let mapping = self.mappings[self.index(virtual_base)?];
        if mapping.capability.owner != program || !mapping.capability.may_grant {
            return Err(PagingError::NotPermitted);
        }
        if !rights.within(mapping.capability.rights) {
            return Err(PagingError::RightsExceeded);
        }
        let capability = Capability {
            owner: to,
            rights,
            may_unmap: true,
            may_grant: false,
        };
        self.map(to_virtual, mapping.frame, mapping.size, capability)?;
        Ok(Mapping {
            virtual_base: to_virtual,
            capability,
            ..mapping
        })
    }

    /// Whether `program` holds every byte of `[address, address + length)` (at
    /// least one) through mappings that allow `access`.
    pub fn holds(&self, address: usize, length: usize, access: Access, program: usize) -> bool {
        let Some(end) = address.checked_add(length) else {
            return false;
        };
        let mut next = address;
        while next < end {
            let Some(mapping) = self.covering(next) else {
                return false;
            };
            if self.translate(next, access, program).is_err() {
                return false;
            }
            next = mapping.virtual_base + mapping.size.bytes();
        }
        length > 0
    }

    /// Where `address` lands in SRAM for an `access` by `program`: the frame byte,
    /// or why not (`NotMapped`: a page fault the cluster's pager may resolve).
    pub fn translate(
        &self,
        address: usize,
        access: Access,
        program: usize,
    ) -> Result<usize, PagingError> {
        let mapping = self.covering(address).ok_or(PagingError::NotMapped)?;
        let rights = mapping.capability.rights;
        let allowed = match access {
            Access::Read => rights.read,
            Access::Write => rights.write,
            Access::Execute => rights.execute,
        };
        if mapping.capability.owner != program || !allowed {
            return Err(PagingError::NotPermitted);
        }
        Ok(mapping.frame + (address - mapping.virtual_base))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    const WINDOW: usize = 0x1000_0000;
    const SMALL: usize = 4 << 10;
    const LARGE: usize = 64 << 10;

    fn owned(owner: usize, rights: Rights) -> Capability {
        Capability {
            owner,
            rights,
            may_unmap: true,
            may_grant: true,
        }
    }

    fn table() -> PageTable {
        PageTable::new(WINDOW, 16 << 20, 2 << 20)
    }

    #[test]
    fn both_page_sizes_map_and_translate() {
        let mut table = table();
        table
            .map(WINDOW, 0, PageSize::Large, owned(1, Rights::READ_WRITE))
            .unwrap();
        table
            .map(
                WINDOW + LARGE,
                LARGE,
                PageSize::Small,
                owned(1, Rights::READ),
            )
            .unwrap();
        assert_eq!(
            table.translate(WINDOW + 0x1234, Access::Write, 1),
            Ok(0x1234)
        );
        assert_eq!(
            table.translate(WINDOW + LARGE + 8, Access::Read, 1),
            Ok(LARGE + 8)
        );
        assert_eq!(
            table.translate(WINDOW + LARGE + SMALL, Access::Read, 1),
            Err(PagingError::NotMapped),
            "just past the small page: a page fault"
        );
        assert_eq!(
            table.translate(WINDOW + LARGE, Access::Write, 1),
            Err(PagingError::NotPermitted),
            "a read-only page"
        );
        assert_eq!(
            table.translate(WINDOW, Access::Read, 2),
            Err(PagingError::NotPermitted),
            "another program's page"
        );
    }

    /// Program 1's two small pages at the window's start: frame 0 read-write, the
    /// next read-only.
    fn two_small_pages() -> PageTable {
        let mut table = table();
        table
            .map(WINDOW, 0, PageSize::Small, owned(1, Rights::READ_WRITE))
            .unwrap();
        table
            .map(
                WINDOW + SMALL,
                SMALL,
                PageSize::Small,
                owned(1, Rights::READ),
            )
            .unwrap();
        table
    }

    #[test]
    fn a_range_is_held_only_when_every_page_under_it_is() {
        let table = two_small_pages();
        assert!(table.holds(WINDOW + 8, 2 * SMALL - 8, Access::Read, 1));
        assert!(table.holds(WINDOW, SMALL, Access::Write, 1));
        assert!(
            !table.holds(WINDOW, SMALL + 1, Access::Write, 1),
            "the second page is read-only"
        );
        assert!(
            !table.holds(WINDOW, 2 * SMALL + 1, Access::Read, 1),
            "a hole"
        );
        assert!(!table.holds(WINDOW, 8, Access::Read, 2), "another program");
        assert!(!table.holds(WINDOW, 0, Access::Read, 1));
        assert!(!table.holds(usize::MAX - 2, 8, Access::Read, 1));
    }

    #[test]
    fn pages_mapped_in_any_order_translate_and_unmap_each_their_own() {
        let mut table = table();
        let capability = owned(1, Rights::READ);
        for page in [5, 1, 3, 0, 4, 2] {
            table
                .map(
                    WINDOW + page * SMALL,
                    page * SMALL,
                    PageSize::Small,
                    capability,
                )
                .unwrap();
        }
        for page in 0..6 {
            let address = WINDOW + page * SMALL + 8;
            assert_eq!(
                table.translate(address, Access::Read, 1),
                Ok(page * SMALL + 8)
            );
        }
        let third = *table.covering(WINDOW + 3 * SMALL).unwrap();
        assert_eq!(third.frame, 3 * SMALL);
        assert_eq!(table.unmap(WINDOW + 3 * SMALL, 1), Ok((third, true)));
        assert_eq!(
            table.translate(WINDOW + 3 * SMALL, Access::Read, 1),
            Err(PagingError::NotMapped)
        );
        assert_eq!(
            table.translate(WINDOW + 4 * SMALL, Access::Read, 1),
            Ok(4 * SMALL)
        );
        assert_eq!(
            table.unmap(WINDOW + 3 * SMALL, 1),
            Err(PagingError::NotMapped)
        );
    }

    #[test]
    fn bad_mappings_are_refused_and_change_nothing() {
        let mut table = table();
        let capability = owned(1, Rights::READ);
        table.map(WINDOW, 0, PageSize::Large, capability).unwrap();
        let refusals = [
            (WINDOW + SMALL, 0, PageSize::Small, PagingError::Overlaps),
            (WINDOW + 16, LARGE, PageSize::Small, PagingError::Misaligned),
            (WINDOW + LARGE, 16, PageSize::Small, PagingError::Misaligned),
            (
                WINDOW - LARGE,
                LARGE,
                PageSize::Large,
                PagingError::OutOfRange,
            ),
            (
                WINDOW + LARGE,
                2 << 20,
                PageSize::Small,
                PagingError::OutOfRange,
            ),
        ];
        for (virtual_base, frame, size, error) in refusals {
            assert_eq!(table.map(virtual_base, frame, size, capability), Err(error));
        }
        // A large page over an existing small one is refused too.
        table
            .map(WINDOW + 2 * LARGE + SMALL, 0, PageSize::Small, capability)
            .unwrap();
        assert_eq!(
            table.map(WINDOW + 2 * LARGE, LARGE, PageSize::Large, capability),
            Err(PagingError::Overlaps)
        );
        assert_eq!(table.mappings.len(), 2);
    }

    #[test]
    fn only_a_holder_with_the_right_unmaps_or_grants_and_never_more_than_it_has() {
        let mut table = table();
        table
            .map(WINDOW, 0, PageSize::Small, owned(1, Rights::READ_WRITE))
            .unwrap();
        let mut fixed = owned(1, Rights::READ);
        fixed.may_unmap = false;
        fixed.may_grant = false;
        table
            .map(WINDOW + SMALL, SMALL, PageSize::Small, fixed)
            .unwrap();
        assert_eq!(table.unmap(WINDOW, 2), Err(PagingError::NotPermitted));
        assert_eq!(
            table.unmap(WINDOW + SMALL, 1),
            Err(PagingError::NotPermitted)
        );
        assert_eq!(
            table.grant(WINDOW + SMALL, 1, 2, WINDOW + LARGE, Rights::READ),
            Err(PagingError::NotPermitted)
        );
        let everything = Rights {
            read: true,
            write: true,
            execute: true,
        };
        assert_eq!(
            table.grant(WINDOW, 1, 2, WINDOW + LARGE, everything),
            Err(PagingError::RightsExceeded)
        );
        let granted = table
            .grant(WINDOW, 1, 2, WINDOW + LARGE, Rights::READ)
            .unwrap();
        assert_eq!((granted.frame, granted.capability.owner), (0, 2));
        assert_eq!(table.translate(WINDOW + LARGE + 4, Access::Read, 2), Ok(4));
        assert_eq!(
            table.translate(WINDOW + LARGE, Access::Write, 2),
            Err(PagingError::NotPermitted)
        );
        assert_eq!(
            table.grant(WINDOW + LARGE, 2, 3, WINDOW + 2 * LARGE, Rights::READ),
            Err(PagingError::NotPermitted),
            "a granted mapping is not granted on"
        );
        assert_eq!(
            table
                .unmap(WINDOW, 1)
                .map(|(mapping, last)| (mapping.frame, last)),
            Ok((0, false)),
            "the grant still maps the frame"
        );
        assert_eq!(table.unmap(WINDOW, 1), Err(PagingError::NotMapped));
        assert_eq!(
            table
                .unmap(WINDOW + LARGE, 2)
                .map(|(mapping, last)| (mapping.frame, last)),
            Ok((0, true)),
            "the last mapping frees the frame"
        );
    }

    #[test]
    fn an_ended_program_loses_every_mapping_and_shared_frames_stay() {
        let mut table = two_small_pages();
        table
            .grant(WINDOW, 1, 2, WINDOW + LARGE, Rights::READ)
            .unwrap();
        let mut removed: std::vec::Vec<(usize, bool)> = table
            .remove_owner(1)
            .into_iter()
            .map(|(mapping, last)| (mapping.frame, last))
            .collect();
        removed.sort();
        assert_eq!(removed, [(0, false), (SMALL, true)]);
        assert_eq!(table.translate(WINDOW + LARGE, Access::Read, 2), Ok(0));
        assert_eq!(table.mappings.len(), 1);
    }

    #[test]
    fn an_owner_changes_its_own_pages_rights_and_not_a_granted_ones() {
        let mut table = PageTable::new(WINDOW, 1 << 20, 1 << 20);
        let read_only = Rights {
            read: true,
            write: false,
            execute: false,
        };
        let read_write = Rights {
            write: true,
            ..read_only
        };
        table
            .map(WINDOW, 0, PageSize::Small, owned(1, read_write))
            .unwrap();
        assert_eq!(table.translate(WINDOW, Access::Write, 1), Ok(0));
        let before = table.protect(WINDOW, 1, read_only).unwrap();
        assert_eq!(before.capability.rights, read_write);
        assert_eq!(table.covering(WINDOW).unwrap().capability.rights, read_only);
        assert_eq!(
            table.translate(WINDOW + 8, Access::Write, 1),
            Err(PagingError::NotPermitted)
        );
        assert_eq!(table.translate(WINDOW + 8, Access::Read, 1), Ok(8));
        table.protect(WINDOW, 1, read_write).unwrap();
        assert_eq!(table.translate(WINDOW, Access::Write, 1), Ok(0));
        // Not its page, nothing there, a granted page: refused, unchanged.
        assert_eq!(
            table.protect(WINDOW, 2, read_only),
            Err(PagingError::NotPermitted)
        );
        assert_eq!(
            table.protect(WINDOW + SMALL, 1, read_only),
            Err(PagingError::NotMapped)
        );
        table
            .grant(WINDOW, 1, 2, WINDOW + SMALL, read_only)
            .unwrap();
        assert_eq!(
            table.protect(WINDOW + SMALL, 2, read_write),
            Err(PagingError::NotPermitted)
        );
        assert_eq!(
            table.translate(WINDOW + SMALL, Access::Write, 2),
            Err(PagingError::NotPermitted)
        );
    }
}
