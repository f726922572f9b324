//! What `start` does with what it must refuse: an invalid or malformed configuration (an error
//! naming the file and line, exit 2), a backend it cannot use, a table changed between its load
//! and the read-back. A loaded ruleset stays exactly as it was; with none loaded, the lockdown
//! ruleset is loaded instead, so that a refusal never leaves the machine open.

use crate::common::topology::{INTERNET, INTERNET6, LAN, Probe, ROUTER, ROUTER6, Side, Topology, USER};
use crate::common::{self, Backend, ConfigDir, Netns, Run, config};
use crate::sandbox;

/// An invalid configuration: /33 is no IPv4 prefix length; the error is at line 2.
const INVALID: &str = "[lan]\nallow = 198.51.100.0/33\n";

fn an_invalid_configuration_at_first_start_loads_the_lockdown_ruleset(backend: Backend) {
    let t = Topology::new("lock", backend);
    let tunnel = [Probe::tcp(INTERNET, 7000), Probe::udp(INTERNET, 7001), Probe::tcp(INTERNET6, 7000)];
    let uplink = [Probe::tcp(ROUTER, 7002), Probe::udp(ROUTER, 7003), Probe::tcp(ROUTER6, 7002), Probe::tcp(ROUTER, 7002).as_uid(USER)];
    let loopback = [Probe::tcp("127.0.0.1", 7004), Probe::tcp("::1", 7004), Probe::tcp("127.0.0.1", 7004).as_uid(USER)];
    let all = || tunnel.iter().map(|p| (*p, Side::Tunnel)).chain(uplink.iter().map(|p| (*p, Side::Uplink)));
    for (p, side) in all() {
        t.assert_reaches(p, side, "no ruleset yet: the test network works");
    }

    let conf = ConfigDir::new(INVALID);
    let run = t.firewall(&conf, "start").expect(2);
    assert_names_line(&run, &conf.file(), 2, "not a network");
    assert_eq!(t.host.firewall_objects(), backend.loaded_objects(), "no lockdown after an invalid first start:\n{run}");
    let status = t.firewall(&conf, "status").expect(0);
    assert!(status.stdout.contains("LOCKDOWN"), "status does not say LOCKDOWN:\n{status}");

    for (p, _) in all() {
        t.assert_blocked(p, "lockdown");
    }
    for p in loopback {
        t.assert_reaches(p, Side::Host, "lockdown lets loopback pass");
    }
}

