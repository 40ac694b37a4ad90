//! The processes, and how the board's cluster states move them.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use libnanvix::abi::{
    CLUSTER_DEAD, CLUSTER_OFF, CLUSTER_ON, ENDED_DIED, ENDED_FAULT, ENDED_KILLED,
};
use libnanvix::signal::{self, SIGINT, SIGKILL, SIGTERM};
use nanvix_process_api::{ProcessEntry, ProcessError, SignalAction, Termination, is_system_run};
use nanvix_rpc::transport::ReplyTo;

/// Entries one `List` reply carries at most (each at most 21 bytes encoded).
pub const LIST_PAGE: usize = 5;

/// The user who may do anything: programs the manifest starts run as root.
pub const ROOT: u32 = 0;

/// One compute cluster as the board's registers show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterView {
    /// Its index on the board.
    pub index: usize,
    /// `CLUSTER_OFF`, `CLUSTER_ON` or `CLUSTER_DEAD`.
    pub state: u32,
    /// Its current, dead or last incarnation's epoch (0: never booted).
    pub epoch: u32,
    /// The status its last incarnation ended with.
    pub status: i32,
    /// How it ended (`ENDED_*`).
    pub ending: u32,
    /// With `ENDED_FAULT`, the `FaultKind` code.
    pub fault: u32,
    /// How many programs it started in this epoch (a warm cluster runs several).
    pub run: u32,
    /// It is on and idle: warm, its last program ended, waiting for another.
    pub idle: bool,
    /// The epoch the manifest booted it with its program in (0: never): run 1 of
    /// that epoch is a program of the system, root's.
    pub system_epoch: u32,
}

impl ClusterView {
    /// How the process that ended with this incarnation ended.
    pub fn termination(&self) -> Termination {
        let signal = self.status.saturating_sub(128).max(0) as u32;
        match self.ending {
            ENDED_KILLED => Termination::Signaled(signal),
            ENDED_FAULT => Termination::Faulted {
                fault: self.fault,
                status: self.status,
            },
            ENDED_DIED => Termination::ClusterDied { signal },
            // A dead cluster the board did not say more of died as well.
            _ if self.state == CLUSTER_DEAD => Termination::ClusterDied { signal },
            _ => Termination::Exited(self.status),
        }
    }
}

/// What sending a signal to a process comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Power its cluster off, killed by the signal.
    PowerOff { cluster: usize, signal: u32 },
    /// Send a notice of the signal to (node, port): it catches it.
    Notify { node: u32, port: u32, signal: u32 },
    /// Nothing: it ignores the signal.
    Ignored,
}

/// One process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Process {
    cluster: usize,
    /// The boot epoch its cluster runs it in.
    epoch: u32,
    /// Which of the epoch's programs it is.
    run: u32,
    parent_node: u32,
    /// The user it runs as.
    user: u32,
    running: bool,
    /// How it ended, once it did.
    ended: Option<Termination>,
    /// The call waiting for its end.
    waiter: Option<ReplyTo>,
    /// How it takes SIGINT and SIGTERM.
    actions: [SignalAction; 2],
    /// Its node, once it told the server how it takes a signal.
    node: Option<u32>,
    /// The signal the server powered its cluster off with, to kill it.
    killed: Option<u32>,
}

/// The place of a catchable signal in [`Process::actions`].
fn action_slot(signal: u32) -> Option<usize> {
    match signal {
        SIGINT => Some(0),
        SIGTERM => Some(1),
        _ => None,
    }
}

/// The processes, by pid.
#[derive(Debug)]
pub struct Table {
    processes: BTreeMap<u32, Process>,
    next_pid: u32,
    /// The most compute clusters each user's processes may hold at once (root and
    /// users not named: no bound).
    quotas: BTreeMap<u32, usize>,
}

impl Default for Table {
    fn default() -> Table {
        Table {
            processes: BTreeMap::new(),
            next_pid: 1,
            quotas: BTreeMap::new(),
        }
    }
}

