//! Golden rulesets: representative configurations rendered through the library for each backend,
//! compared with tests/golden/NAME.nft and tests/golden/NAME.iptables, and each checked by the
//! backend's own tools in a fresh network namespace: `nft -c`; ipset, iptables-restore and
//! ip6tables-restore of both iptables variants, loading for real in a namespace thrown away
//! after. A change to the rendered rules shows up as a diff of these files, to be read as a
//! security review.
//!
//! The iptables files are rendered as with ipset installed, so that long lists show as sets.
//!
//! The nftables cases are loaded both ways the program loads them, the text with `nft -f` and
//! the guard's netlink batch (`render_netlink`), each in a fresh namespace, and nft's listings
//! of the two compared (`netlink::*`).
//!
//! `UPDATE_GOLDEN=1 cargo test --test golden` (re)writes the files instead of comparing.

mod sandbox;

use std::path::PathBuf;
use vpn_firewall::accounts::FixedAccounts;
use vpn_firewall::config::RawConfig;
use vpn_firewall::policy::{Family, Policy};
use vpn_firewall::qubes::{self, Qubes};
use vpn_firewall::render_iptables::{Found, ipsets, render_all, render_ipset, render_iptables};
use vpn_firewall::render_nft::{Layer, render_nft};
use vpn_firewall::settings::Settings;

/// The accounts every golden configuration is validated with: the default user `tunnel` exists.
const ACCOUNTS: FixedAccounts = FixedAccounts(&[("tunnel", 999), ("vpn", 1001), ("root", 0), ("systemd-network", 998), ("dhcpcd", 997)]);

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The policy of a configuration directory holding `text` as its one drop-in (none if empty).
fn configured(text: &str) -> Policy {
    let dir = tempfile::tempdir().expect("temporary directory");
    if !text.is_empty() {
        std::fs::write(dir.path().join("50-golden.conf"), text).expect("write the drop-in");
    }
    let raw = RawConfig::load(dir.path()).unwrap_or_else(|e| panic!("{text:?} does not load:\n{e}"));
    policy_of(&raw, text)
}

/// The policy of a Qubes OS qube, simulated under a temporary root: `etc` is the drop-in of the
/// configuration directory, `rw` the qube's own in /rw/config/vpn-firewall.
fn configured_on_qubes(etc: &str, rw: &str) -> Policy {
    let root = tempfile::tempdir().expect("temporary directory");
    let (conf, own) = (root.path().join("etc/vpn-firewall"), root.path().join("rw/config/vpn-firewall"));
    for dir in ["usr/lib/qubes", "etc/vpn-firewall", "rw/config/vpn-firewall", "var/run/qubes"] {
        std::fs::create_dir_all(root.path().join(dir)).expect("create the simulated qube");
    }
    std::fs::write(conf.join("50-golden.conf"), etc).expect("write the drop-in");
    std::fs::write(own.join("50-golden.conf"), rw).expect("write the drop-in");
    std::fs::write(root.path().join("var/run/qubes/qubes-ns"), "NS1=10.139.1.1\nNS2=10.139.1.2\n").expect("write qubes-ns");
    let qubes = Qubes::detect(root.path()).expect("the simulated root is a qube");
    let raw = RawConfig::load_dirs(&qubes::config_dirs(&conf, Some(&qubes)), &qubes::defaults(Some(&qubes)))
        .unwrap_or_else(|e| panic!("{etc:?} and {rw:?} do not load:\n{e}"));
    policy_of(&raw, rw)
}

fn policy_of(raw: &RawConfig, text: &str) -> Policy {
    // With no uplink: the golden files do not depend on this machine's default routes.
    let validated = Settings::validate_with(raw, &ACCOUNTS, &[]).unwrap_or_else(|e| panic!("{text:?} is invalid:\n{e}"));
    Policy::from_settings(&validated.settings)
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Nftables,
    Iptables,
}

impl Backend {
    fn extension(self) -> &'static str {
        match self {
            Backend::Nftables => "nft",
            Backend::Iptables => "iptables",
        }
    }

    fn render(self, policy: &Policy) -> String {
        match self {
            Backend::Nftables => render_nft(policy),
            Backend::Iptables => render_all(policy, &ipsets(policy, true)),
        }
    }

    /// The backend's tools' word on the rendering of `policy`, golden in `path`.
    fn check(self, policy: &Policy, path: &std::path::Path) -> Result<(), String> {
        match self {
            Backend::Nftables => sandbox::nft_check_file(path),
            Backend::Iptables => {
                let sets = ipsets(policy, true);
                let [v4, v6] = [Family::V4, Family::V6].map(|f| render_iptables(policy, f, &sets, &Found::fresh()));
                ["nft", "legacy"].into_iter().try_for_each(|variant| sandbox::iptables_load(&render_ipset(&sets, false), &v4, &v6, variant))
            }
        }
    }
}

