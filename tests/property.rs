//! Properties over many configurations:
//! - any valid configuration renders to a ruleset nft accepts (`nft -c`, in a fresh network
//!   namespace) that keeps the kill switch's shape: every base chain drops by policy and ends in
//!   its block chain, and the output chain never accepts by connection state;
//! - and to iptables rules, with ipset or without, that iptables-nft or iptables-legacy loads
//!   (for real, in a fresh network namespace thrown away after) with the same shape: each of our
//!   chains ends in its block chain and is jumped to first from its built-in chain, the filter
//!   chains' policies become DROP, and the egress chains never match connection state;
//! - any valid configuration, with every key, gives a netlink batch of the guard's layers (both
//!   tables, or with the iptables backend the guard's own) that the kernel lists as it lists
//!   their nft text, each loaded in a fresh network namespace (`sandbox::netlink`); the
//!   lockdown ruleset too;
//! - in gateway mode, no accept rule of postrouting lets a forwarded packet out of an interface
//!   that is neither the tunnel nor the inside;
//! - any file content at all gives a configuration or errors that name the file and the line,
//!   never a panic.

mod sandbox;

use ipnet::Ipv6Net;
use proptest::prelude::*;
use proptest::sample::select;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vpn_firewall::accounts::FixedAccounts;
use vpn_firewall::config::schema::{KEYS, LEGACY};
use vpn_firewall::config::{ConfigErrors, RawConfig};
use vpn_firewall::iptables::saved;
use vpn_firewall::policy::{Family, Hook, Match, Policy, Rule, Verdict};
use vpn_firewall::render_iptables::{Found, block_chain, builtin, chain as our_chain, ipsets, jump, render_ipset, render_iptables};
use vpn_firewall::render_nft::{Layer, render_nft};
use vpn_firewall::settings::{BackendChoice, Settings};
use vpn_firewall::values::Interface;

const ACCOUNTS: FixedAccounts = FixedAccounts(&[("tunnel", 999), ("vpn", 1001), ("root", 0), ("systemd-network", 998), ("dhcpcd", 997)]);
const FILE: &str = "50-property.conf";

/// Loads and validates a directory holding `content` as its one drop-in: its settings and
/// policy, and its path.
fn load(content: &[u8]) -> (tempfile::TempDir, Result<(Settings, Policy), ConfigErrors>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join(FILE), content).expect("write the drop-in");
    let policy = RawConfig::load(dir.path()).and_then(|raw| Settings::validate(&raw, &ACCOUNTS)).map(|v| {
        let policy = Policy::from_settings(&v.settings);
        (v.settings, policy)
    });
    (dir, policy)
}

// ---- valid configurations -------------------------------------------------------------------

/// One `key = value` line of a section.
#[derive(Debug, Clone)]
struct Line {
    section: &'static str,
    key: &'static str,
    value: String,
}

/// Either no line for the key, or one with a value from `values`.
fn maybe(section: &'static str, key: &'static str, values: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Vec<Line>> {
    proptest::option::of(values).prop_map(move |v| v.map(|value| Line { section, key, value }).into_iter().collect()).boxed()
}

/// A list of 0 to `max` items from `item`, joined by any of the separators the format allows.
fn list(item: impl Strategy<Value = String>, max: usize) -> impl Strategy<Value = String> {
    (proptest::collection::vec(item, 0..=max), select(vec![", ", " ", ",", " , ", "\t"])).prop_map(|(items, separator)| items.join(separator))
}

fn boolean() -> impl Strategy<Value = String> {
    select(vec!["yes", "no", "true", "false", "on", "off", "1", "0", "Yes", "NO", "True", "oFF"]).prop_map(String::from)
}

/// A tunnel interface name or pattern; none starts with `v`, which the inside's do, so that the
/// two never overlap (an error).
fn interface() -> impl Strategy<Value = String> {
    interface_from("[a-uw-zA-Z0-9_.-][a-zA-Z0-9_.-]{0,13}")
}

fn interface_from(regex: &'static str) -> impl Strategy<Value = String> {
    (regex, any::<bool>())
        .prop_filter(". and .. are no interface names", |(name, _)| name != "." && name != "..")
        .prop_map(|(name, pattern)| if pattern { format!("{name}+") } else { name })
}

fn proto() -> impl Strategy<Value = &'static str> {
    select(vec!["tcp", "udp", "TCP", "Udp"])
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![1..=65535u16, select(vec![1u16, 22, 53, 443, 1194, 51820, 65535])]
}

