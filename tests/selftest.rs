//! `vpn-firewall selftest`: passes on the shipped and on representative configurations, fails
//! (exit 1) on leaky ones and names the claim they break, prints JSON with one entry per claim,
//! and leaves no namespace behind: not after success, not after failure, not after Ctrl-C, and
//! not after being killed (the next run removes them).
//!
//! Each run starts on a thread in a fresh network namespace of its own: should selftest ever
//! touch the namespace it is started in, it touches that one, never this machine's, and the test
//! sees it (that namespace must still be empty afterwards). Needs root, nftables and iproute2.

mod sandbox;

use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_vpn-firewall");

/// The claims, in the order selftest reports them.
const CLAIMS: [&str; 9] = ["outside-tunnel", "through-tunnel", "vpn-client", "lan", "ipv6", "tunnel-deleted", "impostor", "broken-config", "guard-tamper"];

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/vpn-firewall")
}

fn config(text: &str) -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("50-test.conf"), text).expect("write the drop-in");
    dir
}

fn require_root() {
    assert!(nix::unistd::geteuid().is_root(), "the selftest tests need root (selftest creates network namespaces); run cargo test as root");
}

/// The names of the selftest namespaces of process `pid`, from `ip netns list`.
fn namespaces_of(pid: u32) -> Vec<String> {
    let out = Command::new(sandbox::tool("ip", "iproute2")).args(["netns", "list"]).output().expect("ip netns list");
    let prefix = format!("vpnfw-selftest-{pid}-");
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_whitespace().next()).filter(|n| n.starts_with(&prefix)).map(str::to_string).collect()
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `f` on a thread in a new, empty network namespace (the processes it starts are there
/// too), then checks that `f` left that namespace as it was: no rules, no interface but lo.
fn in_fresh_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    require_root();
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                unshare(CloneFlags::CLONE_NEWNET).expect("cannot make a network namespace for the test");
                let result = f();
                let rules = Command::new(sandbox::tool("nft", "nftables")).args(["list", "ruleset"]).output().expect("nft list ruleset");
                let rules = String::from_utf8_lossy(&rules.stdout).into_owned();
                assert!(rules.trim().is_empty(), "selftest loaded rules into the namespace it was started in:\n{rules}");
                let links = Command::new(sandbox::tool("ip", "iproute2")).args(["-o", "link", "show"]).output().expect("ip link");
                let links: Vec<String> = String::from_utf8_lossy(&links.stdout).lines().filter_map(|l| l.split(": ").nth(1)).map(str::to_string).collect();
                assert_eq!(links, ["lo"], "selftest changed the interfaces of the namespace it was started in");
                result
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn start(dir: &Path, args: &[&str]) -> Child {
    start_with(dir, args, &[])
}

fn start_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    Command::new(BIN)
        .envs(env.iter().copied())
        .arg("--config-dir")
        .arg(dir)
        .arg("selftest")
        .args(args)
        .env_remove("VPN_FIREWALL_CONFIG_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start vpn-firewall selftest")
}

/// A finished selftest run.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("selftest --json printed no JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Waits for a selftest to end; none of its namespaces may be left.
fn finish(child: Child) -> Ran {
    let pid = child.id();
    let out: Output = child.wait_with_output().expect("selftest did not finish");
    let ran = Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!ran.stderr.contains("panicked"), "selftest panicked:\n{}", ran.stderr);
    assert_eq!(namespaces_of(pid), Vec::<String>::new(), "selftest (exit {}) left namespaces behind:\n{}", ran.code, ran.stderr);
    ran
}

fn selftest(dir: &Path, args: &[&str]) -> Ran {
    in_fresh_netns(|| finish(start(dir, args)))
}

