//! Other tools' rulesets, reconstructed where the tool cannot run here (tests/fixtures/, each
//! file says where it comes from), and loading them beside vpn-firewall's in a namespace.

use super::Netns;

/// The text of tests/fixtures/NAME.
pub fn text(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Another tool's iptables rules (Docker's, libvirt's), a fixture in iptables-restore form,
/// loaded beside everyone else's with the host's iptables, as the tool loads them at its start.
pub fn load_iptables(host: &Netns, name: &str) {
    host.run(format!("{}-restore", host.backend().iptables(false)), &["-w", "--noflush"], &text(name)).expect(0);
}