/// `PORT/PROTO` or `LOW-HIGH/PROTO`, often overlapping one another near 8000 and the edges.
fn port_range() -> impl Strategy<Value = String> {
    let low = prop_oneof![port(), 7990..8010u16];
    (low, prop_oneof![Just(0u16), 0..30u16, 0..=65535u16], proto()).prop_map(|(low, width, proto)| match low.saturating_add(width) {
        high if high == low => format!("{low}/{proto}"),
        high => format!("{low}-{high}/{proto}"),
    })
}

/// An IPv4 or IPv6 network or bare address; many fall inside one another (10.0.0.0/8, fd00::/8).
fn network() -> impl Strategy<Value = String> {
    let v4 = prop_oneof![any::<u32>(), (0u32..4).prop_map(|x| 0x0a00_0000 | (x << 16))].prop_map(Ipv4Addr::from);
    let v6 = prop_oneof![any::<u128>(), (0u128..4).prop_map(|x| (0xfd00 << 112) | (x << 64))].prop_map(Ipv6Addr::from);
    prop_oneof![
        (v4.clone(), 0u8..=32).prop_map(|(a, p)| format!("{a}/{p}")),
        v4.prop_map(|a| a.to_string()),
        (v6.clone(), 0u8..=128).prop_map(|(a, p)| format!("{a}/{p}")),
        v6.prop_map(|a| a.to_string()),
    ]
}

fn endpoint() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<u32>().prop_map(Ipv4Addr::from), port(), proto()).prop_map(|(a, p, t)| format!("{a}:{p}/{t}")),
        (any::<u128>().prop_map(Ipv6Addr::from), port(), proto()).prop_map(|(a, p, t)| format!("[{a}]:{p}/{t}")),
        select(vec!["198.51.100.7:1194/udp", "[2001:db8::7]:51820/udp"]).prop_map(String::from),
    ]
}

fn account() -> impl Strategy<Value = String> {
    // Root (0) is refused: it would exempt every root process.
    prop_oneof![select(vec!["", "tunnel", "vpn"]).prop_map(String::from), (1..u32::MAX).prop_map(|id| id.to_string())]
}

fn fwmark() -> impl Strategy<Value = String> {
    (1..=u32::MAX, 0..3u8).prop_map(|(mark, style)| match style {
        0 => mark.to_string(),
        1 => format!("{mark:#x}"),
        _ => format!("0X{mark:X}"),
    })
}

/// `[forward]`: enabling it needs internal interfaces, so `enable` is true only with them.
fn forward() -> BoxedStrategy<Vec<Line>> {
    let inside = interface_from("v[a-zA-Z0-9_.-]{0,13}");
    let interfaces = proptest::option::of(proptest::collection::vec(inside, 1..=3).prop_map(|i| i.join(" ")));
    (any::<bool>(), interfaces, maybe("forward", "masquerade", boolean()), maybe("forward", "dns", resolver_address()))
        .prop_map(|(enable, interfaces, masquerade, dns)| {
            let mut lines = vec![Line { section: "forward", key: "enable", value: (enable && interfaces.is_some()).to_string() }];
            lines.extend(interfaces.map(|value| Line { section: "forward", key: "interfaces", value }));
            lines.into_iter().chain(masquerade).chain(dns).collect()
        })
        .boxed()
}

/// An address that can receive redirected DNS: not loopback, unspecified, multicast or broadcast.
fn resolver_address() -> impl Strategy<Value = String> {
    prop_oneof![any::<u32>().prop_map(|a| IpAddr::from(Ipv4Addr::from(a))), any::<u128>().prop_map(|a| IpAddr::from(Ipv6Addr::from(a)))]
        .prop_filter("cannot receive redirected DNS", |a| {
            !(a.is_loopback() || a.is_unspecified() || a.is_multicast() || *a == IpAddr::from(Ipv4Addr::BROADCAST))
        })
        .prop_map(|a| a.to_string())
}

/// A valid configuration: a random subset of the keys, each with a random valid value.
fn valid_config() -> impl Strategy<Value = String> {
    config(false)
}

/// A configuration with a random subset of every key, also those of local interfaces, multicast,
/// tap and DHCP users, which `valid_config` leaves out for the gateway property (a local
/// interface is a way out for forwarded packets). Now and then one is refused: a local interface
/// that matches a tunnel pattern, or this machine's uplink.
fn every_key_config() -> impl Strategy<Value = String> {
    config(true)
}

