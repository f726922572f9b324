//! Kernel WireGuard's packets carry no user, only the mark its interface is configured with: a
//! WireGuard interface of `[tunnel] interfaces` that its manager marks otherwise than
//! `[tunnel] fwmark` says, or not at all, cannot connect through the firewall. The three
//! managers Debian users run keep the mark in files `check` can read (as root; unreadable files
//! say nothing): wg-quick's `/etc/wireguard/NAME.conf` (`FwMark`), systemd-networkd's
//! `/etc/systemd/network/*.netdev` (`FirewallMark=`) and NetworkManager's
//! `/etc/NetworkManager/system-connections/*.nmconnection` (`fwmark=`).

use super::read_files;
use crate::settings::Settings;
use std::path::{Path, PathBuf};

const WG_QUICK: &str = "etc/wireguard";
const NETWORKD: &str = "etc/systemd/network";
const NETWORK_MANAGER: &str = "etc/NetworkManager/system-connections";

/// The mark a recipe suggests when the client sets none (wg-quick's usual one).
const SUGGESTED: u32 = 51820;

/// One WireGuard interface as a manager's file configures it.
struct Configured {
    interface: String,
    file: PathBuf,
    /// The mark it sets; `None`: none the firewall can know in advance.
    mark: Option<u32>,
    /// How to set the mark, in that manager's words.
    how: String,
    /// Why it sets no mark, when it sets none.
    unmarked: &'static str,
}

/// Warnings for the WireGuard interfaces of `[tunnel] interfaces` whose mark is not `fwmark`.
pub fn warnings(settings: &Settings, root: &Path) -> Vec<String> {
    let configured = wg_quick(root).into_iter().chain(networkd(root)).chain(network_manager(root));
    configured.filter(|c| settings.tunnel.interfaces.iter().any(|i| i.matches(&c.interface))).filter_map(|c| mismatch(&c, settings.tunnel.fwmark)).collect()
}

fn mismatch(c: &Configured, fwmark: Option<u32>) -> Option<String> {
    let wanted = match fwmark {
        Some(m) => format!("[tunnel] fwmark = {m:#x}"),
        None => "[tunnel] fwmark is empty".to_string(),
    };
    let (interface, file) = (&c.interface, c.file.display());
    match c.mark {
        Some(m) if fwmark == Some(m) => None,
        Some(m) => Some(format!(
            "WireGuard interface {interface} is marked {m} ({m:#x}) by {file}, but {wanted}: no user matches kernel \
             WireGuard's packets, so its handshakes are blocked and the VPN cannot connect; set [tunnel] fwmark = {m}"
        )),
        None => {
            let mark = fwmark.unwrap_or(SUGGESTED);
            let how = c.how.replace("MARK", &mark.to_string());
            let and = if fwmark.is_none() { format!(" and [tunnel] fwmark = {mark}") } else { String::new() };
            Some(format!(
                "WireGuard interface {interface} ({file}) {}, so [tunnel] fwmark cannot match its packets and the VPN \
                 may not connect; set {how}{and}",
                c.unmarked
            ))
        }
    }
}

/// wg-quick: `FwMark` in `[Interface]`; without it, it marks only for a peer with a default
/// route (AllowedIPs `/0`), with the first routing table free from 51820 up.
fn wg_quick(root: &Path) -> Vec<Configured> {
    keyfiles(&root.join(WG_QUICK), "conf")
        .into_iter()
        .filter_map(|f| {
            let interface = f.path.file_stem()?.to_str()?.to_string();
            // wg-quick reads its keys case-insensitively.
            let mark = f.get_ignore_case("Interface", "FwMark").filter(|v| !v.eq_ignore_ascii_case("off")).and_then(number);
            // `Table = off`: wg-quick adds no routes, so no rule and no mark for them either.
            let routes = f.get_ignore_case("Interface", "Table").is_none_or(|t| !t.eq_ignore_ascii_case("off"));
            let default_route = routes
                && f.entries
                    .iter()
                    .any(|(s, k, v)| s.eq_ignore_ascii_case("Peer") && k.eq_ignore_ascii_case("AllowedIPs") && v.split(',').any(|n| n.trim().ends_with("/0")));
            let unmarked = if default_route {
                "lets wg-quick pick the mark (the first free routing table from 51820 up: not always 51820)"
            } else {
                "sets no FwMark (wg-quick marks only for a default route)"
            };
            Some(Configured { interface, file: f.path, mark, how: "FwMark = MARK in its [Interface]".into(), unmarked })
        })
        .collect()
}

