//! The names the server holds, and the rules for linking, looking up and unlinking.

use alloc::collections::BTreeMap;
use alloc::string::String;
use nanvix_name_api::{NameError, NameReply, NameRequest, check_name};

/// Names the server holds at most (the original's name server held 64 per cluster
/// set; ours holds more, and says `Full` past it).
pub const NAMES_MAX: usize = 256;

/// A program's node and its incarnation: its cluster's boot epoch (as the hardware
/// stamped it on the request) and run (a warm compute cluster runs one process after
/// another in an epoch), as [`incarnation`] packs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The node.
    pub node: u32,
    /// The incarnation of the node's program.
    pub incarnation: u64,
}

/// The incarnation of a program of a cluster in boot epoch `epoch` and run `run`.
pub fn incarnation(epoch: u32, run: u32) -> u64 {
    (u64::from(epoch) << 32) | u64::from(run)
}

/// Where a name points, and who linked it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The node that linked the name (the hardware-stamped source of the link).
    pub node: u32,
    /// The port on that node.
    pub port: u32,
    /// The incarnation of the node's program when it linked the name: the name dies
    /// with it.
    pub incarnation: u64,
}

/// The names, by name.
#[derive(Debug, Default)]
pub struct Registry {
    names: BTreeMap<String, Target>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// How many names it holds.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Serves `request` from `caller`. `alive(node, incarnation)` says whether the
    /// incarnation of the node's cluster that linked a name still runs: a name whose
    /// holder died (or whose cluster booted again since) is released when a request
    /// meets it. A refused request changes nothing.
    pub fn serve(
        &mut self,
        caller: Caller,
        request: NameRequest,
        alive: impl Fn(u32, u64) -> bool,
    ) -> NameReply {
        let outcome = match request {
            NameRequest::Link { name, port } => self.link(caller, name, port, &alive),
            NameRequest::Lookup { name } => {
                self.lookup(&name, &alive).map(|target| NameReply::Found {
                    node: target.node,
                    port: target.port,
                })
            }
            NameRequest::Unlink { name } => self.unlink(caller, &name, &alive),
        };
        outcome.unwrap_or_else(NameReply::Refused)
    }

    fn link(
        &mut self,
        caller: Caller,
        name: String,
        port: u32,
        alive: &impl Fn(u32, u64) -> bool,
    ) -> Result<NameReply, NameError> {
        check_name(&name)?;
        if self.lookup(&name, alive).is_ok() {
            return Err(NameError::Exists);
        }
        if self.names.len() >= NAMES_MAX {
            return Err(NameError::Full);
        }
        let target = Target {
            node: caller.node,
            port,
            incarnation: caller.incarnation,
        };
        self.names.insert(name, target);
        Ok(NameReply::Linked)
    }

    /// Where `name` points, if its holder is alive (else the name is released).
    pub fn lookup(
        &mut self,
        name: &str,
        alive: &impl Fn(u32, u64) -> bool,
    ) -> Result<Target, NameError> {
        check_name(name)?;
        let target = self.names.get(name).copied().ok_or(NameError::NotFound)?;
        if alive(target.node, target.incarnation) {
            Ok(target)
        } else {
            self.names.remove(name);
            Err(NameError::NotFound)
        }
    }

    fn unlink(
        &mut self,
        caller: Caller,
        name: &str,
        alive: &impl Fn(u32, u64) -> bool,
    ) -> Result<NameReply, NameError> {
        let target = self.lookup(name, alive)?;
        if target.node != caller.node || target.incarnation != caller.incarnation {
            return Err(NameError::NotHolder);
        }
        self.names.remove(name);
        Ok(NameReply::Unlinked)
    }

