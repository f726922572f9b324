//! `check` and the plugin's hooks on Qubes OS: the qube's own drop-ins, its virtual DNS
//! addresses, and the rules loaded again after Qubes' own firewall services.

use super::*;

/// A Qubes OS qube simulated under a temporary root: /usr/lib/qubes, the virtual DNS addresses
/// in /var/run/qubes/qubes-ns, and the qube's own drop-ins (`own`) in /rw/config/vpn-firewall.
fn qubes_root(qubes_ns: &str, own: &[(&str, &str)]) -> TempDir {
    let root = tempfile::tempdir().expect("temporary directory");
    for dir in ["usr/lib/qubes", "var/run/qubes", "rw/config/vpn-firewall"] {
        std::fs::create_dir_all(root.path().join(dir)).expect("create the simulated qube");
    }
    std::fs::write(root.path().join("var/run/qubes/qubes-ns"), qubes_ns).expect("write qubes-ns");
    for (name, text) in own {
        std::fs::write(root.path().join("rw/config/vpn-firewall").join(name), text).expect("write a drop-in");
    }
    root
}

const QUBES_NS: &str = "NS1=10.139.1.1\nNS2=10.139.1.2\n";

#[test]
fn on_qubes_check_reads_the_qubes_own_drop_ins_after_the_configuration_directory() {
    let etc = config_dir(&[("50-local.conf", "[forward]\nenable = yes\ndns = 198.51.100.53\n[lan]\nallow = 10.0.0.0/8\n")]);
    let root = qubes_root(QUBES_NS, &[("10-vpn.conf", "# this qube's resolver\n[forward]\ndns = 203.0.113.53\n")]);
    let (local, own) = (etc.path().join("50-local.conf"), root.path().join("rw/config/vpn-firewall/10-vpn.conf"));
    let root_arg = root.path().to_str().expect("UTF-8 path");
    let out = with_config(etc.path(), &["--root", root_arg, "check"]).assert().code(0).get_output().stdout.clone();
    let text = String::from_utf8(out).expect("UTF-8 output");
    let all = parse_check(&text);
    assert_eq!(find(&all, "forward", "dns").value, "203.0.113.53", "the qube's own drop-in is read last");
    assert_eq!(find(&all, "forward", "dns").note, format!("{}:3", own.display()));
    assert_eq!(find(&all, "forward", "enable").note, format!("{}:2", local.display()));
    let interfaces = find(&all, "forward", "interfaces");
    assert_eq!((interfaces.value.as_str(), interfaces.note.as_str()), ("vif+", "default on Qubes OS"));
    let read: Vec<&str> = text.lines().filter(|l| l.starts_with("# read ")).collect();
    assert_eq!(read, [format!("# read {}", local.display()), format!("# read {}", own.display())]);
    assert!(text.contains("# DNS of the qubes behind, to 10.139.1.1 10.139.1.2 (") && text.contains("): redirected to 203.0.113.53 (forward.dns)"), "{text}");

    let mut from_env = vpn_firewall(&["--config-dir", etc.path().to_str().expect("UTF-8 path"), "check"]);
    from_env.env("VPN_FIREWALL_ROOT", root.path());
    assert_eq!(find(&effective(from_env), "forward", "dns").value, "203.0.113.53", "VPN_FIREWALL_ROOT as --root");

    // Without /usr/lib/qubes no qube: no Qubes default, and /rw is not read.
    std::fs::remove_dir(root.path().join("usr/lib/qubes")).expect("remove the marker");
    with_config(etc.path(), &["--root", root_arg, "check"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("forwarding is enabled but [forward] interfaces is empty"));
    std::fs::write(etc.path().join("60-inside.conf"), "[forward]\ninterfaces = eth1\n").expect("write a drop-in");
    assert_eq!(find(&check(etc.path()), "forward", "dns").value, "198.51.100.53");
    assert_eq!(find(&effective(with_config(etc.path(), &["--root", root_arg, "check"])), "forward", "dns").value, "198.51.100.53");
}

#[test]
fn on_qubes_check_warns_when_forward_dns_cannot_serve_the_qubes_behind() {
    let etc = config_dir(&[("50-local.conf", "[forward]\nenable = yes\n[tunnel]\nipv6 = yes\n")]);
    let cases = [
        (QUBES_NS, "dns = 10.139.1.1", "[forward] dns 10.139.1.1 is a virtual DNS address of Qubes"),
        (QUBES_NS, "dns = fd00::53", "[forward] dns fd00::53 is not of the family of the virtual DNS addresses the qubes behind use (10.139.1.1 10.139.1.2)"),
        ("NS1=10.139.1.300\n", "dns = 203.0.113.53", "qubes-ns: line 1: NS1 \"10.139.1.300\" is not an IP address"),
    ];
    for (qubes_ns, dns, warning) in cases {
        let root = qubes_root(qubes_ns, &[("50-vpn.conf", &format!("[forward]\n{dns}\n"))]);
        let root_arg = root.path().to_str().expect("UTF-8 path");
        with_config(etc.path(), &["--root", root_arg, "check"]).assert().code(0).stderr(predicate::str::contains(warning));
    }
}

#[test]
fn the_qubes_drop_ins_load_the_rules_again_after_qubes_own_firewall_services() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/qubes");
    for (service, failure_ignored) in [("qubes-iptables", false), ("qubes-firewall", true)] {
        let path = dir.join(format!("{service}.service.d/50-vpn-firewall.conf"));
        let unit = ini::Ini::load_from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let command = unit.get_from(Some("Service"), "ExecStartPost").unwrap_or_else(|| panic!("{}: no ExecStartPost", path.display()));
        assert_eq!(command, if failure_ignored { "-/usr/sbin/vpn-firewall start" } else { "/usr/sbin/vpn-firewall start" }, "{}", path.display());
        let order = unit.section(Some("Unit")).and_then(|u| u.get("Before").or(u.get("After")));
        assert_eq!(order, Some("netfilter-persistent.service"), "{}", path.display());
    }
    // The command it runs is one vpn-firewall has.
    vpn_firewall(&["start", "--help"]).assert().code(0);
}
