//! The names the server holds, and the rules for linking, looking up and unlinking.

use alloc::collections::BTreeMap;
use alloc::string::String;
use nanvix_name_api::{NameError, NameReply, NameRequest, check_name};

/// Names the server holds at most (the original's name server held 64 per cluster
/// set; ours holds more, and says `Full` past it).
pub const NAMES_MAX: usize = 256;

/// Where a name points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The node that linked the name (the hardware-stamped source of the link).
    pub node: u32,
    /// The port on that node.
    pub port: u32,
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

    /// Serves `request` from a program on `caller` (the node the hardware stamped).
    /// A refused request changes nothing.
    pub fn serve(&mut self, caller: u32, request: NameRequest) -> NameReply {
        let outcome = match request {
            NameRequest::Link { name, port } => self.link(caller, name, port),
            NameRequest::Lookup { name } => self.lookup(&name).map(|target| NameReply::Found {
                node: target.node,
                port: target.port,
            }),
            NameRequest::Unlink { name } => self.unlink(caller, &name),
        };
        outcome.unwrap_or_else(NameReply::Refused)
    }

    fn link(&mut self, caller: u32, name: String, port: u32) -> Result<NameReply, NameError> {
        check_name(&name)?;
        if self.names.contains_key(&name) {
            return Err(NameError::Exists);
        }
        if self.names.len() >= NAMES_MAX {
            return Err(NameError::Full);
        }
        self.names.insert(name, Target { node: caller, port });
        Ok(NameReply::Linked)
    }

    /// Where `name` points.
    pub fn lookup(&self, name: &str) -> Result<Target, NameError> {
        check_name(name)?;
        self.names.get(name).copied().ok_or(NameError::NotFound)
    }

    fn unlink(&mut self, caller: u32, name: &str) -> Result<NameReply, NameError> {
        let target = self.lookup(name)?;
        if target.node != caller {
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

    #[test]
    fn a_linked_name_is_found_at_its_linkers_node_until_unlinked() {
        let mut registry = Registry::new();
        assert_eq!(registry.serve(8, link("vfs", 3)), NameReply::Linked);
        assert_eq!(
            registry.serve(9, lookup("vfs")),
            NameReply::Found { node: 8, port: 3 }
        );
        assert_eq!(registry.serve(8, unlink("vfs")), NameReply::Unlinked);
        assert_eq!(
            registry.serve(9, lookup("vfs")),
            NameReply::Refused(NameError::NotFound)
        );
        assert!(registry.is_empty());
    }

    #[test]
    fn refusals_change_nothing() {
        let mut registry = Registry::new();
        registry.serve(8, link("vfs", 3));
        for (caller, request, error) in [
            (9, link("vfs", 4), NameError::Exists),
            (9, unlink("vfs"), NameError::NotHolder),
            (9, unlink("nothing"), NameError::NotFound),
            (9, link("", 1), NameError::BadName),
            (9, link("bad\u{7}", 1), NameError::BadName),
            (9, lookup(&"n".repeat(65)), NameError::BadName),
        ] {
            assert_eq!(registry.serve(caller, request), NameReply::Refused(error));
        }
        assert_eq!(registry.len(), 1);
        assert_eq!(registry.lookup("vfs"), Ok(Target { node: 8, port: 3 }));
    }

    #[test]
    fn a_full_registry_refuses_new_names_but_serves_the_rest() {
        let mut registry = Registry::new();
        for index in 0..NAMES_MAX {
            assert_eq!(
                registry.serve(1, link(&format!("name{index}"), 0)),
                NameReply::Linked
            );
        }
        assert_eq!(
            registry.serve(1, link("one-more", 0)),
            NameReply::Refused(NameError::Full)
        );
        assert_eq!(registry.serve(1, unlink("name0")), NameReply::Unlinked);
        assert_eq!(registry.serve(1, link("one-more", 0)), NameReply::Linked);
    }

    #[test]
    fn a_dead_clusters_names_are_released() {
        let mut registry = Registry::new();
        registry.serve(0, link("io0-a", 1));
        registry.serve(3, link("io0-b", 1));
        registry.serve(4, link("cc0", 1));
        // io0 owns nodes 0..4.
        assert_eq!(registry.release(0..4), 2);
        assert_eq!(registry.lookup("io0-a"), Err(NameError::NotFound));
        assert_eq!(registry.lookup("cc0"), Ok(Target { node: 4, port: 1 }));
        assert_eq!(registry.serve(5, link("io0-a", 2)), NameReply::Linked);
    }
}
