//! The leak suite: real OpenVPN and WireGuard clients (and, in scenarios 19 and 20, OpenVPN
//! started as root, OpenConnect against ocserv and wg-quick) behind the real ruleset, in network
//! namespaces, and tcpdump on the router's side of the uplink counting what leaves the host in
//! cleartext. A leak is any packet from the host that is not the VPN's own traffic to its
//! server, DHCP, ARP or neighbour discovery (see tests/common/capture.rs). Every scenario of
//! the contract's promise is one test per VPN where the VPN makes a difference.
//!
//! The binary under test is `VPN_FIREWALL_TEST_BIN` when set, else the one cargo built. Pointed
//! at a stub that loads nothing, every scenario fails with the packets that leaked.
//!
//! Every scenario runs with each backend: nftables, and iptables in both of Debian's variants
//! (iptables-nft and iptables-legacy).
//!
//! Its own harness (libtest-mimic) runs the scenarios in parallel, as cargo's would (each has
//! its own namespaces, so names cannot collide), and then prints a table of scenario, VPN,
//! backend and leaked packets, also written to target/leaks-summary.txt.
//!
//! Needs root and: openvpn, wireguard-go, wireguard-tools, openconnect, ocserv, vpnc-scripts,
//! tcpdump, openssl, iptables, ipset, nftables, iproute2, socat, util-linux; a missing one fails
//! the test naming the package.

#[path = "leaks/bed.rs"]
mod bed;
mod common;
#[path = "leaks/scenarios.rs"]
mod scenarios;
#[path = "leaks/summary.rs"]
mod summary;

use common::Backend;
use common::vpn::Kind;
use libtest_mimic::{Arguments, Failed, Trial};
use scenarios::{SCENARIOS, Scenario};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let trials = SCENARIOS.iter().flat_map(|s| s.vpns.iter().flat_map(move |&kind| Backend::ALL.map(|backend| trial(s, kind, backend)))).collect();
    let conclusion = libtest_mimic::run(&args, trials);
    summary::report();
    conclusion.exit_code()
}

/// One scenario with one VPN and one backend, named `sNN_what::vpn::backend`; its outcome goes
/// to the summary.
fn trial(scenario: &'static Scenario, kind: Kind, backend: Backend) -> Trial {
    let name = format!("s{:02}_{}::{}::{}", scenario.number, scenario.name, kind.name().to_lowercase(), backend.name());
    Trial::test(name, move || {
        let ledger = summary::Ledger::default();
        let outcome = std::panic::catch_unwind(|| (scenario.run)(&mut bed::Bed::new(scenario.number, kind, backend, &ledger)));
        summary::record(scenario, kind, backend, ledger.leaked(), outcome.is_ok());
        outcome.map_err(|panic| {
            let message = panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied());
            Failed::from(message.unwrap_or("the test panicked"))
        })
    })
}