/// More LAN networks (IPv4, not adjacent so that they stay apart) and servers (IPv6) than the
/// iptables backend matches rule by rule, and more incoming ports than one multiport match takes.
fn many_entries() -> String {
    let lan: Vec<String> = (0..20).map(|i| format!("10.{}.0.0/16", 2 * i)).collect();
    let servers: Vec<String> = (1..=18).map(|i| format!("[2001:db8::{i:x}]:51820/udp")).collect();
    let incoming: Vec<String> = (1..=20).map(|i| format!("{}/tcp", 1000 * i)).collect();
    format!(
        "[tunnel]\nuser = vpn\nipv6 = yes\nservers = {}\nincoming = {} 30000-30100/udp\n[lan]\nallow = {}\nincoming = 22/tcp\n",
        servers.join(" "),
        incoming.join(" "),
        lan.join(" ")
    )
}

/// Compares the rendering of `policy` for `backend` with tests/golden/NAME.EXTENSION (or writes
/// it, with UPDATE_GOLDEN=1), then has the backend's tools check it.
fn golden(backend: Backend, name: &str, policy: &Policy) {
    let rendered = backend.render(policy);
    let path = golden_dir().join(format!("{name}.{}", backend.extension()));
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden_dir()).expect("create tests/golden");
        std::fs::write(&path, &rendered).expect("write the golden file");
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; create it with UPDATE_GOLDEN=1 cargo test --test golden", path.display()));
    if rendered != expected {
        let (line, want, got) = sandbox::first_difference(&expected, &rendered).expect("texts differ, so some line does");
        panic!(
            "the {name} ruleset differs from {} at line {}:\n  golden:   {want}\n  rendered: {got}\n\
             Review the change as a security change; if it is intended: UPDATE_GOLDEN=1 cargo test --test golden\n\
             --- rendered ---\n{rendered}",
            path.display(),
            line
        );
    }
    if let Err(complaint) = backend.check(policy, &path) {
        panic!("{}: {complaint}", path.display());
    }
}

/// The guard's netlink batch of both layers of `policy` against their text (see
/// `sandbox::netlink`).
fn netlink_as_text(name: &str, policy: &Policy) {
    sandbox::netlink::lists_as_text(policy, &[Layer::Main, Layer::Guard]).unwrap_or_else(|e| panic!("{name}: {e}"));
}

/// `MODULE::TEST` for each golden case, rendered for one backend.
macro_rules! golden_tests {
    ($module:ident, $backend:expr, $($test:ident: $name:literal => $policy:expr;)*) => {
        mod $module {
            use super::*;
            $(
                #[test]
                fn $test() {
                    golden($backend, $name, &$policy);
                }
            )*
        }
    };
}

/// One test per golden case and backend: `test_name: "file name" => policy;`. `ALL` lists the
/// file names.
macro_rules! goldens {
    (@names $($test:ident: $name:literal => $policy:expr;)*) => {
        const ALL: &[&str] = &[$($name),*];
    };
    (@netlink $($test:ident: $name:literal => $policy:expr;)*) => {
        mod netlink {
            use super::*;
            $(
                #[test]
                fn $test() {
                    netlink_as_text($name, &$policy);
                }
            )*
        }
    };
    ($($cases:tt)*) => {
        golden_tests!(nft, Backend::Nftables, $($cases)*);
        golden_tests!(iptables, Backend::Iptables, $($cases)*);
        goldens!(@netlink $($cases)*);
        goldens!(@names $($cases)*);
    };
}