/// Reads quotas of compute clusters, `USER:CLUSTERS` comma-separated (the process
/// server's `quotas=` argument); what is wrong with them otherwise.
pub fn parse_quotas(text: &str) -> Result<BTreeMap<u32, usize>, String> {
    let mut quotas = BTreeMap::new();
    for entry in text.split(',').filter(|entry| !entry.is_empty()) {
        let parsed = entry
            .split_once(':')
            .and_then(|(user, clusters)| Some((user.parse().ok()?, clusters.parse().ok()?)));
        match parsed {
            Some((ROOT, _)) => return Err(alloc::format!("`{entry}`: root has no quota")),
            Some((user, clusters)) => {
                if quotas.insert(user, clusters).is_some() {
                    return Err(alloc::format!("`{entry}`: user {user} named twice"));
                }
            }
            None => return Err(alloc::format!("`{entry}`: expected USER:CLUSTERS")),
        }
    }
    Ok(quotas)
}

impl Table {
    /// No processes yet.
    pub fn new() -> Table {
        Table::default()
    }

    /// Bounds the compute clusters each user's processes hold at once.
    pub fn set_quotas(&mut self, quotas: BTreeMap<u32, usize>) {
        self.quotas = quotas;
    }

    /// Whether `user`'s processes that have not ended hold as many clusters as its
    /// quota allows.
    pub fn over_quota(&self, user: u32) -> bool {
        let Some(quota) = self.quotas.get(&user) else {
            return false;
        };
        let held = self
            .processes
            .values()
            .filter(|process| process.user == user && process.ended.is_none())
            .count();
        held >= *quota
    }

    /// The clusters of `views` a new process may take, warm ones first: idle (on,
    /// its last program ended), off or dead, and held by no process that has not
    /// ended.
    pub fn free<'a>(&'a self, views: &'a [ClusterView]) -> impl Iterator<Item = &'a ClusterView> {
        let takes = |view: &ClusterView| {
            (view.state != CLUSTER_ON || view.idle)
                && !self
                    .processes
                    .values()
                    .any(|process| process.cluster == view.index && process.ended.is_none())
        };
        let warm = views.iter().filter(move |view| view.idle && takes(view));
        let cold = views.iter().filter(move |view| !view.idle && takes(view));
        warm.chain(cold)
    }

    /// Records a process spawned by `parent_node` on the cluster `view` shows,
    /// running as `user`; its pid. On an idle warm cluster it runs as the epoch's
    /// next program; on one just powered on, in the next epoch, as its first.
    pub fn add(&mut self, view: &ClusterView, parent_node: u32, user: u32) -> u32 {
        let pid = self.next_pid;
        self.next_pid = self.next_pid.wrapping_add(1).max(1);
        let (epoch, run) = if view.state == CLUSTER_ON && view.idle {
            (view.epoch, view.run.wrapping_add(1))
        } else {
            (view.epoch.wrapping_add(1), 1)
        };
        self.processes.insert(
            pid,
            Process {
                cluster: view.index,
                epoch,
                run,
                parent_node,
                user,
                running: false,
                ended: None,
                waiter: None,
                actions: [SignalAction::Default; 2],
                node: None,
                killed: None,
            },
        );
        pid
    }

    /// Moves the processes on by the board's states: a cluster on in a process'
    /// epoch and run runs it; idle, off or dead then, it ended as the cluster's
    /// registers say.
    /// Returns the waiters to answer, with the pid and how it ended (those processes
    /// are forgotten).
    pub fn update(&mut self, views: &[ClusterView]) -> Vec<(ReplyTo, u32, Termination)> {
        let mut answers = Vec::new();
        for (pid, process) in self.processes.iter_mut() {
            if process.ended.is_some() {
                continue;
            }
            let Some(view) = views.iter().find(|view| view.index == process.cluster) else {
                continue;
            };
            // A warm cluster that died (or was powered off) before the board started
            // the process' run ends it too: that run will never come.
            let gone_before_its_run =
                view.epoch == process.epoch && view.run < process.run && view.state != CLUSTER_ON;
            if (view.epoch, view.run) != (process.epoch, process.run) && !gone_before_its_run {
                continue;
            }
            match view.state {
                CLUSTER_ON if !view.idle => process.running = true,
                CLUSTER_ON | CLUSTER_OFF | CLUSTER_DEAD => {
                    // Killed before its run started: the registers still tell how
                    // the cluster's last run ended, not this one.
                    let termination = match process.killed {
                        Some(signal) if gone_before_its_run && view.state == CLUSTER_OFF => {
                            Termination::Signaled(signal)
                        }
                        _ => view.termination(),
                    };
                    process.ended = Some(termination);
                    if let Some(waiter) = process.waiter.take() {
                        answers.push((waiter, *pid, termination));
                    }
                }
                _ => {}
            }
        }
        for (_, pid, _) in &answers {
            self.processes.remove(pid);
        }
        answers
    }