/// A local interface (a container or VM bridge): none starts with `v`, which the inside's do.
fn local_interface() -> impl Strategy<Value = String> {
    prop_oneof![select(vec!["docker0", "br-+", "lxcbr0", "podman+", "incusbr0"]).prop_map(String::from), interface_from("br-[a-z0-9]{1,8}")]
}

fn dhcp_user() -> impl Strategy<Value = String> {
    select(vec!["root", "systemd-network", "dhcpcd", "0", "998", "4242"]).prop_map(String::from)
}

/// A random subset of the keys, each with a random valid value; with `every_key`, also the keys
/// of `every_key_config`.
fn config(every_key: bool) -> impl Strategy<Value = String> {
    let only = |part: BoxedStrategy<Vec<Line>>| if every_key { part } else { Just(Vec::new()).boxed() };
    let parts = vec![
        maybe("tunnel", "interfaces", list(interface(), 4)),
        only(maybe("tunnel", "tap", boolean())),
        maybe("tunnel", "user", account()),
        maybe("tunnel", "group", account()),
        maybe("tunnel", "fwmark", fwmark()),
        // Up to more entries than the iptables backend matches rule by rule.
        maybe("tunnel", "servers", list(endpoint(), 20)),
        maybe("tunnel", "ipv6", boolean()),
        maybe("tunnel", "incoming", list(port_range(), 6)),
        maybe("lan", "allow", list(network(), 24)),
        maybe("lan", "dns", boolean()),
        maybe("lan", "dhcp", boolean()),
        only(maybe("lan", "dhcp_users", list(dhcp_user(), 3))),
        maybe("lan", "incoming", list(port_range(), 6)),
        only(maybe("lan", "interfaces", list(local_interface(), 3))),
        only(maybe("lan", "multicast", boolean())),
        forward(),
        maybe("firewall", "backend", select(vec!["auto", "nftables", "nft", "iptables"]).prop_map(String::from)),
        maybe("firewall", "log", boolean()),
        maybe("firewall", "log_rate", (1..=10_000u32, select(vec!["second", "minute", "hour", "Minute"])).prop_map(|(n, u)| format!("{n}/{u}"))),
        maybe("firewall", "reject", boolean()),
    ];
    (parts, select(vec![" = ", "=", " =  "])).prop_map(|(parts, equals)| {
        let mut text = String::new();
        let mut section = "";
        for line in parts.into_iter().flatten() {
            if line.section != section {
                section = line.section;
                text.push_str(&format!("[{section}]\n"));
            }
            text.push_str(&format!("{}{equals}{}\n", line.key, line.value));
        }
        text
    })
}

/// The chain `name`'s lines, without its braces.
fn chain<'a>(ruleset: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("\tchain {name} {{");
    ruleset.lines().skip_while(|l| *l != header).skip(1).take_while(|l| *l != "\t}").map(str::trim).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_valid_configuration_renders_a_ruleset_nft_accepts(config in valid_config()) {
        let (_dir, loaded) = load(config.as_bytes());
        let (_, policy) = loaded.unwrap_or_else(|e| panic!("a valid configuration was refused:\n{e}\n--- config ---\n{config}"));
        let ruleset = render_nft(&policy);
        for hook in ["input", "output", "forward", "postrouting"] {
            let lines = chain(&ruleset, hook);
            let (first, last) = (lines.first().map(|l| l.to_string()), lines.last().map(|l| l.to_string()));
            prop_assert_eq!(first, Some(format!("type filter hook {hook} priority filter; policy drop;")));
            prop_assert_eq!(last, Some(format!("goto block_{hook}")));
        }
        for egress in ["output", "postrouting"] {
            prop_assert!(!chain(&ruleset, egress).iter().any(|l| l.contains("ct state")), "{} accepts by state:\n{}", egress, ruleset);
        }
        if let Err(complaint) = sandbox::nft_check_text(&ruleset) {
            panic!("{complaint}\n--- config ---\n{config}\n--- ruleset ---\n{ruleset}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_valid_configuration_renders_rules_iptables_loads(config in valid_config(), ipset: bool, legacy: bool) {
        let (_dir, policy) = load(config.as_bytes());
        let (_, policy) = policy.unwrap_or_else(|e| panic!("a valid configuration was refused:\n{e}\n--- config ---\n{config}"));
        let sets = ipsets(&policy, ipset);
        let [v4, v6] = [Family::V4, Family::V6].map(|f| render_iptables(&policy, f, &sets, &Found::fresh()));
        for text in [&v4, &v6] {
            let rules = saved::parse(text);
            for hook in Hook::ALL {
                let (table, builtin) = builtin(hook);
                let ours = rules.chain(table.name(), &our_chain(hook)).map(|c| c.rules.clone()).unwrap_or_default();
                prop_assert_eq!(ours.last().map(|r| r.spec.clone()), Some(format!("-g {}", block_chain(hook))), "{}", text);
                if matches!(hook, Hook::Output | Hook::Postrouting) {
                    prop_assert!(!ours.iter().any(|r| r.spec.contains("conntrack")), "{} accepts by state:\n{}", hook.name(), text);
                }
                prop_assert!(text.contains(&format!("\n-I {builtin} 1 {}\n", jump(hook))), "no jump from {}:\n{}", builtin, text);
            }
            for builtin in ["INPUT", "FORWARD", "OUTPUT"] {
                prop_assert!(text.contains(&format!("\n-P {builtin} DROP\n")), "{} is not set to DROP:\n{}", builtin, text);
            }
        }
        let variant = if legacy { "legacy" } else { "nft" };
        if let Err(complaint) = sandbox::iptables_load(&render_ipset(&sets, false), &v4, &v6, variant) {
            panic!("{complaint}\n--- config ---\n{config}\n--- IPv4 ---\n{v4}\n--- IPv6 ---\n{v6}");
        }
    }
}

/// The layers the guard loads by netlink: with the iptables backend only its own table (the
/// main layer is iptables' chains); `auto` is either, as the tools installed decide.
fn guard_layers(backend: BackendChoice, auto_is_iptables: bool) -> &'static [Layer] {
    match backend {
        BackendChoice::Iptables => &[Layer::Guard],
        BackendChoice::Auto if auto_is_iptables => &[Layer::Guard],
        BackendChoice::Auto | BackendChoice::Nftables => &[Layer::Main, Layer::Guard],
    }
}