    /// Releases every name a node in `nodes` held (their cluster died); returns how
    /// many.
    pub fn release(&mut self, nodes: core::ops::Range<u32>) -> usize {
        let before = self.names.len();
        self.names.retain(|_, target| !nodes.contains(&target.node));
        before - self.names.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    fn link(name: &str, port: u32) -> NameRequest {
        NameRequest::Link {
            name: name.to_string(),
            port,
        }
    }

    fn lookup(name: &str) -> NameRequest {
        NameRequest::Lookup {
            name: name.to_string(),
        }
    }

    fn unlink(name: &str) -> NameRequest {
        NameRequest::Unlink {
            name: name.to_string(),
        }
    }

    /// Node `node` in incarnation 1.
    fn on(node: u32) -> Caller {
        Caller {
            node,
            incarnation: 1,
        }
    }

    /// Every holder is alive.
    fn all_alive(_: u32, _: u64) -> bool {
        true
    }

    #[test]
    fn a_linked_name_is_found_at_its_linkers_node_until_unlinked() {
        let mut registry = Registry::new();
        assert_eq!(
            registry.serve(on(8), link("vfs", 3), all_alive),
            NameReply::Linked
        );
        assert_eq!(
            registry.serve(on(9), lookup("vfs"), all_alive),
            NameReply::Found { node: 8, port: 3 }
        );
        assert_eq!(
            registry.serve(on(8), unlink("vfs"), all_alive),
            NameReply::Unlinked
        );
        assert_eq!(
            registry.serve(on(9), lookup("vfs"), all_alive),
            NameReply::Refused(NameError::NotFound)
        );
        assert!(registry.is_empty());
    }

    #[test]
    fn refusals_change_nothing() {
        let mut registry = Registry::new();
        registry.serve(on(8), link("vfs", 3), all_alive);
        for (caller, request, error) in [
            (on(9), link("vfs", 4), NameError::Exists),
            (on(9), unlink("vfs"), NameError::NotHolder),
            (on(9), unlink("nothing"), NameError::NotFound),
            (on(9), link("", 1), NameError::BadName),
            (on(9), link("bad\u{7}", 1), NameError::BadName),
            (on(9), lookup(&"n".repeat(65)), NameError::BadName),
        ] {
            assert_eq!(
                registry.serve(caller, request, all_alive),
                NameReply::Refused(error)
            );
        }
        assert_eq!(registry.len(), 1);
        assert_eq!(
            registry.lookup("vfs", &all_alive),
            Ok(Target {
                node: 8,
                port: 3,
                incarnation: 1
            })
        );
    }

    #[test]
    fn a_full_registry_refuses_new_names_but_serves_the_rest() {
        let mut registry = Registry::new();
        for index in 0..NAMES_MAX {
            assert_eq!(
                registry.serve(on(1), link(&format!("name{index}"), 0), all_alive),
                NameReply::Linked
            );
        }
        assert_eq!(
            registry.serve(on(1), link("one-more", 0), all_alive),
            NameReply::Refused(NameError::Full)
        );
        assert_eq!(
            registry.serve(on(1), unlink("name0"), all_alive),
            NameReply::Unlinked
        );
        assert_eq!(
            registry.serve(on(1), link("one-more", 0), all_alive),
            NameReply::Linked
        );
    }

    #[test]
    fn a_dead_holders_names_are_released() {
        let mut registry = Registry::new();
        registry.serve(on(0), link("io0-a", 1), all_alive);
        registry.serve(on(3), link("io0-b", 1), all_alive);
        registry.serve(on(4), link("cc0", 1), all_alive);
        // io0 owns nodes 0..4.
        assert_eq!(registry.release(0..4), 2);
        assert_eq!(
            registry.lookup("io0-a", &all_alive),
            Err(NameError::NotFound)
        );
        assert_eq!(
            registry.serve(on(5), link("io0-a", 2), all_alive),
            NameReply::Linked
        );
        // Node 4's cluster died (or booted again: epoch 2): its name goes when met.
        let epoch_one_dead = |_: u32, incarnation: u64| incarnation != 1;
        assert_eq!(
            registry.serve(on(9), lookup("cc0"), epoch_one_dead),
            NameReply::Refused(NameError::NotFound)
        );
        registry.serve(on(4), link("again", 1), all_alive);
        assert_eq!(
            registry.serve(
                Caller {
                    node: 4,
                    incarnation: 2
                },
                link("again", 2),
                epoch_one_dead
            ),
            NameReply::Linked,
            "a new incarnation takes a name its old one held"
        );
        assert_eq!(
            registry.serve(on(4), unlink("again"), all_alive),
            NameReply::Refused(NameError::NotHolder),
            "the old incarnation holds it no more"
        );
    }
}