    /// The process `pid`, if `caller_node` spawned it.
    fn of_caller(&mut self, pid: u32, caller_node: u32) -> Result<&mut Process, ProcessError> {
        let process = self
            .processes
            .get_mut(&pid)
            .ok_or(ProcessError::NoSuchProcess)?;
        if process.parent_node != caller_node {
            return Err(ProcessError::NotYours);
        }
        Ok(process)
    }

    /// `caller_node` waits for `pid` (answered at `to`): `Some(termination)` when it
    /// ended already (it is forgotten), `None` when the answer comes with its end.
    pub fn wait(
        &mut self,
        pid: u32,
        caller_node: u32,
        to: ReplyTo,
    ) -> Result<Option<Termination>, ProcessError> {
        let process = self.of_caller(pid, caller_node)?;
        if let Some(termination) = process.ended {
            self.processes.remove(&pid);
            return Ok(Some(termination));
        }
        if process.waiter.is_some() {
            return Err(ProcessError::Waited);
        }
        process.waiter = Some(to);
        Ok(None)
    }

    /// What sending `signal` to `pid` comes to, for a caller running as
    /// `caller_user`: root ([`ROOT`]) signals any process, other users their own.
    pub fn kill(
        &mut self,
        pid: u32,
        signal: u32,
        caller_user: u32,
    ) -> Result<Delivery, ProcessError> {
        if signal::name(signal).is_none() {
            return Err(ProcessError::NoSuchSignal);
        }
        let process = self
            .processes
            .get_mut(&pid)
            .filter(|process| process.ended.is_none())
            .ok_or(ProcessError::NoSuchProcess)?;
        if caller_user != ROOT && caller_user != process.user {
            return Err(ProcessError::NotPermitted);
        }
        let power_off = Delivery::PowerOff {
            cluster: process.cluster,
            signal,
        };
        let delivery = match action_slot(signal).map(|slot| (process.actions[slot], process.node)) {
            Some((SignalAction::Ignore, _)) => Delivery::Ignored,
            Some((SignalAction::Catch { port }, Some(node))) => {
                Delivery::Notify { node, port, signal }
            }
            _ => power_off,
        };
        if matches!(delivery, Delivery::PowerOff { .. }) {
            process.killed = Some(signal);
        }
        Ok(delivery)
    }

    /// The process on cluster `cluster` (its program on `node`) takes `signal` by
    /// `action` from now on.
    pub fn handle(
        &mut self,
        cluster: Option<usize>,
        node: u32,
        signal: u32,
        action: SignalAction,
    ) -> Result<(), ProcessError> {
        if signal::name(signal).is_none() {
            return Err(ProcessError::NoSuchSignal);
        }
        let slot = action_slot(signal).ok_or(ProcessError::NotCatchable)?;
        debug_assert_ne!(signal, SIGKILL);
        let process = self
            .processes
            .values_mut()
            .find(|process| Some(process.cluster) == cluster && process.ended.is_none())
            .ok_or(ProcessError::NoSuchProcess)?;
        process.actions[slot] = action;
        process.node = Some(node);
        Ok(())
    }

    /// The user a message of compute cluster `view` stamped with boot epoch
    /// `epoch` and run `run` comes from: that run's process' user (it may have
    /// ended since, and not been waited for), or root for the program the manifest
    /// booted the cluster with; `None` for anything else (a process waited for
    /// already, or one an earlier incarnation of this server spawned).
    pub fn user_of(&self, view: &ClusterView, epoch: u32, run: u32) -> Option<u32> {
        let process = self.processes.values().find(|process| {
            process.cluster == view.index && process.epoch == epoch && process.run == run
        });
        match process {
            Some(process) => Some(process.user),
            None if is_system_run(view.system_epoch, epoch, run) => Some(ROOT),
            None => None,
        }
    }

