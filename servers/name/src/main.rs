//! The name server program: serves [`NameProtocol`] on [`NAME_PORT`] of its node.
//!
//! Prints `name-server: serving on node N port P` once it serves.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use libnanvix::cluster::Clusters;
use libnanvix::mailbox::Inbox;
use libnanvix::{println, process, signal};
use name_server::registry::{Caller, Registry, incarnation};
use nanvix_name_api::{NAME_PORT, NameProtocol};
use nanvix_rpc::transport::{Handled, serve};

libnanvix::entry!(main);

fn main() -> i32 {
    let inbox = match Inbox::create(NAME_PORT) {
        Ok(inbox) => inbox,
        Err(errno) => {
            println!("name-server: cannot create port {NAME_PORT}: {errno}");
            return 1;
        }
    };
    // At shutdown the names go with the server: nothing to flush.
    if let Err(errno) = signal::follow_supervisor(|_| process::exit(0)) {
        println!("name-server: cannot follow its supervisor: {errno}");
    }
    let clusters = Clusters::read();
    let mut registry = Registry::new();
    println!(
        "name-server: serving on node {} port {NAME_PORT}",
        process::node()
    );
    let served = serve::<NameProtocol>(&inbox, |sender, _, request, _| {
        // The hardware stamps the epoch; the run (a warm cluster's current
        // process) is the board's now, while the caller runs.
        let node = sender.source_node;
        let caller = Caller {
            node,
            incarnation: incarnation(sender.source_epoch, clusters.run_of(node)),
        };
        Handled::Reply(registry.serve(caller, request, |node, held| {
            clusters.alive_in(node, |epoch, run| incarnation(epoch, run) == held)
        }))
    });
    match served {
        Ok(counters) => {
            println!("name-server: stopped: {counters:?}");
            0
        }
        Err(errno) => {
            println!("name-server: reading port {NAME_PORT}: {errno}");
            1
        }
    }
}