/// systemd-networkd: `FirewallMark=` in the `[WireGuard]` section of a `.netdev` of
/// `Kind=wireguard`; unset, no mark.
fn networkd(root: &Path) -> Vec<Configured> {
    let wireguard = keyfiles(&root.join(NETWORKD), "netdev").into_iter().filter(|f| f.get("NetDev", "Kind") == Some("wireguard"));
    wireguard
        .filter_map(|f| {
            let (interface, mark) = (f.get("NetDev", "Name")?.to_string(), f.get("WireGuard", "FirewallMark").and_then(number));
            let how = "FirewallMark=MARK in its [WireGuard] section".to_string();
            Some(Configured { interface, file: f.path, mark, how, unmarked: "sets no FirewallMark=" })
        })
        .collect()
}

/// NetworkManager: `fwmark=` in `[wireguard]` of a connection of `type=wireguard`; unset (0),
/// with a default route it picks one from 51820 to 52319 after the connection's UUID.
fn network_manager(root: &Path) -> Vec<Configured> {
    let profiles = keyfiles(&root.join(NETWORK_MANAGER), "nmconnection").into_iter();
    profiles
        .filter(|f| f.get("connection", "type") == Some("wireguard"))
        .filter_map(|f| {
            let interface = f.get("connection", "interface-name")?.to_string();
            let id = f.get("connection", "id").unwrap_or(&interface);
            let how = format!("it with nmcli connection modify {id:?} wireguard.fwmark MARK");
            let mark = f.get("wireguard", "fwmark").and_then(number).filter(|m| *m != 0);
            let unmarked = "sets no wireguard.fwmark (NetworkManager then picks one from 51820 to 52319, or none)";
            Some(Configured { interface, file: f.path, mark, how, unmarked })
        })
        .collect()
}

/// A configuration file's entries, in order.
struct Keyfile {
    path: PathBuf,
    entries: Vec<(String, String, String)>,
}

impl Keyfile {
    /// A key's value; the last one wins, as systemd and NetworkManager read their files.
    fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.entries.iter().rev().find(|(s, k, _)| s == section && k == key).map(|(_, _, v)| v.as_str())
    }

    fn get_ignore_case(&self, section: &str, key: &str) -> Option<&str> {
        let found = self.entries.iter().rev().find(|(s, k, _)| s.eq_ignore_ascii_case(section) && k.eq_ignore_ascii_case(key));
        found.map(|(_, _, v)| v.as_str())
    }
}

/// The readable files of `dir` ending in `.EXT`, parsed, in name order.
fn keyfiles(dir: &Path, ext: &str) -> Vec<Keyfile> {
    read_files(dir, ext).into_iter().map(|(path, text)| Keyfile { entries: entries(&text), path }).collect()
}

