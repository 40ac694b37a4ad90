//! User-level pagers: a program's page faults on its MMU window, handed to the one
//! thread of the program that attached as its pager, which maps the page and
//! resumes the faulted thread (or lets the fault stand).
//!
//! The faulted thread waits in the fault hook, on its own context and without a
//! core, until the pager answers; the pager waits in `pager_wait` the same way.
//! Every wait re-checks its condition under the table's lock, so a wakeup is
//! never lost and a spurious one costs a look.

use super::Kernel;
use crate::paging::{Access, PagingError};
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use nanvix_abi::{
    Errno, PAGE_FAULT_EXECUTE, PAGE_FAULT_READ, PAGE_FAULT_WRITE, PROGRAMS_MAX, PageFault,
};
use nanvix_hal::{ClusterMemory, CoreId, Cores, Fault, FaultAccess, Platform};

/// What became of a fault the fault hook offered the pager.
pub(super) enum PagerAnswer {
    /// Run the access again: the page is there (or the pager says so).
    Retry,
    /// The fault stands (not the pager's, or refused): report it, end the thread.
    Stand,
    /// The program began to end while the thread waited: end it, unreported.
    Ending,
}

/// A page fault a thread waits on.
struct PendingFault {
    /// Its program's index.
    program: usize,
    /// What the pager sees of it.
    fault: PageFault,
    /// Its place in the order of arrival (the pager gets the oldest first).
    arrival: u64,
    /// Whether `pager_wait` handed it to the pager.
    delivered: bool,
    /// The pager's answer: retry (true) or let the fault stand (false).
    outcome: Option<bool>,
}

/// The cluster's pagers and the faults waiting for them.
pub(super) struct Pagers {
    /// The context of each program's pager thread, by program index.
    by_program: Vec<Option<CoreId>>,
    /// The fault the thread on each context waits on.
    faults: Vec<Option<PendingFault>>,
    /// The next fault's arrival number.
    arrivals: u64,
}

impl Pagers {
    /// No pagers, for a cluster of `contexts` contexts.
    pub(super) fn new(contexts: usize) -> Self {
        Pagers {
            by_program: (0..PROGRAMS_MAX).map(|_| None).collect(),
            faults: (0..contexts).map(|_| None).collect(),
            arrivals: 0,
        }
    }

    /// Whether the thread on `context` is program `index`'s pager.
    fn is_pager(&self, index: usize, context: CoreId) -> bool {
        self.by_program.get(index).copied().flatten() == Some(context)
    }
}

impl<P: Platform> Kernel<P> {
    /// From the fault hook: hands `fault` of the thread of program `index` on
    /// `context` to the program's pager and waits for the answer.
    pub(super) fn fault_to_pager(
        &self,
        index: usize,
        context: CoreId,
        fault: &Fault,
    ) -> PagerAnswer {
        let (access, checked) = match fault.access {
            FaultAccess::Read => (PAGE_FAULT_READ, Access::Read),
            FaultAccess::Write => (PAGE_FAULT_WRITE, Access::Write),
            FaultAccess::Execute => (PAGE_FAULT_EXECUTE, Access::Execute),
            FaultAccess::None => return PagerAnswer::Stand,
        };
        let (base, bytes) = self.platform.memory().window();
        if fault.address < base || fault.address - base >= bytes {
            return PagerAnswer::Stand;
        }
        {
            let pages = self.pages.lock();
            match pages.translate(fault.address, checked, index) {
                Err(PagingError::NotMapped) => {}
                // Mapped since (a pager was quicker than this fault): run it again.
                Ok(_) => return PagerAnswer::Retry,
                // A write to a page of its own the program made read-only
                // (`memory_protect`): its pager's to resolve (one that tells
                // written pages from clean ones makes it writable again).
                Err(PagingError::NotPermitted)
                    if access == PAGE_FAULT_WRITE
                        && pages.covering(fault.address).is_some_and(|mapping| {
                            mapping.capability.owner == index && mapping.capability.may_grant
                        }) => {}
                // A breach of the page's rights, which no pager resolves.
                Err(_) => return PagerAnswer::Stand,
            }
        }
        let pager = {
            let mut pagers = self.pagers.lock();
            let Some(pager) = pagers.by_program.get(index).copied().flatten() else {
                return PagerAnswer::Stand;
            };
            if pager == context {
                return PagerAnswer::Stand;
            }
            let arrival = pagers.arrivals;
            pagers.arrivals += 1;
            pagers.faults[context] = Some(PendingFault {
                program: index,
                arrival,
                fault: PageFault {
                    thread: self.contexts[context].thread_id.load(Ordering::Acquire),
                    address: fault.address,
                    access,
                },
                delivered: false,
                outcome: None,
            });
            pager
        };
        self.platform.cores().unpark(pager);
        let mut outcome = None;
        let waited = self.wait_without_core(context, || {
            outcome = self.pagers.lock().faults[context]
                .as_ref()
                .and_then(|pending| pending.outcome);
            outcome.is_some()
        });
        self.pagers.lock().faults[context] = None;
        match (waited, outcome) {
            (Err(_), _) => PagerAnswer::Ending,
            (Ok(()), Some(true)) => PagerAnswer::Retry,
            (Ok(()), _) => PagerAnswer::Stand,
        }
    }

