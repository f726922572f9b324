//! Shared setup of the kernel and leak tests: throwaway network namespaces, processes inside
//! them, the binary under test and its configuration directories; the test networks
//! (`topology`), real VPNs (`vpn`) and packet captures (`capture`).
//!
//! Safety: nothing here runs a command that changes the firewall or the routes of the namespace
//! the tests run in. Every such command goes through a `Netns`, which prefixes
//! `ip netns exec NAME` (or `ip -n NAME`), or enters the namespaces of a process started that
//! way (`Background::run_inside`); every `Netns` deletes its namespace when dropped, also when a
//! test panics.
#![allow(dead_code)] // each test binary uses its own part

/// `MODULE::NAME` calling `NAME(backend)` for each function name listed.
#[allow(unused_macros)] // each test binary uses its own part
macro_rules! tests_with {
    ($module:ident, $backend:expr, $($test:ident),* $(,)?) => {
        mod $module {
            $(
                #[test]
                fn $test() {
                    super::$test($backend)
                }
            )*
        }
    };
}

/// The `every` test functions once with each backend, the `iptables` ones once with each
/// iptables variant.
#[allow(unused_macros)]
macro_rules! backend_tests {
    (every: [$($every:ident),* $(,)?], iptables: [$($only:ident),* $(,)?] $(,)?) => {
        tests_with!(nftables, super::Backend::Nftables, $($every),*);
        tests_with!(iptables_nft, super::Backend::IptablesNft, $($every,)* $($only),*);
        tests_with!(iptables_legacy, super::Backend::IptablesLegacy, $($every,)* $($only),*);
    };
}

pub mod backend;
pub mod capture;
pub mod fixtures;
pub mod guard;
pub mod openconnect;
pub mod topology;
pub mod vpn;

pub use backend::Backend;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Every namespace of these tests starts with this, followed by the test process's pid.
const PREFIX: &str = "vpnfwk-";

/// Longest a foreground command may take before it is killed (`timeout`).
const COMMAND_TIMEOUT: &str = "60";

/// The binary under test: `VPN_FIREWALL_TEST_BIN`, else the one cargo built.
pub fn binary() -> PathBuf {
    std::env::var_os("VPN_FIREWALL_TEST_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_vpn-firewall")))
}

/// The tools the tests run, with the Debian package that has each.
const TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("ss", "iproute2"),
    ("nft", "nftables"),
    ("socat", "socat"),
    ("setpriv", "util-linux"),
    ("timeout", "coreutils"),
    ("bash", "bash"),
    ("nsenter", "util-linux"),
    ("iptables-nft-restore", "iptables"),
    ("iptables-legacy-restore", "iptables"),
    ("ipset", "ipset"),
];

/// Fails (never skips) when the tests cannot run here: not root, or a tool missing.
fn require_environment() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        if !nix::unistd::geteuid().is_root() {
            return Err("the kernel tests need root (they create network namespaces); run cargo test as root".into());
        }
        missing_tools(TOOLS)?;
        remove_stale_namespaces();
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Fails (never skips) when one of `tools` (name, Debian package) is not installed.
pub fn require_tools(tools: &[(&str, &str)]) {
    if let Err(e) = missing_tools(tools) {
        panic!("{e}");
    }
}

fn missing_tools(tools: &[(&str, &str)]) -> Result<(), String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    let missing: Vec<String> = tools
        .iter()
        .filter(|(tool, _)| !dirs.iter().any(|d| d.join(tool).is_file()))
        .map(|(tool, package)| format!("{tool} (apt-get install {package})"))
        .collect();
    if missing.is_empty() { Ok(()) } else { Err(format!("the tests need: {}", missing.join(", "))) }
}

/// Deletes namespaces left by an earlier test process that was killed before its guards ran.
fn remove_stale_namespaces() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(PREFIX).and_then(|r| r.split('-').next()) else { continue };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = Command::new("ip").args(["netns", "delete", &name]).status();
        }
    }
}

/// What a finished command did.
pub struct Run {
    pub what: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn of(what: String, out: std::process::Output) -> Run {
        Run {
            what,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics unless the command exited with `code`.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit {code}:\n{self}");
        self
    }

    /// The stderr lines that report an error.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.starts_with("vpn-firewall: error:")).collect()
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "$ {}\nexit {}\n--- stdout\n{}--- stderr\n{}", self.what, self.code, self.stdout, self.stderr)
    }
}

/// Runs `cmd` to the end, feeding it `stdin`. Only for commands that touch no network
/// configuration; everything else goes through a `Netns`.
pub fn run(mut cmd: Command, stdin: &str) -> Run {
    let what = format!("{cmd:?}");
    let out = vpn_firewall::tools::output_with_input(&mut cmd, stdin).unwrap_or_else(|e| panic!("{e:#}"));
    Run::of(what, out)
}