/// `(section, key, value)` of an INI-style text, in order; `#` and `;` start comments.
fn entries(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
        } else if let Some((k, v)) = line.split_once('=') {
            out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// A mark, decimal or 0x-hex.
fn number(text: &str) -> Option<u32> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::FixedAccounts;
    use crate::config::RawConfig;

    /// The warnings for `conf` with `files` (path under the root, text) in place.
    fn warnings_for(conf: &str, files: &[(&str, &str)]) -> Vec<String> {
        let root = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("50-vpn.conf"), conf).unwrap();
        let raw = RawConfig::load(dir.path()).unwrap();
        let settings = Settings::validate(&raw, &FixedAccounts(&[])).unwrap().settings;
        warnings(&settings, root.path())
    }

    const WG0: &str = "etc/wireguard/wg0.conf";
    const TUNNEL: &str = "[tunnel]\ninterfaces = wg+\nuser =\n";

    #[test]
    fn a_wg_quick_mark_other_than_fwmark_is_named_with_the_value_to_set() {
        let conf = "[Interface]\nPrivateKey = x\nFwMark = 0xca6d # not wg-quick's own\n[Peer]\nAllowedIPs = 0.0.0.0/0\n";
        let w = warnings_for(&format!("{TUNNEL}fwmark = 51820\n"), &[(WG0, conf)]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("WireGuard interface wg0 is marked 51821 (0xca6d) by "), "{w:?}");
        assert!(w[0].ends_with("set [tunnel] fwmark = 51821"), "{w:?}");
        assert_eq!(warnings_for(&format!("{TUNNEL}fwmark = 0xca6d\n"), &[(WG0, conf)]), Vec::<String>::new());
        // Case-insensitive keys, as wg-quick reads them.
        assert_eq!(warnings_for(&format!("{TUNNEL}fwmark = 7\n"), &[(WG0, "[interface]\nfwmark = 7\n")]), Vec::<String>::new());
    }

    #[test]
    fn a_wg_quick_interface_without_fwmark_is_warned_about_whether_or_not_it_has_a_default_route() {
        let routed = "[Interface]\nPrivateKey = x\n[Peer]\nAllowedIPs = 10.0.0.0/8, ::/0\n";
        let w = warnings_for(&format!("{TUNNEL}fwmark = 51820\n"), &[(WG0, routed)]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("lets wg-quick pick the mark") && w[0].ends_with("set FwMark = 51820 in its [Interface]"), "{w:?}");
        let split = "[Interface]\nPrivateKey = x\n[Peer]\nAllowedIPs = 10.0.0.0/8\n";
        let unrouted = "[Interface]\nTable = off\n[Peer]\nAllowedIPs = 0.0.0.0/0\n";
        for conf in [split, unrouted] {
            let w = warnings_for(TUNNEL, &[(WG0, conf)]);
            assert!(w[0].contains("sets no FwMark") && w[0].ends_with("set FwMark = 51820 in its [Interface] and [tunnel] fwmark = 51820"), "{w:?}");
        }
    }

    #[test]
    fn networkd_and_networkmanager_marks_are_read_for_wireguard_interfaces_only() {
        let netdev = "[NetDev]\nName=wg1\nKind=wireguard\n[WireGuard]\nFirewallMark=42\n";
        let other = "[NetDev]\nName=wg2\nKind=bridge\n";
        let nm = "[connection]\nid=office\ntype=wireguard\ninterface-name=wg3\n[wireguard]\nfwmark=0\n";
        let files = [
            ("etc/systemd/network/50-wg1.netdev", netdev),
            ("etc/systemd/network/wg2.netdev", other),
            ("etc/NetworkManager/system-connections/office.nmconnection", nm),
        ];
        let w = warnings_for(&format!("{TUNNEL}fwmark = 42\n"), &files);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("WireGuard interface wg3 ") && w[0].contains("nmcli connection modify \"office\" wireguard.fwmark 42"), "{w:?}");
        let w = warnings_for(&format!("{TUNNEL}fwmark = 43\n"), &files);
        assert!(w[0].starts_with("WireGuard interface wg1 is marked 42 (0x2a)"), "{w:?}");
    }

    #[test]
    fn interfaces_outside_the_tunnel_setting_are_left_alone() {
        let w = warnings_for("[tunnel]\ninterfaces = tun+\n", &[(WG0, "[Interface]\nPrivateKey = x\n")]);
        assert_eq!(w, Vec::<String>::new());
    }
}