proptest! {
    // Each case loads rules in two namespaces: about 0.1 s. Failures are kept in
    // proptest-regressions/ and tried first on the next run.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_valid_configuration_loads_by_netlink_as_its_text_does(config in every_key_config(), auto_is_iptables: bool) {
        let (_dir, loaded) = load(config.as_bytes());
        prop_assume!(loaded.is_ok(), "refused: {}", loaded.err().map(|e| e.to_string()).unwrap_or_default());
        let (settings, policy) = loaded.expect("assumed");
        let layers = guard_layers(settings.firewall.backend, auto_is_iptables);
        if let Err(divergence) = sandbox::netlink::lists_as_text(&policy, layers) {
            return Err(TestCaseError::fail(format!("{divergence}\n--- layers ---\n{layers:?}\n--- config ---\n{config}")));
        }
    }
}

/// The lockdown ruleset, which the guard loads when a policy could not be, with either backend.
#[test]
fn the_lockdown_ruleset_loads_by_netlink_as_its_text_does() {
    for layers in [&[Layer::Main, Layer::Guard][..], &[Layer::Guard]] {
        sandbox::netlink::lists_as_text(&Policy::lockdown(), layers).unwrap_or_else(|e| panic!("{layers:?}: {e}"));
    }
}

/// Whether an accept rule of postrouting can let a forwarded packet out of an interface that is
/// neither the tunnel nor the inside (nor loopback): it may, unless it names such an interface,
/// needs this machine's own source address or socket, or a destination never forwarded.
fn lets_forwarded_out_elsewhere(rule: &Rule, s: &Settings) -> bool {
    let pinned: Vec<&Interface> = s.tunnel.interfaces.iter().chain(&s.forward.interfaces).collect();
    let never_forwarded6: [Ipv6Net; 2] = ["fe80::/10".parse().unwrap(), "ff02::/16".parse().unwrap()];
    !rule.matches.iter().any(|m| match m {
        Match::OutIface(i) => i.to_string() == "lo" || pinned.contains(&i),
        Match::SaddrLocal | Match::Uid(_) | Match::Gid(_) => true,
        Match::IpDaddr(nets) => nets.iter().all(|n| n.to_string() == "255.255.255.255/32"),
        Match::Ip6Daddr(nets) => nets.iter().all(|n| never_forwarded6.iter().any(|scope| scope.contains(n))),
        _ => false,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn in_gateway_mode_postrouting_lets_forwarded_packets_out_only_to_the_tunnel_or_the_inside(
        config in valid_config(),
        inside in interface_from("v[a-zA-Z0-9_.-]{0,13}"),
    ) {
        let config = format!("{config}[forward]\nenable = yes\ninterfaces = {inside}\n");
        let (_dir, loaded) = load(config.as_bytes());
        let (settings, policy) = loaded.unwrap_or_else(|e| panic!("a valid configuration was refused:\n{e}\n--- config ---\n{config}"));
        for rule in policy.postrouting.iter().filter(|r| r.verdict == Verdict::Accept) {
            prop_assert!(!lets_forwarded_out_elsewhere(rule, &settings), "{:?} lets forwarded packets out\n--- config ---\n{}", rule, config);
        }
    }
}

// ---- any content ----------------------------------------------------------------------------

/// Asserts that `content` gives a policy that renders, or errors that each name the file and a
/// line of it.
fn errors_name_file_and_line(content: &[u8]) -> Result<(), TestCaseError> {
    let (dir, result) = load(content);
    let errors = match result {
        Ok((_, policy)) => {
            render_nft(&policy);
            return Ok(());
        }
        Err(errors) => errors,
    };
    prop_assert!(!errors.0.is_empty());
    let prefix = format!("{}:", dir.path().join(FILE).display());
    // Lines end in LF, CRLF or a lone CR: this bounds their number.
    let lines = 1 + content.iter().filter(|b| **b == b'\n' || **b == b'\r').count();
    for error in &errors.0 {
        let text = error.to_string();
        let rest = text.strip_prefix(&prefix);
        prop_assert!(rest.is_some(), "{:?} does not start with {:?}", text, prefix);
        let line = rest.and_then(|r| r.split_once(": ")).and_then(|(line, _)| line.parse::<usize>().ok());
        let end = lines;
        prop_assert!(line.is_some_and(|l| (1..=end).contains(&l)), "{:?} names no line from 1 to {}", text, end);
    }
    Ok(())
}

/// A line that is nearly a configuration line: sections and keys known, legacy, misspelt or
/// random, values valid or random, comments, quotes, stray brackets and equals signs.
fn ini_line() -> impl Strategy<Value = String> {
    let known_sections: Vec<String> = KEYS.iter().map(|k| k.section.to_string()).collect();
    let known_keys: Vec<String> = KEYS.iter().map(|k| k.key.to_string()).chain(LEGACY.iter().map(|l| l.0.to_string())).collect();
    let section = prop_oneof![select(known_sections), "[a-zA-Z_ ]{0,8}", "\\PC{0,10}"];
    let key = prop_oneof![select(known_keys), "[a-zA-Z_]{1,10}", "\\PC{0,10}"];
    let value = prop_oneof![
        Just(String::new()),
        boolean(),
        list(network(), 3),
        list(port_range(), 3),
        list(endpoint(), 2),
        list(interface(), 2),
        fwmark(),
        "\"[^\"\n]{0,12}\"?",
        "'[^'\n]{0,12}'?",
        "\\PC{0,20}",
    ];
    prop_oneof![
        3 => (section.clone(), select(vec!["", " # c", " ; c", "]", " junk"])).prop_map(|(s, tail)| format!("[{s}]{tail}")),
        6 => (key, select(vec!["=", " = ", ":", " =\t"]), value, select(vec!["", " # c", " ;c", "#", " \\"])).prop_map(|(k, eq, v, tail)| format!("{k}{eq}{v}{tail}")),
        1 => select(vec!["", "# comment", "; comment", "   ", "[", "]", "=", "= value", "[]", "[[lan]]", "\\", "key"]).prop_map(String::from),
        1 => "\\PC{0,30}",
        1 => section.prop_map(|s| format!("[{s}")),
    ]
}

fn ini_text() -> impl Strategy<Value = Vec<u8>> {
    (proptest::collection::vec(ini_line(), 0..12), select(vec!["\n", "\r\n", "\r"]), any::<bool>()).prop_map(|(lines, newline, last)| {
        let mut text = lines.join(newline);
        if last {
            text.push_str(newline);
        }
        text.into_bytes()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_give_settings_or_errors_naming_file_and_line(content in proptest::collection::vec(any::<u8>(), 0..400)) {
        errors_name_file_and_line(&content)?;
    }

    #[test]
    fn random_text_gives_settings_or_errors_naming_file_and_line(content in "\\PC{0,200}(\n\\PC{0,80}){0,6}") {
        errors_name_file_and_line(content.as_bytes())?;
    }

    #[test]
    fn random_ini_gives_settings_or_errors_naming_file_and_line(content in ini_text()) {
        errors_name_file_and_line(&content)?;
    }
}
