//! Qubes OS, where a VPN qube is the gateway of the qubes behind it (their `vif` interfaces).
//!
//! A qube is recognised by `/usr/lib/qubes`. There vpn-firewall also reads the qube's own
//! drop-ins in `/rw/config/vpn-firewall` (the part of a qube that survives a restart when `/etc`
//! comes from its template), after the configuration directory; `[forward] interfaces` defaults
//! to `vif+`; and the virtual DNS addresses the qubes behind it use (`NS1`, `NS2` in
//! `/var/run/qubes/qubes-ns`) are checked against `[forward] dns`.
//!
//! Every path is looked up under a root directory, `/` but for tests (`--root`,
//! `VPN_FIREWALL_ROOT`).

use crate::config::schema::Key;
use crate::config::{DropInDir, PlatformDefault};
use crate::settings::Settings;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// What marks a Qubes OS qube.
const MARKER: &str = "usr/lib/qubes";
/// The qube's own drop-ins.
const CONFIG_DIR: &str = "rw/config/vpn-firewall";
/// `NS1=ADDR` and `NS2=ADDR` lines, written by Qubes in qubes that give network to others.
const NS_FILE: &str = "var/run/qubes/qubes-ns";

pub const PLATFORM: &str = "Qubes OS";

/// A Qubes OS qube, as vpn-firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qubes {
    /// The qube's own drop-in directory.
    pub config_dir: PathBuf,
    pub ns_file: PathBuf,
    /// The virtual DNS addresses of the qubes behind this one, in file order.
    pub dns: Vec<IpAddr>,
    /// What was wrong with the qubes-ns file, if anything.
    pub ns_problems: Vec<String>,
}

impl Qubes {
    /// The qube under `root`, or `None` when `root` is no Qubes OS qube.
    pub fn detect(root: &Path) -> Option<Qubes> {
        if !root.join(MARKER).is_dir() {
            return None;
        }
        let ns_file = root.join(NS_FILE);
        let (dns, ns_problems) = match std::fs::read_to_string(&ns_file) {
            Ok(text) => parse_ns(&text),
            Err(e) => (Vec::new(), vec![format!("cannot read it: {e}")]),
        };
        Some(Qubes { config_dir: root.join(CONFIG_DIR), ns_file, dns, ns_problems })
    }

    /// Settings that work elsewhere but not for the qubes behind this one.
    pub fn warnings(&self, s: &Settings) -> Vec<String> {
        if !s.forward.enable {
            return Vec::new();
        }
        let ns = self.ns_file.display();
        let mut warnings: Vec<String> = self.ns_problems.iter().map(|p| format!("{ns}: {p}")).collect();
        let Some(dns) = s.forward.dns else { return warnings };
        if self.dns.contains(&dns) {
            warnings.push(format!(
                "[forward] dns {dns} is a virtual DNS address of Qubes ({ns}), not a resolver: DNS from the qubes \
                 behind fails; set the VPN's resolver"
            ));
        } else if !self.dns.is_empty() && !self.dns.iter().any(|a| a.is_ipv4() == dns.is_ipv4()) {
            warnings.push(format!(
                "[forward] dns {dns} is not of the family of the virtual DNS addresses the qubes behind use ({}): \
                 their DNS cannot be redirected and is blocked",
                self.dns.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
            ));
        }
        warnings
    }
}

/// The configuration directory, then on Qubes OS the qube's own drop-ins, which need not exist.
pub fn config_dirs(main: &Path, qubes: Option<&Qubes>) -> Vec<DropInDir> {
    let mut dirs = vec![DropInDir { path: main.to_path_buf(), optional: false }];
    dirs.extend(qubes.map(|q| DropInDir { path: q.config_dir.clone(), optional: true }));
    dirs
}

/// The defaults Qubes OS changes: the qubes behind a qube are on its `vif` interfaces.
pub fn defaults(qubes: Option<&Qubes>) -> Vec<PlatformDefault> {
    qubes.map(|_| PlatformDefault { key: Key::ForwardInterfaces, value: "vif+", platform: PLATFORM }).into_iter().collect()
}

/// The `NS1` and `NS2` addresses of a qubes-ns file (shell variable assignments, values
/// possibly quoted or empty), and what was wrong with it.
fn parse_ns(text: &str) -> (Vec<IpAddr>, Vec<String>) {
    let mut dns = Vec::new();
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Some((name, value)) = line.trim().split_once('=') else { continue };
        if !matches!(name.trim(), "NS1" | "NS2") {
            continue;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        if value.is_empty() {
            continue;
        }
        match value.parse::<IpAddr>() {
            Ok(addr) if !dns.contains(&addr) => dns.push(addr),
            Ok(_) => {}
            Err(_) => problems.push(format!("line {}: {} {value:?} is not an IP address", index + 1, name.trim())),
        }
    }
    if dns.is_empty() && problems.is_empty() {
        problems.push("names no virtual DNS address (NS1=, NS2=)".into());
    }
    (dns, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qubes_ns_file_gives_ns1_and_ns2() {
        let (dns, problems) = parse_ns("NS1=10.139.1.1\nNS2=10.139.1.2\n");
        assert_eq!(dns, ["10.139.1.1".parse::<IpAddr>().unwrap(), "10.139.1.2".parse().unwrap()]);
        assert!(problems.is_empty());
        let (dns, problems) = parse_ns("# written by setup-ip\nNS1=\"10.139.1.1\"\nNS2=\nOTHER=x\nNS1=10.139.1.1\n");
        assert_eq!(dns.len(), 1);
        assert!(problems.is_empty());
        let (dns, problems) = parse_ns("NS1=10.139.1.300\n");
        assert!(dns.is_empty());
        assert_eq!(problems, ["line 1: NS1 \"10.139.1.300\" is not an IP address"]);
        assert_eq!(parse_ns("").1, ["names no virtual DNS address (NS1=, NS2=)"]);
    }

    #[test]
    fn only_a_root_with_usr_lib_qubes_is_a_qube() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(Qubes::detect(root.path()), None);
        std::fs::create_dir_all(root.path().join(MARKER)).unwrap();
        let qubes = Qubes::detect(root.path()).unwrap();
        assert_eq!(qubes.config_dir, root.path().join("rw/config/vpn-firewall"));
        assert!(qubes.ns_problems[0].starts_with("cannot read it"), "{:?}", qubes.ns_problems);
    }
}
