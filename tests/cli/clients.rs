//! `check`'s warnings about VPN clients whose sockets the configuration cannot match: the
//! account NetworkManager-openvpn runs as, and marks that differ from `fwmark`.

use super::*;

/// NetworkManager-openvpn's account, created as its Debian package creates it when it does not
/// exist yet (this needs root, as the other tests that create accounts).
fn nm_openvpn_account() {
    if nix::unistd::User::from_name("nm-openvpn").expect("look up nm-openvpn").is_some() {
        return;
    }
    let out = std::process::Command::new("useradd")
        .args(["--system", "--user-group", "--no-create-home", "--home-dir", "/var/lib/openvpn/chroot", "--shell", "/usr/sbin/nologin", "nm-openvpn"])
        .output()
        .expect("run useradd (Debian package passwd)");
    // Another test may have created it meanwhile.
    let exists = nix::unistd::User::from_name("nm-openvpn").expect("look up nm-openvpn").is_some();
    assert!(exists, "cannot create the system user nm-openvpn (run the tests as root): {}", String::from_utf8_lossy(&out.stderr));
}

/// A test root holding `file` (a path under it) with `text`: an installed client's file.
fn root_with(file: &str, text: &str) -> (TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("temporary directory");
    let path = root.path().join(file);
    std::fs::create_dir_all(path.parent().expect("a file in a directory")).expect("create the client's directory");
    std::fs::write(&path, text).expect("write the client's file");
    (root, path)
}

/// `check` of `dir` with `--root root`, which must exit 0; its stderr must satisfy `stderr`.
fn check_under(root: &TempDir, dir: &Path, stderr: impl predicates::str::PredicateStrExt + Predicate<str>) {
    let root_arg = root.path().to_str().expect("UTF-8 path");
    with_config(dir, &["--root", root_arg, "check"]).assert().code(0).stderr(stderr);
}

#[test]
fn check_warns_that_user_nm_openvpn_cannot_match_networkmanager_openvpn_and_says_what_to_use() {
    nm_openvpn_account();
    let etc = config_dir(&[("50-vpn.conf", "[tunnel]\nuser = nm-openvpn\n")]);
    let warning = "[tunnel] user = nm-openvpn";
    // Without NetworkManager-openvpn, nm-openvpn is just a user.
    let (bare, _) = root_with("etc/hostname", "host\n");
    check_under(&bare, etc.path(), predicate::str::contains(warning).not());
    let plugin = "[VPN Connection]\nname=openvpn\nprogram=/usr/lib/NetworkManager/nm-openvpn-service\n";
    let (root, _) = root_with("usr/lib/NetworkManager/VPN/nm-openvpn-service.name", plugin);
    let origin = format!("{}:2", etc.path().join("50-vpn.conf").display());
    check_under(
        &root,
        etc.path(),
        predicate::str::contains(format!("vpn-firewall: warning: {warning} ({origin}) matches no packet of NetworkManager-openvpn"))
            .and(predicate::str::contains("the socket stays root's"))
            .and(predicate::str::contains("openvpn-client@NAME.service and the default user = tunnel instead")),
    );
    // A client identified otherwise, by a mark, draws no warning.
    let marked = config_dir(&[("50-vpn.conf", "[tunnel]\nuser =\nfwmark = 51821\n")]);
    check_under(&root, marked.path(), predicate::str::contains("NetworkManager-openvpn").not());
}

/// A client whose configuration marks its packets otherwise than fwmark: its file, that file's
/// text, the configuration, the warning (after the file's path) and the fix it names; then the
/// client configured with fwmark's mark.
struct Misconfigured {
    file: &'static str,
    text: &'static str,
    conf: &'static str,
    warning: [&'static str; 2],
    fix: &'static str,
    fixed: &'static str,
}

#[test]
fn check_warns_when_an_openvpn_or_wireguard_mark_cannot_be_fwmark_and_names_the_fix() {
    let cases = [
        Misconfigured {
            file: "etc/wireguard/wg0.conf",
            text: "[Interface]\nPrivateKey = x\nFwMark = 51821\n[Peer]\nAllowedIPs = 0.0.0.0/0\n",
            conf: "[tunnel]\ninterfaces = wg0\nuser =\nfwmark = 0xca6c\n",
            warning: ["WireGuard interface wg0 is marked 51821 (0xca6d) by ", ", but [tunnel] fwmark = 0xca6c"],
            fix: "set [tunnel] fwmark = 51821",
            fixed: "[Interface]\nPrivateKey = x\nFwMark = 51820\n",
        },
        // OpenVPN reads its mark as a decimal number: 0xca6d is 0.
        Misconfigured {
            file: "etc/openvpn/client/vpn.conf",
            text: "client\nremote 198.51.100.7 1194 udp\nmark 0xca6d\n",
            conf: "[tunnel]\nuser =\nfwmark = 51821\n",
            warning: ["OpenVPN's mark 0xca6d (", ":3) is no mark at all"],
            fix: "write mark 51821",
            fixed: "client\nremote 198.51.100.7 1194 udp\nmark 51821\n",
        },
    ];
    for case in cases {
        let (root, file) = root_with(case.file, case.text);
        let etc = config_dir(&[("50-vpn.conf", case.conf)]);
        let warning = format!("vpn-firewall: warning: {}{}{}", case.warning[0], file.display(), case.warning[1]);
        check_under(&root, etc.path(), predicate::str::contains(warning).and(predicate::str::contains(case.fix)));
        std::fs::write(&file, case.fixed).expect("write the fixed file");
        check_under(&root, etc.path(), predicate::str::contains("vpn-firewall: warning").not());
    }
}
