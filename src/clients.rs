//! VPN clients installed on this machine whose packets a configuration cannot match, found by
//! `check`: NetworkManager-openvpn here, OpenVPN's marks in [`openvpn`], kernel WireGuard's in
//! [`wireguard`].
//!
//! A socket keeps the user and group of the process that created it. NetworkManager-openvpn
//! starts openvpn as root with `--user nm-openvpn --group nm-openvpn`, and openvpn switches only
//! once the tunnel is up: its connection to the server is root's, so `user = nm-openvpn` (or
//! `group`) matches nothing of it and the VPN never connects. That is fail-closed, but the user
//! is left without a VPN and without a reason; the warning gives both. (What each client does,
//! read in its source and measured: docs/vpn-clients.md.)

use crate::accounts::Accounts;
use crate::config::RawConfig;
use crate::config::schema::Key;
use crate::settings::{Account, Settings};
use std::path::{Path, PathBuf};

mod openvpn;
mod wireguard;

/// NetworkManager-openvpn's plugin description, installed with it; relative to the root.
const NM_OPENVPN_PLUGIN: &str = "usr/lib/NetworkManager/VPN/nm-openvpn-service.name";

/// The user and group NetworkManager-openvpn's openvpn switches to (its package creates both).
const NM_OPENVPN_ACCOUNT: &str = "nm-openvpn";

/// Warnings about installed clients the configuration cannot match. `root` is where their
/// files are looked for (`/` but for tests).
pub fn warnings(raw: &RawConfig, settings: &Settings, root: &Path, accounts: &dyn Accounts) -> Vec<String> {
    let mut out = nm_openvpn(raw, settings, root, accounts);
    out.extend(openvpn::warnings(settings, root));
    out.extend(wireguard::warnings(settings, root));
    out
}

/// The readable regular files of `dir` whose names end in `.EXT`, with their text, in name
/// order. (Regular files only: reading a FIFO would block `check`.)
fn read_files(dir: &Path, ext: &str) -> Vec<(PathBuf, String)> {
    let Ok(read) = std::fs::read_dir(dir) else { return Vec::new() };
    let named = read.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == ext));
    let mut paths: Vec<PathBuf> = named.filter(|p| p.is_file()).collect();
    paths.sort();
    paths.into_iter().filter_map(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t))).collect()
}

/// `[tunnel] user` or `group` naming the account NetworkManager-openvpn's openvpn only
/// switches to after opening its socket.
fn nm_openvpn(raw: &RawConfig, settings: &Settings, root: &Path, accounts: &dyn Accounts) -> Vec<String> {
    let plugin = root.join(NM_OPENVPN_PLUGIN);
    if !plugin.is_file() {
        return Vec::new();
    }
    let checks = [
        (Key::TunnelUser, "user", &settings.tunnel.user, accounts.uid(NM_OPENVPN_ACCOUNT)),
        (Key::TunnelGroup, "group", &settings.tunnel.group, accounts.gid(NM_OPENVPN_ACCOUNT)),
    ];
    checks
        .into_iter()
        .filter(|(_, _, account, id)| account.as_ref().is_some_and(|a| is_nm_openvpn(a, *id)))
        .map(|(key, what, account, _)| {
            let value = &account.as_ref().expect("filtered on Some").name;
            let origin = raw.get(key).origin.as_ref().map(|o| format!(" ({o})")).unwrap_or_default();
            format!(
                "[tunnel] {what} = {value}{origin} matches no packet of NetworkManager-openvpn (installed: {}): \
                 it starts openvpn as root, which switches to {NM_OPENVPN_ACCOUNT} only after opening its \
                 socket, and the socket stays root's, so the VPN cannot connect; NetworkManager-openvpn \
                 cannot mark its packets either. Run the profile with openvpn-client@NAME.service and the \
                 default user = tunnel instead, or use WireGuard with [tunnel] fwmark \
                 (vpn-firewall.conf(5), VPN CLIENTS)",
                plugin.display()
            )
        })
        .collect()
}

/// Whether the configured account is NetworkManager-openvpn's, by name or by its id.
fn is_nm_openvpn(account: &Account, nm_openvpn_id: Option<u32>) -> bool {
    account.name == NM_OPENVPN_ACCOUNT || nm_openvpn_id == Some(account.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::FixedAccounts;

    const ACCOUNTS: FixedAccounts = FixedAccounts(&[("tunnel", 999), ("nm-openvpn", 123)]);

    /// The warnings for `conf` (one drop-in) on a root with NetworkManager-openvpn installed or not.
    fn warnings_for(conf: &str, installed: bool) -> Vec<String> {
        let root = tempfile::tempdir().unwrap();
        if installed {
            let plugin = root.path().join(NM_OPENVPN_PLUGIN);
            std::fs::create_dir_all(plugin.parent().unwrap()).unwrap();
            std::fs::write(&plugin, "[VPN Connection]\nname=openvpn\n").unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("50-vpn.conf"), conf).unwrap();
        let raw = RawConfig::load(dir.path()).unwrap();
        let settings = Settings::validate(&raw, &ACCOUNTS).unwrap().settings;
        warnings(&raw, &settings, root.path(), &ACCOUNTS)
    }

    #[test]
    fn user_or_group_nm_openvpn_with_the_plugin_installed_is_warned_about_with_its_origin() {
        let w = warnings_for("[tunnel]\nuser = nm-openvpn\n", true);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("[tunnel] user = nm-openvpn ("), "{w:?}");
        assert!(w[0].contains("50-vpn.conf:2"), "the warning names where the value was set: {w:?}");
        assert!(w[0].contains("openvpn-client@NAME.service"), "the warning says what to use instead: {w:?}");
        let w = warnings_for("[tunnel]\nuser =\ngroup = nm-openvpn\n", true);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("[tunnel] group = nm-openvpn"), "{w:?}");
    }

    #[test]
    fn nm_openvpn_given_by_its_id_is_recognised() {
        let w = warnings_for("[tunnel]\nuser = 123\n", true);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("[tunnel] user = 123"), "{w:?}");
    }

    #[test]
    fn only_regular_files_are_read_so_that_a_fifo_cannot_block() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.conf"), "b").unwrap();
        std::fs::write(dir.path().join("a.conf"), "a").unwrap();
        std::fs::write(dir.path().join("c.txt"), "c").unwrap();
        nix::unistd::mkfifo(&dir.path().join("d.conf"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let names: Vec<String> = read_files(dir.path(), "conf").into_iter().map(|(p, t)| format!("{}={t}", p.file_name().unwrap().to_str().unwrap())).collect();
        assert_eq!(names, ["a.conf=a", "b.conf=b"]);
    }

    #[test]
    fn no_warning_without_the_plugin_or_for_other_accounts() {
        assert_eq!(warnings_for("[tunnel]\nuser = nm-openvpn\n", false), Vec::<String>::new());
        assert_eq!(warnings_for("[tunnel]\nuser = tunnel\n", true), Vec::<String>::new());
        assert_eq!(warnings_for("[tunnel]\nuser =\nfwmark = 51821\n", true), Vec::<String>::new());
    }
}