/// A process running in the background, killed (by its pid) when dropped.
pub struct Background {
    pub child: Child,
    what: String,
}

impl Background {
    pub fn spawn(mut cmd: Command) -> Background {
        let what = format!("{cmd:?}");
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Background { child, what }
    }

    /// `Some(exit code)` when the process has ended.
    pub fn exited(&mut self) -> Option<i32> {
        self.child.try_wait().unwrap_or_else(|e| panic!("cannot wait for {}: {e}", self.what)).map(|s| s.code().unwrap_or(-1))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the process (by its pid), unless it has ended.
    pub fn signal(&mut self, signal: Signal) {
        if self.exited().is_none() {
            let pid = Pid::from_raw(i32::try_from(self.pid()).expect("pids fit in i32"));
            nix::sys::signal::kill(pid, signal).unwrap_or_else(|e| panic!("cannot send {signal} to {}: {e}", self.what));
        }
    }

    /// Waits up to `within` for the process to end.
    pub fn wait_exit(&mut self, within: Duration) {
        let what = format!("{} to exit", self.what);
        wait_for(&what, within, || self.exited().is_some());
    }

    /// Runs `program args` in the mount and network namespaces of this process (which a
    /// `Netns` made), with a time limit.
    pub fn run_inside(&self, program: &str, args: &[&str], stdin: &str) -> Run {
        let mut cmd = Command::new("nsenter");
        cmd.args(["--target", &self.pid().to_string(), "--mount", "--net", "timeout", "-k", "5", COMMAND_TIMEOUT, program]).args(args);
        run(cmd, stdin)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A network namespace made for one test, deleted (with its interfaces) when dropped.
pub struct Netns {
    name: String,
    /// The backend vpn-firewall uses here: set for a host (`Netns::host`), where it runs.
    backend: Option<Backend>,
    /// Listeners (by port) and counters (by name) set up on demand.
    listening: RefCell<HashSet<u16>>,
    counted: RefCell<HashSet<String>>,
    children: RefCell<Vec<Background>>,
}

/// The table in which a namespace counts the packets that arrive in it, by destination port.
const PROBE_TABLE: &str = "vpnfwk_probe";

impl Netns {
    /// `vpnfwk-PID-TEST-ROLE`: unique per test process, test and role.
    pub fn new(test: &str, role: &str) -> Netns {
        require_environment();
        let name = format!("{PREFIX}{}-{test}-{role}", std::process::id());
        let add = run(host_command("ip", &["netns", "add", &name]), "");
        assert_eq!(add.code, 0, "cannot create the network namespace {name}:\n{add}");
        let ns = Netns { name, backend: None, listening: Default::default(), counted: Default::default(), children: Default::default() };
        ns.ip("link set lo up");
        ns
    }

    /// A namespace in which vpn-firewall runs with `backend`: `vpnfwk-PID-TEST.BACKEND-h`.
    pub fn host(test: &str, backend: Backend) -> Netns {
        let mut ns = Netns::new(&backend.qualify(test), "h");
        ns.backend = Some(backend);
        ns
    }

    /// The backend vpn-firewall runs with here.
    pub fn backend(&self) -> Backend {
        self.backend.unwrap_or_else(|| panic!("{} is no host: vpn-firewall does not run there", self.name))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `program` to run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Runs `program args` inside the namespace, with a time limit, and returns what it did.
    pub fn run(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str], stdin: &str) -> Run {
        let mut cmd = self.command("timeout");
        cmd.args(["-k", "5", COMMAND_TIMEOUT]).arg(program).args(args);
        run(cmd, stdin)
    }

    /// `ip -n NAME ARGS` (split at white space); panics when it fails.
    pub fn ip(&self, args: &str) {
        let mut all = vec!["-n", &self.name];
        all.extend(args.split_whitespace());
        run(host_command("ip", &all), "").expect(0);
    }

    /// Whether the namespace has an interface of this name.
    pub fn has_link(&self, name: &str) -> bool {
        self.run("ip", &["link", "show", "dev", name], "").code == 0
    }

    /// `nft ARGS` inside the namespace; panics when it fails, returns stdout.
    pub fn nft(&self, args: &[&str]) -> String {
        self.run("nft", args, "").expect(0).stdout
    }

    /// Loads an nft script inside the namespace.
    pub fn nft_load(&self, script: &str) {
        self.run("nft", &["-f", "-"], script).expect(0);
    }

    /// The whole ruleset, with handles (so that a reload of the same rules shows too) but
    /// without counter values (iptables-nft counts on every rule, and traffic is no change);
    /// with iptables-legacy, which nft does not see, its rules too (without handles).
    pub fn ruleset(&self) -> String {
        let mut ruleset = self.nft(&["-a", "-s", "list", "ruleset"]);
        if self.backend() == Backend::IptablesLegacy {
            for program in ["iptables-legacy-save", "ip6tables-legacy-save"] {
                let saved = self.run(program, &[], "").expect(0).stdout;
                // A chain's line ends in its packet and byte counters (`:INPUT DROP [12:2735]`),
                // which traffic changes; the ruleset is the rest.
                let without_counters = |l: &str| match l.rsplit_once(" [") {
                    Some((chain, _)) if l.starts_with(':') => chain.to_string(),
                    _ => l.to_string(),
                };
                ruleset.extend(saved.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{}\n", without_counters(l))));
            }
        }
        ruleset
    }

    /// `nft list tables`, one `FAMILY NAME` a line.
    pub fn tables(&self) -> Vec<String> {
        self.nft(&["list", "tables"]).lines().filter_map(|l| l.strip_prefix("table ")).map(str::to_string).collect()
    }

    /// The packets of the named counter of a table.
    pub fn counter(&self, family: &str, table: &str, name: &str) -> u64 {
        let json = self.nft(&["-j", "list", "counter", family, table, name]);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("nft printed no JSON ({e}): {json}"));
        value["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|o| o["counter"]["packets"].as_u64())
            .unwrap_or_else(|| panic!("no counter {name} in {family} {table}: {json}"))
    }

    /// The TCP and UDP packets to `port` that have arrived in this namespace (counted before
    /// routing, so whatever reaches the interface counts, delivered or not).
    pub fn arrivals(&self, port: u16) -> u64 {
        self.arrivals_matching(&format!("p{port}"), &format!("meta l4proto {{ tcp, udp }} th dport {port}"))
    }

    /// The packets that have arrived in this namespace and match `expr` (nft syntax), counted
    /// before routing by the counter `name`.
    pub fn arrivals_matching(&self, name: &str, expr: &str) -> u64 {
        self.count("seen", "prerouting priority -300", name, expr)
    }

    /// The TCP and UDP packets to `port` delivered to this namespace's own sockets, counted
    /// after every filter chain at the usual priority, vpn-firewall's among them, accepted them.
    pub fn delivered(&self, port: u16) -> u64 {
        self.count("delivered", "input priority 100", &format!("d{port}"), &format!("meta l4proto {{ tcp, udp }} th dport {port}"))
    }

    /// A counter `name` of the packets matching `expr` in the probe table's `chain` (made on
    /// first use at `hook`).
    fn count(&self, chain: &str, hook: &str, name: &str, expr: &str) -> u64 {
        if self.counted.borrow_mut().insert(name.to_string()) {
            self.nft_load(&format!(
                "table inet {PROBE_TABLE} {{\n chain {chain} {{\n type filter hook {hook};\n }}\n}}\n\
                 add counter inet {PROBE_TABLE} {name}\n\
                 add rule inet {PROBE_TABLE} {chain} {expr} counter name {name}\n"
            ));
        }
        self.counter("inet", PROBE_TABLE, name)
    }

    /// Waits until no IPv6 address of the namespace is tentative: until duplicate address
    /// detection ends (a second or two after a link comes up) neighbours are not answered.
    pub fn await_ipv6(&self) {
        wait_for(&format!("the IPv6 addresses of {} to leave duplicate address detection", self.name), Duration::from_secs(5), || {
            self.run("ip", &["-6", "address", "show", "tentative"], "").expect(0).stdout.trim().is_empty()
        });
    }

    /// Sets a sysctl of this namespace (`net/*` ones are per namespace), named by its path
    /// under /proc/sys (interface names may hold dots).
    pub fn sysctl(&self, path: &str, value: &str) {
        self.run("sh", &["-c", &format!("echo {value} > /proc/sys/{path}")], "").expect(0);
    }

    /// Makes sure something accepts TCP connections on `port` (IPv4 and IPv6) and reads them.
    pub fn listen_tcp(&self, port: u16) {
        if !self.listening.borrow_mut().insert(port) {
            return;
        }
        let mut cmd = self.command("socat");
        cmd.args(["-u", &format!("TCP6-LISTEN:{port},fork,reuseaddr"), "OPEN:/dev/null"]);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        self.children.borrow_mut().push(Background::spawn(cmd));
        self.wait_listening(port);
    }

    /// Waits until a TCP socket listens on `port` in this namespace.
    pub fn wait_listening(&self, port: u16) {
        let filter = format!("sport = :{port}");
        wait_for(&format!("a listener on TCP port {port} in {}", self.name), Duration::from_secs(5), || {
            !self.run("ss", &["-Hltn", &filter], "").expect(0).stdout.trim().is_empty()
        });
    }

    /// Runs vpn-firewall inside the namespace, with its backend and with `dir` as its
    /// configuration directory.
    pub fn firewall(&self, dir: &Path, command: &str) -> Run {
        self.firewall_with(self.backend(), dir, command)
    }

    /// Runs vpn-firewall inside the namespace with another backend than the namespace's (but
    /// the namespace's iptables variant).
    pub fn firewall_with(&self, backend: Backend, dir: &Path, command: &str) -> Run {
        let dir = dir.to_str().expect("temporary paths are UTF-8");
        self.vpn_firewall_with(backend, &["--config-dir", dir, command])
    }

    /// Runs vpn-firewall inside the namespace, with its backend, with these arguments.
    pub fn vpn_firewall(&self, args: &[&str]) -> Run {
        self.vpn_firewall_with(self.backend(), args)
    }

    fn vpn_firewall_with(&self, backend: Backend, args: &[&str]) -> Run {
        let mut cmd = self.command("timeout");
        cmd.args(["-k", "5", COMMAND_TIMEOUT]).arg(binary());
        self.backend().host_iptables(&mut cmd);
        backend.select(&mut cmd);
        cmd.args(args);
        run(cmd, "")
    }

    /// `firewall`, with `stand_in` mounted over the system's `nft` (vpn-firewall looks in the
    /// sbin directories first), in a mount namespace of its own so nothing else sees it.
    pub fn firewall_with_nft(&self, stand_in: &Path, dir: &Path, command: &str) -> Run {
        // The very nft vpn-firewall itself finds.
        let nft = vpn_firewall::tools::locate("nft", "nftables").unwrap_or_else(|e| panic!("{e:#}"));
        let mut cmd = self.command("unshare");
        cmd.args(["--mount", "--propagation", "private", "sh", "-c", "mount --bind \"$0\" \"$1\" && shift && exec \"$@\""])
            .arg(stand_in)
            .arg(nft)
            .args(["timeout", "-k", "5", COMMAND_TIMEOUT])
            .arg(binary())
            .arg("--config-dir")
            .arg(dir)
            .arg(command);
        run(cmd, "")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.children.borrow_mut().clear();
        if self.backend.is_some() {
            self.forget_arp_record();
        }
        let out = host_command("ip", &["netns", "delete", &self.name]).output();
        if !out.is_ok_and(|o| o.status.success()) {
            eprintln!("warning: could not delete the network namespace {}", self.name);
        }
    }
}

impl Netns {
    /// `start` records arp_ignore's value for `flush` in /run (see `vpn_firewall::arp`), by the
    /// namespace's cookie: a host namespace deleted without a flush would leave its record.
    fn forget_arp_record(&self) {
        let path = format!("/run/netns/{}", self.name);
        let forgotten = std::thread::spawn(move || -> anyhow::Result<()> {
            let ns = std::fs::File::open(&path)?;
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
            vpn_firewall::arp::forget()
        })
        .join();
        if !matches!(forgotten, Ok(Ok(()))) {
            eprintln!("warning: could not remove the arp_ignore record of {}: {forgotten:?}", self.name);
        }
    }
}

/// A command for the test's own namespace; only `ip netns add|delete` and `ip -n` use it.
fn host_command(program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args);
    cmd
}

/// Polls `ready` every 10 ms for up to `within`; panics naming `what` when it never holds.
pub fn wait_for(what: &str, within: Duration, ready: impl FnMut() -> bool) {
    assert!(poll(within, ready), "timed out waiting for {what}");
}

/// Polls `ready` every 10 ms for up to `within`; whether it came to hold.
pub fn poll(within: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while !ready() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// A valid configuration for the stand-in tunnel of `Topology`: tun0 is the tunnel, no process
/// may send outside it, then `extra` (a later assignment of a key replaces an earlier one).
pub fn config(extra: &str) -> String {
    format!("[tunnel]\ninterfaces = tun0\nuser =\n{extra}")
}

/// A configuration directory with one drop-in file, `50-test.conf`.
pub struct ConfigDir {
    dir: tempfile::TempDir,
}

impl ConfigDir {
    pub const FILE: &'static str = "50-test.conf";

    pub fn new(text: impl AsRef<[u8]>) -> ConfigDir {
        let dir = ConfigDir { dir: tempfile::Builder::new().prefix("vpnfwk-conf").tempdir().expect("temporary directory") };
        dir.write(Self::FILE, text);
        dir
    }

    /// Replaces the drop-in file's text.
    pub fn set(&self, text: impl AsRef<[u8]>) {
        self.write(Self::FILE, text);
    }

    pub fn write(&self, name: &str, text: impl AsRef<[u8]>) {
        std::fs::write(self.dir.path().join(name), text).expect("cannot write the configuration");
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self) -> PathBuf {
        self.dir.path().join(Self::FILE)
    }
}