goldens! {
    default: "default" => configured("");
    lan: "lan" => configured("[lan]\nallow = 192.168.1.0/24, fd00:1::/64\ndns = no\n");
    lan_dns: "lan-dns" => configured("[lan]\nallow = 192.168.1.0/24 10.0.0.0/8 10.1.0.0/16\ndns = yes\n");
    servers: "servers" => configured(
        "[tunnel]\nuser = vpn\nservers = 198.51.100.7:1194/udp, [2001:db8::7]:51820/udp, 203.0.113.9:443/tcp\n",
    );
    identities: "identities" => configured("[tunnel]\nuser = vpn\ngroup = tunnel\nfwmark = 51820\n");
    fwmark: "fwmark" => configured(
        "[tunnel]\ninterfaces = wg0\nuser =\nfwmark = 0xca6c\nservers = 198.51.100.7:51820/udp\n",
    );
    ipv6_tunnel: "ipv6-tunnel" => configured("[tunnel]\nipv6 = yes\nincoming = 22/tcp\n");
    incoming: "incoming" => configured(
        "[tunnel]\ninterfaces = tun0\nincoming = 22/tcp, 60000-61000/udp, 60500-62000/udp, 80/tcp, 81/tcp\n\
         [lan]\nallow = 192.168.1.0/24, fd00::/8\nincoming = 22/tcp 8000-8100/tcp 8050-8200/tcp 5353/udp\n",
    );
    log_off: "log-off" => configured("[firewall]\nlog = no\n");
    reject_off: "reject-off" => configured("[firewall]\nreject = no\nlog_rate = 3/second\n");
    no_dhcp: "no-dhcp" => configured("[lan]\ndhcp = no\n[tunnel]\nuser =\n");
    legacy: "legacy" => configured(
        "# the original vpn-firewall's keys\nVPN_INTERFACE=\"tun0\"\nLOCAL_NET=\"10.0.0.0/8 192.168.1.0/24\"\n\
         TUNNEL_USER=vpn\nINT_IF=\"eth1\"\nFORWARDING=yes\n",
    );
    multiple_tunnels: "multiple-tunnels" => configured("[tunnel]\ninterfaces = tun0, wg+, tun0 ppp+\nincoming = 51413/tcp\n");
    tap: "tap" => configured("[tunnel]\ninterfaces = tap0\ntap = yes\nincoming = 1194/udp\n");
    long_lists: "long-lists" => configured(&many_entries());
    gateway: "gateway" => configured(
        "[tunnel]\nservers = 198.51.100.7:1194/udp\n[lan]\nallow = 192.168.1.0/24\nincoming = 22/tcp\n\
         [forward]\nenable = yes\ninterfaces = eth1\ndns = 10.8.0.1\n",
    );
    gateway_ipv6: "gateway-ipv6" => configured(
        "[tunnel]\ninterfaces = wg0\nuser =\nfwmark = 0xca6c\nipv6 = yes\n[lan]\nallow = fd00:1::/64\n\
         [forward]\nenable = yes\ninterfaces = eth1 br-lan+\nmasquerade = no\ndns = fd00:53::1\n",
    );
    gateway_qubes: "gateway-qubes" => configured_on_qubes("[forward]\nenable = yes\n", "[forward]\ndns = 203.0.113.53\n");
    containers: "containers" => configured(
        "[tunnel]\nincoming = 8443/tcp\n[lan]\nallow = 192.168.1.0/24 fd00:1::/64\nincoming = 22/tcp 8080/tcp\n\
         interfaces = docker0 br-+ virbr+\n",
    );
    containers_gateway: "containers-gateway" => configured(
        "[tunnel]\ninterfaces = wg0\nuser =\nfwmark = 0xca6c\nipv6 = yes\n[lan]\ninterfaces = lxcbr0 podman+\n\
         [forward]\nenable = yes\ninterfaces = eth1\ndns = 10.8.0.1\nmasquerade = no\n",
    );
    multicast: "multicast" => configured("[lan]\nallow = 192.168.1.0/24\nmulticast = yes\n");
    lockdown: "lockdown" => Policy::lockdown();
}

/// Netlink against text for what no golden case has: networks next to each other, which nft
/// sends apart in a named set (an end element at the next one's start), and more than one
/// message of elements.
#[test]
fn netlink_adjacent_networks_in_a_large_set() {
    let mut policy = Policy::lockdown();
    policy.sets.lan4 = (0..3000u32).map(|i| ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).unwrap()).collect();
    policy.sets.lan6 = vec!["fd00::/64".parse().unwrap(), "fd00:0:0:1::/64".parse().unwrap(), "fe80::/10".parse().unwrap()];
    netlink_as_text("adjacent networks", &policy);
}

/// Every file in tests/golden/ belongs to a test above: none is left over from a removed case.
#[test]
fn no_stale_golden_files() {
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(golden_dir()).expect("tests/golden exists") {
        let name = entry.expect("list tests/golden").file_name().to_string_lossy().into_owned();
        let case = name.strip_suffix(".nft").or_else(|| name.strip_suffix(".iptables"));
        if !case.is_some_and(|n| ALL.contains(&n)) {
            stale.push(name);
        }
    }
    assert!(stale.is_empty(), "tests/golden holds files no test renders: {stale:?}");
}