/// `selftest --json` of `dir`: the claims by id, checked to be the nine, in order.
fn claims(dir: &Path, args: &[&str]) -> (Ran, Vec<Value>) {
    let mut all = vec!["--json"];
    all.extend(args);
    let ran = selftest(dir, &all);
    let json = ran.json();
    let claims = json["claims"].as_array().unwrap_or_else(|| panic!("no claims in {json}")).clone();
    let ids: Vec<&str> = claims.iter().map(|c| c["id"].as_str().expect("an id")).collect();
    assert_eq!(ids, CLAIMS, "one entry per claim, in order");
    assert_eq!(json["passed"].as_bool(), Some(claims.iter().all(|c| c["passed"] == true)), "passed is every claim's");
    for c in &claims {
        let probes = c["probes"].as_array().expect("probes").len();
        let facts = c["facts"].as_array().expect("facts").len();
        assert!(probes + facts > 0, "a claim without evidence: {c}");
    }
    (ran, claims)
}

fn claim<'a>(claims: &'a [Value], id: &str) -> &'a Value {
    claims.iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no claim {id}"))
}

fn failed(claims: &[Value]) -> Vec<&str> {
    claims.iter().filter(|c| c["passed"] != true).map(|c| c["id"].as_str().expect("an id")).collect()
}

/// The probes of a claim that went where they should not: a blocked one seen on the wire.
fn leaks(claim: &Value) -> Vec<&Value> {
    claim["probes"].as_array().expect("probes").iter().filter(|p| p["expected"] == "blocked" && p["passed"] == false).collect()
}

/// Whether a line of `text` starts with these words, however they are spaced.
fn has_line(text: &str, words: &str) -> bool {
    let words: Vec<&str> = words.split_whitespace().collect();
    text.lines().any(|l| l.split_whitespace().take(words.len()).eq(words.iter().copied()))
}

#[test]
fn the_shipped_configuration_passes_every_claim() {
    let (ran, claims) = claims(&shipped(), &[]);
    assert_eq!(ran.code, 0, "selftest of the shipped configuration failed {:?}:\n{}\n{}", failed(&claims), ran.stdout, ran.stderr);
    // The default VPN user: exempt when it exists, or no process is (the strictest outcome).
    let client = claim(&claims, "vpn-client");
    let senders: Vec<&str> = client["probes"].as_array().unwrap().iter().filter_map(|p| p["as"].as_str()).collect();
    if nix::unistd::User::from_name("tunnel").ok().flatten().is_some() {
        assert!(senders.contains(&"VPN user tunnel"), "{client}");
    } else {
        assert!(senders.is_empty(), "{client}");
        assert!(client["notes"][0].as_str().unwrap().contains("[tunnel] user \"tunnel\" does not exist"), "{client}");
    }
    // Real packets: through the tunnel they were seen on the tunnel side.
    let through = claim(&claims, "through-tunnel")["probes"].as_array().unwrap().clone();
    assert!(through.iter().all(|p| p["tunnel_packets"].as_u64() > Some(0) && p["uplink_packets"] == 0), "{through:?}");
}

#[test]
fn the_shipped_configuration_passes_every_claim_with_iptables() {
    for variant in ["nft", "legacy"] {
        let (ran, legacy_rules) = in_fresh_netns(|| {
            let ran = finish(start_with(&shipped(), &["--json", "--backend", "iptables"], &[("VPN_FIREWALL_IPTABLES", variant)]));
            // nft does not see iptables-legacy's rules: ask it, in the namespace selftest started in.
            let saved = Command::new(sandbox::tool("iptables-legacy-save", "iptables")).output().expect("iptables-legacy-save");
            (ran, String::from_utf8_lossy(&saved.stdout).into_owned())
        });
        let claims = ran.json()["claims"].as_array().cloned().unwrap_or_default();
        assert_eq!(ran.code, 0, "selftest with iptables-{variant} failed {:?}:\n{}\n{}", failed(&claims), ran.stdout, ran.stderr);
        assert_eq!(claims.len(), CLAIMS.len(), "{}", ran.stdout);
        assert!(!legacy_rules.contains("VPN_FIREWALL"), "selftest loaded rules into the namespace it was started in:\n{legacy_rules}");
    }
}