    /// `pager_attach`.
    pub(super) fn pager_attach(&self, index: usize, context: CoreId) -> Result<usize, Errno> {
        let mut pagers = self.pagers.lock();
        let slot = pagers.by_program.get_mut(index).ok_or(Errno::Invalid)?;
        match *slot {
            Some(pager) if pager != context => Err(Errno::Busy),
            _ => {
                *slot = Some(context);
                Ok(0)
            }
        }
    }

    /// `pager_wait`.
    pub(super) fn pager_wait(
        &self,
        index: usize,
        context: CoreId,
        out: usize,
        size: usize,
    ) -> Result<usize, Errno> {
        if size != core::mem::size_of::<PageFault>() {
            return Err(Errno::Invalid);
        }
        let space = self.space(index);
        space.check(out, size, Access::Write)?;
        if !self.pagers.lock().is_pager(index, context) {
            return Err(Errno::Permission);
        }
        let mut taken = None;
        let waited = self.wait_without_core(context, || {
            let mut pagers = self.pagers.lock();
            let waiting = pagers
                .faults
                .iter_mut()
                .flatten()
                .filter(|pending| {
                    pending.program == index && !pending.delivered && pending.outcome.is_none()
                })
                .min_by_key(|pending| pending.arrival);
            if let Some(pending) = waiting {
                pending.delivered = true;
                taken = Some(pending.fault);
            }
            taken.is_some()
        });
        waited?;
        let fault = taken.unwrap_or_default();
        space.write_value(out, &fault)?;
        Ok(0)
    }

    /// `pager_resume`.
    pub(super) fn pager_resume(
        &self,
        index: usize,
        context: CoreId,
        thread: usize,
        retry: usize,
    ) -> Result<usize, Errno> {
        if retry > 1 {
            return Err(Errno::Invalid);
        }
        let faulted = {
            let mut pagers = self.pagers.lock();
            if !pagers.is_pager(index, context) {
                return Err(Errno::Permission);
            }
            let faulted = pagers.faults.iter().position(|pending| {
                pending.as_ref().is_some_and(|pending| {
                    pending.program == index
                        && pending.fault.thread == thread
                        && pending.delivered
                        && pending.outcome.is_none()
                })
            });
            let faulted = faulted.ok_or(Errno::NoSuchThread)?;
            if let Some(pending) = pagers.faults[faulted].as_mut() {
                pending.outcome = Some(retry == 1);
            }
            faulted
        };
        self.platform.cores().unpark(faulted);
        Ok(0)
    }

    /// The thread on `context` ended: if it was a pager, its program has none from
    /// now on, and the faults waiting for it stand (their threads end, reported).
    pub(super) fn pager_ended(&self, context: CoreId) {
        let mut stood = Vec::new();
        {
            let mut pagers = self.pagers.lock();
            let Some(index) = pagers
                .by_program
                .iter()
                .position(|pager| *pager == Some(context))
            else {
                return;
            };
            pagers.by_program[index] = None;
            for (waiting, pending) in pagers.faults.iter_mut().enumerate() {
                if let Some(pending) = pending
                    && pending.program == index
                    && pending.outcome.is_none()
                {
                    pending.outcome = Some(false);
                    stood.push(waiting);
                }
            }
        }
        for waiting in stood {
            self.platform.cores().unpark(waiting);
        }
    }
}