/// `start` reads the table back from the kernel and refuses one that is not what it sent. A
/// stand-in `nft` loads the ruleset with the real nft, then changes it once, as another program
/// could between load and read-back: every change must make start fail and load the lockdown.
#[test]
fn start_detects_a_table_changed_right_after_loading_it() {
    let ns = Netns::host("tamper", Backend::Nftables);
    let conf = ConfigDir::new(config(&format!("[lan]\nallow = {LAN}\n")));
    let shown = ns.firewall(conf.path(), "show").expect(0).stdout;
    let (digest_at, _) = shown.match_indices("vpn-firewall ruleset ").next().expect("show prints the table comment");
    let another_comment = format!("{}vpn-firewall ruleset 0123456789abcdef{}", &shown[..digest_at], &shown[digest_at + 37..]);
    let stand_in = tempfile::Builder::new().prefix("vpnfwk-nft").tempdir().expect("temporary directory");
    let dir = stand_in.path().display();
    // A copy of the real nft: the stand-in is mounted over the real one's path.
    let real_nft = stand_in.path().join("real-nft");
    std::fs::copy(sandbox::tool("nft", "nftables"), &real_nft).expect("cannot copy nft");
    std::fs::write(
        stand_in.path().join("nft"),
        format!(
            "#!/bin/bash\n# Runs the real nft, then once changes what it loaded.\n\
             {nft} \"$@\" || exit\n\
             if [ \"$1\" = -f ] && rm {dir}/once 2>/dev/null; then {nft} -f {dir}/tamper.nft; fi\n",
            nft = real_nft.display()
        ),
    )
    .expect("cannot write the stand-in nft");
    std::fs::set_permissions(stand_in.path().join("nft"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");

    let changes = [
        ("an extra LAN network", "add element inet vpn_firewall lan_v4 { 203.0.113.0/24 }\n".to_string()),
        ("an extra rule", "insert rule inet vpn_firewall output accept\n".into()),
        ("an accepting policy", "add chain inet vpn_firewall output { type filter hook output priority filter; policy accept; }\n".into()),
        ("a flushed chain", "flush chain inet vpn_firewall block_output\n".into()),
        ("an extra chain", "add chain inet vpn_firewall extra\n".into()),
        ("an extra set", "add set inet vpn_firewall extra { type ipv4_addr; }\n".into()),
        ("an extra counter", "add counter inet vpn_firewall extra\n".into()),
        ("another ruleset's comment", another_comment),
    ];
    for (what, change) in changes {
        std::fs::write(stand_in.path().join("tamper.nft"), change).expect("cannot write the change");
        std::fs::write(stand_in.path().join("once"), "").expect("cannot write the marker");
        let run = ns.firewall_with_nft(&stand_in.path().join("nft"), conf.path(), "start");
        assert!(!stand_in.path().join("once").exists(), "the stand-in nft was not used ({what}):\n{run}");
        assert_eq!(run.code, 1, "start accepted a table with {what}:\n{run}");
        assert!(run.stderr.contains("is not what was sent"), "start failed for another reason ({what}):\n{run}");
        let table = ns.nft(&["list", "table", "inet", "vpn_firewall"]);
        assert!(table.contains("comment \"vpn-firewall lockdown"), "no lockdown after {what}:\n{table}");
        ns.firewall(conf.path(), "flush").expect(0);
    }
    // The same stand-in without a change: start succeeds, so each failure above was the change.
    ns.firewall_with_nft(&stand_in.path().join("nft"), conf.path(), "start").expect(0);
}

fn an_invalid_configuration_leaves_a_loaded_ruleset_byte_identical(backend: Backend) {
    let ns = Netns::host("keep", backend);
    let conf = ConfigDir::new(config(""));
    ns.firewall(conf.path(), "start").expect(0);
    let before = ns.ruleset();
    conf.set(INVALID);
    let run = ns.firewall(conf.path(), "start").expect(2);
    assert_names_line(&run, &conf.file(), 2, "not a network");
    assert_eq!(ns.ruleset(), before, "start with an invalid configuration changed the loaded ruleset:\n{run}");
    let status = ns.firewall(conf.path(), "status").expect(0);
    assert!(!status.stdout.contains("LOCKDOWN"), "a loaded ruleset was replaced by the lockdown:\n{status}");
}

/// One malformed configuration, the line its error must name, and a word of the message.
struct Bad {
    what: &'static str,
    text: &'static [u8],
    line: usize,
    says: &'static str,
}

const fn bad(what: &'static str, text: &'static str, line: usize, says: &'static str) -> Bad {
    Bad { what, text: text.as_bytes(), line, says }
}

const BAD: &[Bad] = &[
    bad("unknown key", "[lan]\nalow = 10.0.0.0/8\n", 2, "unknown key"),
    bad("unknown section", "[tunnel]\nuser =\n[tunel]\nuser = vpn\n", 3, "unknown section"),
    bad("unknown empty section", "[tunnel]\nuser =\n[tunel]\n", 3, "unknown section"),
    bad("unknown key after CR LF line ends", "[tunnel]\r\nuser =\r\n[lan]\r\nalow = 1\r\n", 4, "unknown key"),
    bad("unclosed quote", "[lan]\nallow = \"10.0.0.0/8\ndns = yes\n", 2, "cannot parse"),
    bad("real key outside a section", "# lan\nallow = 10.0.0.0/8\n", 2, "outside any section"),
    bad("bad CIDR", "[lan]\n# two networks\nallow = 10.0.0.0/8, 192.168.1.0/33\n", 3, "not a network"),
    bad("not a network", "[lan]\nallow = lan\n", 2, "not a network"),
    bad("interface with nft syntax", "[tunnel]\ninterfaces = tun0; flush ruleset\n", 2, "contains ';'"),
    bad("quoted interface with nft syntax", "[tunnel]\ninterfaces = \"tun0 } accept\"\n", 2, "contains '}'"),
    bad("interface too long", "[tunnel]\n\ninterfaces = tun0123456789abc\n", 3, "longer than 15 bytes"),
    bad("bare +", "[tunnel]\ninterfaces = tun+ +\n", 2, "every interface"),
    bad("port too big", "[lan]\nincoming = 65536/tcp\n", 2, "port"),
    bad("port 0", "[tunnel]\nincoming = 0/udp\n", 2, "has port \"0\""),
    bad("range reversed", "[tunnel]\nincoming = 22/tcp, 2000-1000/tcp\n", 2, "empty range"),
    bad("bad protocol", "[lan]\nincoming = 22/icmp\n", 2, "protocol"),
    bad("port without protocol", "[lan]\nincoming = 22\n", 2, "no protocol"),
    bad("endpoint with a host name", "[tunnel]\nservers = vpn.example.org:1194/udp\n", 2, "names are not resolved"),
    bad("v6 endpoint without brackets", "[tunnel]\nservers = 2001:db8::7:1194/udp\n", 2, "not an IP address endpoint"),
    bad("endpoint without protocol", "[tunnel]\nservers = 198.51.100.7:1194\n", 2, "no protocol"),
    bad("fwmark 0", "[tunnel]\nfwmark = 0x0\n", 2, "every unmarked packet"),
    bad("fwmark too big", "[tunnel]\nfwmark = 0x100000000\n", 2, "not a 32-bit number"),
    bad("bad boolean", "[lan]\n; comment\ndns = maybe\n", 3, "not a boolean"),
    bad("bad log_rate unit", "[firewall]\nlog_rate = 10/fortnight\n", 2, "unit"),
    bad("log_rate zero", "[firewall]\nlog_rate = 0/minute\n", 2, "count"),
    bad("user that does not exist", "[tunnel]\nuser = vpnfwk-no-such-user\n", 2, "does not exist"),
    bad("uid 2^32-1", "[tunnel]\nuser = 4294967295\n", 2, "does not exist"),
    bad("group that does not exist", "[tunnel]\ngroup = vpnfwk-no-such-group\n", 2, "does not exist"),
    bad("forwarding without interfaces", "[forward]\nenable = yes\n", 2, "interfaces is empty"),
    bad("bad forward.dns", "[forward]\ndns = resolver.example\n", 2, "not an IP address"),
    bad("bad backend", "[firewall]\nbackend = pf\n", 2, "not a backend"),
    bad("line without =", "[lan]\nallow 10.0.0.0/8\n", 2, "cannot parse"),
    bad("line of only a value", "[lan]\n= 10.0.0.0/8\n", 2, "cannot parse"),
    bad("unclosed section", "[tunnel]\nuser =\n[lan\nallow = 10.0.0.0/8\n", 3, "cannot parse"),
    bad("junk after a section", "[lan] allow\n", 1, "cannot parse"),
    bad("unknown legacy key", "VPN_IFACE=\"tun0\"\n", 1, "unknown key"),
    bad("bad legacy value", "# from the old vpn-firewall\nLOCAL_NET=\"10.0.0.0/99\"\n", 2, "not a network"),
    Bad { what: "non-UTF-8 bytes", text: b"[lan]\n# caf\xe9\nallow = 10.0.0.0/8\n", line: 2, says: "UTF-8" },
];

/// The run failed with exactly one error line, naming `FILE:LINE` and saying `says`, and
/// did not panic.
fn assert_names_line(run: &Run, file: &std::path::Path, line: usize, says: &str) {
    if let Err(e) = names_line(run, file, line, says) {
        panic!("{e}");
    }
}

fn names_line(run: &Run, file: &std::path::Path, line: usize, says: &str) -> Result<(), String> {
    let location = format!("{}:{line}: ", file.display());
    let errors = run.error_lines();
    if run.code != 2 {
        return Err(format!("exit {} instead of 2", run.code));
    }
    if run.stderr.contains("panicked") {
        return Err("it panicked".into());
    }
    match errors.as_slice() {
        [one] if one.contains(&location) && one.contains(says) => Ok(()),
        [one] => Err(format!("the error line does not name {location:?} and say {says:?}: {one}")),
        _ => Err(format!("{} error lines instead of one", errors.len())),
    }
}

fn malformed_configurations_are_refused_naming_file_and_line(backend: Backend) {
    let ns = Netns::host("bad", backend);
    let valid = ConfigDir::new(config(""));
    ns.firewall(valid.path(), "start").expect(0);
    let mut loaded = ns.ruleset();
    let mut failures = Vec::new();
    for case in BAD {
        let conf = ConfigDir::new(case.text);
        conf.write("10-base.conf", config(""));
        for command in ["check", "start"] {
            let run = ns.firewall(conf.path(), command);
            if let Err(e) = names_line(&run, &conf.file(), case.line, case.says) {
                failures.push(format!("{} ({command}): {e}\n{run}", case.what));
            }
            if ns.ruleset() != loaded {
                failures.push(format!("{} ({command}): the loaded ruleset changed\n{run}", case.what));
                ns.firewall(valid.path(), "start").expect(0);
                loaded = ns.ruleset();
            }
        }
    }
    assert!(failures.is_empty(), "{} problems with {} malformed configurations (check and start each):\n\n{}", failures.len(), BAD.len(), failures.join("\n"));
}

#[test]
fn a_first_start_that_cannot_use_its_backend_still_locks_down() {
    // The iptables backend asked for a variant that does not exist: a start with a valid or an
    // invalid configuration must not leave a machine with nothing loaded open; the lockdown is
    // loaded with nftables instead.
    for (text, code) in [(config(""), 1), (INVALID.to_string(), 2)] {
        let ns = Netns::host("nobackend", Backend::Nftables);
        let conf = ConfigDir::new(&text);
        let mut cmd = ns.command(common::binary());
        cmd.env("VPN_FIREWALL_IPTABLES", "bogus").args(["--backend", "iptables", "--config-dir"]).arg(conf.path()).arg("start");
        let run = common::run(cmd, "").expect(code);
        assert_eq!(ns.firewall_objects(), ["inet vpn_firewall"], "no lockdown with nftables after a start that could not apply:\n{run}");
        let status = ns.firewall(conf.path(), "status").expect(0);
        assert!(status.stdout.contains("LOCKDOWN"), "status does not say LOCKDOWN:\n{status}");
        if code == 2 {
            assert_names_line(&run, &conf.file(), 2, "not a network");
        }
    }
}

fn an_invalid_configuration_naming_iptables_locks_down_with_iptables(backend: Backend) {
    // No --backend: the lockdown takes the configuration's backend, though the configuration
    // is invalid, when that one value is valid.
    let ns = Netns::host("lockipt", backend);
    let conf = ConfigDir::new(format!("[firewall]\nbackend = iptables\n{INVALID}"));
    let mut cmd = ns.command(common::binary());
    backend.host_iptables(&mut cmd);
    cmd.arg("--config-dir").arg(conf.path()).arg("start");
    let run = common::run(cmd, "").expect(2);
    assert_eq!(ns.firewall_objects(), backend.loaded_objects(), "no iptables lockdown:\n{run}");
    assert!(!ns.tables().iter().any(|t| t.contains("vpn_firewall")), "the lockdown went to nftables:\n{run}");
    let status = ns.firewall(conf.path(), "status").expect(0);
    assert!(status.stdout.contains("LOCKDOWN"), "status does not say LOCKDOWN:\n{status}");
}

backend_tests! {
    every: [
    an_invalid_configuration_at_first_start_loads_the_lockdown_ruleset,
    an_invalid_configuration_leaves_a_loaded_ruleset_byte_identical,
    malformed_configurations_are_refused_naming_file_and_line,
    ],
    iptables: [an_invalid_configuration_naming_iptables_locks_down_with_iptables],
}