#[test]
fn the_table_has_a_line_per_claim_and_colour_only_where_wanted() {
    let ran = selftest(&shipped(), &[]);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    assert!(!ran.stdout.contains('\u{1b}'), "colour codes in output to a pipe:\n{}", ran.stdout);
    assert_eq!(ran.stdout.lines().filter(|l| l.starts_with("PASS  ")).count(), CLAIMS.len(), "{}", ran.stdout);
    assert!(ran.stdout.contains("every claim holds (9 of 9)"), "{}", ran.stdout);
    assert!(has_line(&ran.stdout, "ok VPN down TCP 203.0.113.10:40001 root blocked uplink 0, tunnel 0"), "{}", ran.stdout);

    // Where colour is wanted (a terminal, or forced as here), PASS is green.
    let forced = in_fresh_netns(|| finish(start_with(&shipped(), &[], &[("CLICOLOR_FORCE", "1")])));
    assert!(forced.stdout.contains("\u{1b}[1m\u{1b}[32mPASS\u{1b}[0m"), "{}", forced.stdout);
}

#[test]
fn representative_configurations_pass_every_claim() {
    let cases = [
        // OpenVPN as a user to two servers, a group and a WireGuard mark, IPv6 through the
        // tunnel, a LAN on both families with its DNS.
        "[tunnel]\nuser = 4242\ngroup = 4343\nfwmark = 0xca6c\nservers = 198.51.100.7:1194/udp, [2001:db8:77::7]:51820/udp\nipv6 = yes\n\
         [lan]\nallow = 192.168.1.0/24, fd00:1::/64\ndns = yes\nincoming = 22/tcp\n",
        // WireGuard by name, a LAN without its DNS, blocked packets dropped rather than rejected.
        "[tunnel]\ninterfaces = wg0\nuser =\nfwmark = 51820\n[lan]\nallow = 10.0.0.0/8\n[firewall]\nreject = no\nlog = no\n",
        // The original vpn-firewall's shell-style keys.
        "VPN_INTERFACE=\"tun+\"\nLOCAL_NET=\"192.168.178.0/24\"\nTUNNEL_USER=\"4242\"\n",
    ];
    let mut failures = Vec::new();
    for text in cases {
        let dir = config(text);
        let (ran, claims) = claims(dir.path(), &[]);
        if ran.code != 0 {
            failures.push(format!("{text}\nfailed {:?}:\n{}", failed(&claims), ran.stderr));
        }
    }
    // A tunnel pattern that matches the uplink too: the uplink is Ethernet, so not the tunnel.
    let dir = config("[tunnel]\ninterfaces = eth+\n");
    let (ran, eth) = claims(dir.path(), &["--uplink", "eth0"]);
    if ran.code != 0 {
        failures.push(format!("interfaces = eth+ with the uplink eth0\nfailed {:?}:\n{}", failed(&eth), ran.stderr));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // The evidence is real: the VPN client's datagram to its server arrived on the uplink side,
    // and another user's to the same server arrived nowhere.
    let dir = config(cases[0]);
    let (_, claims) = claims(dir.path(), &[]);
    let probes = claim(&claims, "vpn-client")["probes"].as_array().unwrap().clone();
    let to_server =
        |who: &str| probes.iter().find(|p| p["to"] == "198.51.100.7:1194" && p["as"] == who).unwrap_or_else(|| panic!("no probe as {who}: {probes:?}")).clone();
    assert_eq!((to_server("VPN user 4242")["uplink_packets"].as_u64(), to_server("VPN user 4242")["expected"].as_str()), (Some(1), Some("via uplink")));
    assert_eq!((to_server("user 65534")["uplink_packets"].as_u64(), to_server("user 65534")["passed"].as_bool()), (Some(0), Some(true)));
}

/// A configuration that breaks a claim, and the claims selftest must report failed.
struct Broken {
    what: &'static str,
    text: &'static str,
    args: &'static [&'static str],
    fails: &'static [&'static str],
    /// Whether the failure is packets getting out (a leak), not only a missing way through.
    leaks: bool,
}