    /// The process that runs on cluster `cluster` (not ended), and the process that
    /// runs on the cluster `parent_cluster` maps its parent node to.
    pub fn identify(
        &self,
        cluster: usize,
        parent_cluster: impl Fn(u32) -> Option<usize>,
    ) -> (Option<u32>, Option<u32>) {
        let live_on = |cluster: usize| {
            self.processes
                .iter()
                .find(|(_, process)| process.cluster == cluster && process.ended.is_none())
        };
        match live_on(cluster) {
            None => (None, None),
            Some((pid, process)) => (
                Some(*pid),
                parent_cluster(process.parent_node)
                    .and_then(live_on)
                    .map(|(parent, _)| *parent),
            ),
        }
    }

    /// The clusters of the processes that have not ended.
    pub fn live_clusters(&self) -> Vec<usize> {
        self.processes
            .values()
            .filter(|process| process.ended.is_none())
            .map(|process| process.cluster)
            .collect()
    }

    /// The processes that have not ended, from pid `from` on: a page of at most
    /// [`LIST_PAGE`], and whether more follow.
    pub fn list(&self, from: u32) -> (Vec<ProcessEntry>, bool) {
        let mut live = self
            .processes
            .range(from..)
            .filter(|(_, process)| process.ended.is_none())
            .map(|(pid, process)| ProcessEntry {
                pid: *pid,
                cluster: process.cluster as u32,
                parent_node: process.parent_node,
                user: process.user,
                running: process.running,
            });
        let page: Vec<ProcessEntry> = live.by_ref().take(LIST_PAGE).collect();
        (page, live.next().is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use libnanvix::abi::{ENDED_EXIT, FaultKind};

    /// A cluster view; a dead cluster's ending is "died", any other's "exit".
    fn view(index: usize, state: u32, epoch: u32, status: i32) -> ClusterView {
        ClusterView {
            index,
            state,
            epoch,
            status,
            ending: if state == CLUSTER_DEAD {
                ENDED_DIED
            } else {
                ENDED_EXIT
            },
            fault: 0,
            run: u32::from(epoch > 0),
            idle: false,
            system_epoch: 0,
        }
    }

    fn to(call: u32) -> ReplyTo {
        ReplyTo {
            node: 9,
            port: 20,
            call,
        }
    }

    #[test]
    fn a_process_runs_ends_and_is_waited_for_once() {
        let mut table = Table::new();
        let views = [view(1, CLUSTER_OFF, 0, 0), view(2, CLUSTER_OFF, 3, 5)];
        let free: Vec<usize> = table.free(&views).map(|view| view.index).collect();
        assert_eq!(free, [1, 2]);
        let pid = table.add(&views[0], 9, ROOT);
        assert_eq!(pid, 1);
        // Held while it runs.
        assert_eq!(table.free(&views).count(), 1);
        assert!(
            table.update(&[view(1, CLUSTER_OFF, 0, 0)]).is_empty(),
            "not booted yet"
        );
        assert_eq!(
            table.list(0),
            (
                alloc::vec![ProcessEntry {
                    pid,
                    cluster: 1,
                    parent_node: 9,
                    user: ROOT,
                    running: false
                }],
                false
            )
        );
        assert!(table.update(&[view(1, CLUSTER_ON, 1, 0)]).is_empty());
        assert!(table.list(0).0[0].running);
        assert_eq!(table.wait(pid, 9, to(7)), Ok(None));
        assert_eq!(table.wait(pid, 9, to(8)), Err(ProcessError::Waited));
        assert_eq!(
            table.update(&[view(1, CLUSTER_OFF, 1, 3)]),
            [(to(7), pid, Termination::Exited(3))]
        );
        assert_eq!(
            table.wait(pid, 9, to(9)),
            Err(ProcessError::NoSuchProcess),
            "forgotten"
        );
        assert_eq!(table.free(&views).count(), 2);
    }

    #[test]
    fn an_end_before_the_wait_is_kept_and_a_dead_cluster_reaped() {
        let mut table = Table::new();
        let pid = table.add(&view(1, CLUSTER_DEAD, 4, 137), 9, ROOT);
        // Its cluster boots in epoch 5 and dies in it (killed: 128 + 9).
        table.update(&[view(1, CLUSTER_ON, 5, 0)]);
        assert!(
            table.update(&[view(1, CLUSTER_DEAD, 5, 137)]).is_empty(),
            "nobody waits"
        );
        assert_eq!(table.list(0), (Vec::new(), false), "ended");
        // The cluster is free again before anyone waits.
        assert_eq!(table.free(&[view(1, CLUSTER_DEAD, 5, 137)]).count(), 1);
        assert_eq!(
            table.wait(pid, 9, to(1)),
            Ok(Some(Termination::ClusterDied { signal: 9 }))
        );
    }

    #[test]
    fn quotas_bound_a_users_live_processes_and_bad_ones_are_refused() {
        let mut table = Table::new();
        table.set_quotas(parse_quotas("1000:1,1001:0").unwrap());
        assert!(!table.over_quota(1000));
        assert!(table.over_quota(1001), "a quota of none");
        assert!(!table.over_quota(ROOT));
        assert!(!table.over_quota(1002), "no quota named");
        table.add(&view(1, CLUSTER_OFF, 0, 0), 9, 1000);
        assert!(table.over_quota(1000));
        table.add(&view(2, CLUSTER_OFF, 0, 0), 9, ROOT);
        assert!(!table.over_quota(ROOT));
        // Its process ended: room again.
        table.update(&[view(1, CLUSTER_OFF, 1, 0)]);
        assert!(!table.over_quota(1000));
        assert_eq!(parse_quotas(""), Ok(BTreeMap::new()));
        for bad in ["1000", "x:1", "1000:y", "0:3", "1000:1,1000:2", "1000:-1"] {
            assert!(parse_quotas(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_message_is_credited_to_the_user_of_its_epoch_and_run_only() {
        let mut table = Table::new();
        let pid = table.add(&view(1, CLUSTER_OFF, 0, 0), 9, 1000);
        let on = view(1, CLUSTER_ON, 1, 0);
        assert_eq!(table.user_of(&on, 1, 1), Some(1000), "its process");
        assert_eq!(table.user_of(&on, 1, 2), None, "a later run");
        assert_eq!(table.user_of(&on, 2, 1), None, "another epoch");
        // The manifest's program: run 1 of the epoch it booted the cluster in.
        let system = ClusterView {
            system_epoch: 1,
            ..view(2, CLUSTER_ON, 1, 0)
        };
        assert_eq!(table.user_of(&system, 1, 1), Some(ROOT));
        assert_eq!(table.user_of(&system, 1, 2), None, "a run after it");
        assert_eq!(table.user_of(&view(2, CLUSTER_ON, 1, 0), 1, 1), None);
        // Ended, its user still answers for its late messages until it is waited
        // for; then nothing does (not root).
        table.update(&[view(1, CLUSTER_OFF, 1, 0)]);
        assert_eq!(table.user_of(&on, 1, 1), Some(1000));
        assert!(matches!(table.wait(pid, 9, to(1)), Ok(Some(_))));
        assert_eq!(table.user_of(&on, 1, 1), None);
    }

    #[test]
    fn only_the_spawner_waits_and_kills_go_by_user() {
        let mut table = Table::new();
        let pid = table.add(&view(1, CLUSTER_OFF, 0, 0), 9, 1000);
        assert_eq!(table.wait(pid, 10, to(1)), Err(ProcessError::NotYours));
        // Kills go by user: another user may not, the same user and root may.
        let power_off = Ok(Delivery::PowerOff {
            cluster: 1,
            signal: SIGKILL,
        });
        assert_eq!(
            table.kill(pid, SIGKILL, 1001),
            Err(ProcessError::NotPermitted)
        );
        assert_eq!(table.kill(pid, SIGKILL, 1000), power_off);
        assert_eq!(table.kill(pid, SIGKILL, ROOT), power_off);
        assert_eq!(
            table.kill(99, SIGKILL, ROOT),
            Err(ProcessError::NoSuchProcess)
        );
        assert_eq!(table.kill(pid, 1, ROOT), Err(ProcessError::NoSuchSignal));
        table.update(&[view(1, CLUSTER_OFF, 1, 137)]);
        assert_eq!(
            table.kill(pid, SIGKILL, ROOT),
            Err(ProcessError::NoSuchProcess),
            "ended"
        );
    }

    #[test]
    fn a_process_knows_itself_and_its_parent() {
        let mut table = Table::new();
        let parent = table.add(&view(1, CLUSTER_OFF, 0, 0), 0, ROOT);
        // Cluster 1 owns node 4, cluster 2 node 5.
        let child = table.add(&view(2, CLUSTER_OFF, 0, 0), 4, ROOT);
        let cluster_of = |node: u32| node.checked_sub(3).map(|index| index as usize);
        assert_eq!(table.identify(2, cluster_of), (Some(child), Some(parent)));
        assert_eq!(table.identify(1, cluster_of), (Some(parent), None));
        assert_eq!(table.identify(3, cluster_of), (None, None));
    }

    #[test]
    fn lists_come_in_pages() {
        let mut table = Table::new();
        for index in 0..(LIST_PAGE + 2) {
            table.add(&view(index, CLUSTER_OFF, 0, 0), 9, ROOT);
        }
        let (first, more) = table.list(0);
        assert_eq!((first.len(), more), (LIST_PAGE, true));
        let (rest, more) = table.list(first[LIST_PAGE - 1].pid + 1);
        assert_eq!((rest.len(), more), (2, false));
    }

    #[test]
    fn signals_take_the_action_the_process_asked_for() {
        let mut table = Table::new();
        let pid = table.add(&view(1, CLUSTER_OFF, 0, 0), 9, 1000);
        let node = 40;
        let by_default = |signal| Ok(Delivery::PowerOff { cluster: 1, signal });
        assert_eq!(table.kill(pid, SIGTERM, 1000), by_default(SIGTERM));
        // Only its own process tells how it takes a signal.
        assert_eq!(
            table.handle(Some(2), node, SIGINT, SignalAction::Ignore),
            Err(ProcessError::NoSuchProcess)
        );
        assert_eq!(
            table.handle(Some(1), node, SIGKILL, SignalAction::Ignore),
            Err(ProcessError::NotCatchable)
        );
        assert_eq!(
            table.handle(Some(1), node, 3, SignalAction::Ignore),
            Err(ProcessError::NoSuchSignal)
        );
        assert_eq!(
            table.handle(Some(1), node, SIGINT, SignalAction::Ignore),
            Ok(())
        );
        assert_eq!(
            table.handle(Some(1), node, SIGTERM, SignalAction::Catch { port: 31 }),
            Ok(())
        );
        assert_eq!(table.kill(pid, SIGINT, 1000), Ok(Delivery::Ignored));
        assert_eq!(
            table.kill(pid, SIGTERM, ROOT),
            Ok(Delivery::Notify {
                node,
                port: 31,
                signal: SIGTERM
            })
        );
        assert_eq!(
            table.kill(pid, SIGKILL, 1000),
            by_default(SIGKILL),
            "SIGKILL always ends it"
        );
        assert_eq!(
            table.kill(pid, SIGTERM, 1001),
            Err(ProcessError::NotPermitted)
        );
        assert_eq!(
            table.handle(Some(1), node, SIGINT, SignalAction::Default),
            Ok(())
        );
        assert_eq!(table.kill(pid, SIGINT, 1000), by_default(SIGINT));
    }

    #[test]
    fn a_warm_cluster_runs_one_process_after_another_in_its_epoch() {
        let mut table = Table::new();
        let first = table.add(&view(1, CLUSTER_OFF, 0, 0), 9, ROOT);
        table.update(&[view(1, CLUSTER_ON, 1, 0)]);
        // It ended: the cluster stays on, idle, in epoch 1 after its run 1.
        let idle = |run, status| ClusterView {
            idle: true,
            run,
            ..view(1, CLUSTER_ON, 1, status)
        };
        assert_eq!(table.wait(first, 9, to(1)), Ok(None));
        assert_eq!(
            table.update(&[idle(1, 3)]),
            [(to(1), first, Termination::Exited(3))]
        );
        // Idle clusters come first; the next process is the epoch's run 2.
        let views = [view(0, CLUSTER_OFF, 0, 0), idle(1, 3)];
        let free: Vec<usize> = table.free(&views).map(|view| view.index).collect();
        assert_eq!(free, [1, 0], "warm first");
        let second = table.add(&views[1], 9, ROOT);
        assert!(table.free(&views).all(|view| view.index != 1), "held");
        // Still idle after run 1 (the board has not started run 2 yet): not ended.
        assert!(table.update(&[idle(1, 3)]).is_empty());
        assert!(table.update(&[view(1, CLUSTER_ON, 1, 0)]).is_empty());
        let running = ClusterView {
            run: 2,
            ..view(1, CLUSTER_ON, 1, 0)
        };
        table.update(&[running]);
        assert!(
            table
                .list(0)
                .0
                .iter()
                .any(|entry| entry.pid == second && entry.running)
        );
        assert_eq!(table.wait(second, 9, to(2)), Ok(None));
        assert_eq!(
            table.update(&[idle(2, 0)]),
            [(to(2), second, Termination::Exited(0))]
        );
    }

    #[test]
    fn a_warm_cluster_that_dies_before_the_next_run_ends_that_process() {
        let mut table = Table::new();
        let idle = ClusterView {
            idle: true,
            ..view(1, CLUSTER_ON, 1, 0)
        };
        let pid = table.add(&idle, 9, ROOT);
        assert_eq!(table.wait(pid, 9, to(1)), Ok(None));
        // The board never started run 2: the cluster died in epoch 1 after run 1.
        assert_eq!(
            table.update(&[view(1, CLUSTER_DEAD, 1, 137)]),
            [(to(1), pid, Termination::ClusterDied { signal: 9 })]
        );
    }

    #[test]
    fn a_process_killed_before_its_run_started_was_signaled() {
        let mut table = Table::new();
        let idle = |status| ClusterView {
            idle: true,
            ..view(1, CLUSTER_ON, 1, status)
        };
        // Run 1 ended with 3; the process is run 2, which the board has not started.
        let pid = table.add(&idle(3), 9, ROOT);
        assert_eq!(table.wait(pid, 9, to(1)), Ok(None));
        assert!(matches!(
            table.kill(pid, SIGKILL, ROOT),
            Ok(Delivery::PowerOff { .. })
        ));
        // Off after run 1, its registers still saying run 1 exited with 3.
        assert_eq!(
            table.update(&[view(1, CLUSTER_OFF, 1, 3)]),
            [(to(1), pid, Termination::Signaled(SIGKILL))]
        );
    }

    #[test]
    fn terminations_follow_the_clusters_ending() {
        let ended = |state, status, ending, fault| {
            ClusterView {
                index: 1,
                state,
                epoch: 1,
                status,
                ending,
                fault,
                run: 1,
                idle: false,
                system_epoch: 0,
            }
            .termination()
        };
        assert_eq!(ended(CLUSTER_OFF, 3, ENDED_EXIT, 0), Termination::Exited(3));
        assert_eq!(
            ended(CLUSTER_OFF, 143, ENDED_KILLED, 0),
            Termination::Signaled(SIGTERM)
        );
        let faulted = ended(CLUSTER_OFF, 101, ENDED_FAULT, FaultKind::Panic as u32);
        assert_eq!(faulted.fault(), Some(FaultKind::Panic));
        assert_eq!(faulted.status(), 101);
        assert_eq!(
            ended(CLUSTER_DEAD, 137, ENDED_DIED, 0),
            Termination::ClusterDied { signal: 9 }
        );
        assert_eq!(
            ended(CLUSTER_DEAD, 137, 0, 0),
            Termination::ClusterDied { signal: 9 },
            "dead, whatever the ending says"
        );
    }
}