const BROKEN: &[Broken] = &[
    Broken {
        what: "the whole IPv4 internet as LAN",
        text: "[lan]\nallow = 0.0.0.0/0\n",
        args: &[],
        fails: &["outside-tunnel", "tunnel-deleted", "impostor", "guard-tamper"],
        leaks: true,
    },
    // The VPN client's IPv6 too (it may reach only IPv4 when servers is empty).
    Broken {
        what: "the whole IPv6 internet as LAN",
        text: "[lan]\nallow = ::/0\n",
        args: &[],
        fails: &["vpn-client", "ipv6", "tunnel-deleted", "impostor", "guard-tamper"],
        leaks: true,
    },
    // The uplink is Ethernet, so not the tunnel unless tap = yes says Ethernet counts.
    Broken {
        what: "a tunnel pattern that matches the uplink, with tap = yes",
        text: "[tunnel]\ninterfaces = eth+\ntap = yes\n",
        args: &["--uplink", "eth0"],
        fails: &["outside-tunnel", "lan", "tunnel-deleted", "guard-tamper"],
        leaks: true,
    },
    // Not a leak: nothing can go through a tunnel, so the VPN cannot work.
    Broken { what: "no tunnel interface", text: "[tunnel]\ninterfaces =\n", args: &[], fails: &["through-tunnel"], leaks: false },
];

#[test]
fn leaky_configurations_fail_the_claims_they_break_with_exit_1() {
    let mut problems = Vec::new();
    for case in BROKEN {
        let dir = config(case.text);
        let (ran, claims) = claims(dir.path(), case.args);
        if ran.code != 1 {
            problems.push(format!("{}: exit {} instead of 1", case.what, ran.code));
        }
        if failed(&claims) != case.fails {
            problems.push(format!("{}: failed {:?} instead of {:?}", case.what, failed(&claims), case.fails));
        }
        let leaked: Vec<&Value> = case.fails.iter().flat_map(|id| leaks(claim(&claims, id))).collect();
        if case.leaks != leaked.iter().any(|p| p["uplink_packets"].as_u64() > Some(0)) {
            problems.push(format!("{}: packets seen on the uplink side of the failed claims: {leaked:?}", case.what));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let dir = config(BROKEN[0].text);
    let ran = selftest(dir.path(), &[]);
    assert!(ran.stdout.contains("FAIL  Nothing reaches the internet outside the tunnel"), "{}", ran.stdout);
    assert!(has_line(&ran.stdout, "LEAK VPN down TCP 203.0.113.10:40001 root blocked uplink 1, tunnel 0 refused"), "{}", ran.stdout);
    assert!(ran.stdout.contains("claims FAILED (outside-tunnel, tunnel-deleted, impostor, guard-tamper)"), "{}", ran.stdout);
}

#[test]
fn an_invalid_configuration_exits_2_naming_the_line_and_builds_nothing() {
    let dir = config("[lan]\nallow = 10.0.0.0/33\n");
    let ran = selftest(dir.path(), &[]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    let file = dir.path().join("50-test.conf");
    assert!(ran.stderr.starts_with(&format!("vpn-firewall: error: {}:2: ", file.display())), "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
}

/// Starts a selftest and waits until its namespaces exist: it is in the middle of its run.
fn started_mid_run() -> Child {
    let child = start(&shipped(), &[]);
    let pid = child.id();
    wait_until("the selftest's namespaces", Duration::from_secs(20), || namespaces_of(pid).len() == 3);
    child
}

#[test]
fn ctrl_c_mid_run_removes_every_namespace() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let ran = in_fresh_netns(|| {
            let child = started_mid_run();
            kill(Pid::from_raw(child.id() as i32), signal).expect("cannot signal selftest");
            finish(child)
        });
        assert_eq!(ran.code, 130, "{signal}: {}", ran.stderr);
        assert!(ran.stderr.contains("selftest interrupted; its network namespaces are removed"), "{signal}: {}", ran.stderr);
    }
}

#[test]
fn a_killed_run_leaves_namespaces_that_the_next_run_removes() {
    let killed = in_fresh_netns(|| {
        let mut child = started_mid_run();
        child.kill().expect("cannot kill selftest");
        child.wait().expect("selftest did not end");
        child.id()
    });
    // SIGKILL cannot be caught: the namespaces stay until a run starts (this one, or one of
    // another test running at the same time).
    let ran = selftest(&shipped(), &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(namespaces_of(killed), Vec::<String>::new(), "the next run did not remove the namespaces of the killed one");
}
