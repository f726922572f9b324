//! Running what could touch a firewall where it cannot touch this machine's: in a fresh, empty
//! network namespace made for the one command (`unshare -n`), optionally as an unprivileged user.
//!
//! The tests run as root in CI: a `vpn-firewall start` or an `nft -f` in the machine's own
//! namespace would cut it off the network. So every command of the tests that may reach the
//! kernel's firewall goes through here. A missing tool fails the test, naming the Debian package
//! that brings it: these tests are never skipped.
#![allow(dead_code)] // each test binary uses its own part

use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub mod netlink;

/// `tool` from `PATH` or the sbin directories, or a failed test that says what to install.
pub fn tool(name: &str, debian_package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed: apt-get install {debian_package} (Debian package {debian_package})"))
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `program` in a new, empty network namespace. As root that is `unshare -n`; as anyone else,
/// `unshare -rn` (a user namespace in which the caller is root).
pub fn in_netns(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(tool("unshare", "util-linux"));
    cmd.arg(if is_root() { "-n" } else { "-rn" }).arg(program);
    cmd
}

/// `program` as an unprivileged user (uid and gid 65534, no supplementary groups) in a new,
/// empty network namespace. As root: `unshare -n setpriv --reuid 65534 ...`; as anyone else,
/// `unshare -Un`, in which the caller is the overflow user 65534.
pub fn unprivileged_in_netns(program: impl AsRef<OsStr>) -> Command {
    if !is_root() {
        let mut cmd = Command::new(tool("unshare", "util-linux"));
        cmd.args(["-U", "-n"]).arg(program);
        return cmd;
    }
    let mut cmd = in_netns(tool("setpriv", "util-linux"));
    cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"]).arg(program);
    cmd
}

/// `nft -c -f FILE` (check only, nothing loaded) in a fresh network namespace: nft's own word
/// on whether the kernel would take the ruleset. `Err` holds nft's complaint.
pub fn nft_check_file(path: &std::path::Path) -> Result<(), String> {
    nft_check(&[OsStr::new("-f"), path.as_os_str()], None)
}

/// `nft -c -f -` with `ruleset` on its standard input, in a fresh network namespace.
pub fn nft_check_text(ruleset: &str) -> Result<(), String> {
    nft_check(&[OsStr::new("-f"), OsStr::new("-")], Some(ruleset))
}

fn nft_check(args: &[&OsStr], stdin: Option<&str>) -> Result<(), String> {
    let mut child = in_netns(tool("nft", "nftables"))
        .arg("-c")
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run unshare");
    if let Some(text) = stdin {
        child.stdin.take().expect("piped").write_all(text.as_bytes()).expect("cannot write to nft");
    }
    let out = child.wait_with_output().expect("nft did not finish");
    if out.status.success() { Ok(()) } else { Err(format!("nft -c refused the ruleset ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr))) }
}

/// Loads an `ipset restore` input, then IPv4 and IPv6 `iptables-restore --noflush` inputs, with
/// iptables' `variant` (`nft` or `legacy`), for real but in a fresh network namespace that is
/// thrown away after: iptables' and the kernel's word on whether they would take the rules
/// (`--test` would leave out the kernel's checks). `Err` holds the complaint.
pub fn iptables_load(ipset: &str, v4: &str, v6: &str, variant: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let files: Vec<PathBuf> = [("ipset", ipset), ("v4", v4), ("v6", v6)]
        .into_iter()
        .map(|(name, text)| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write a restore input");
            path
        })
        .collect();
    let script = format!(
        "{} restore < \"$1\" && {} --noflush < \"$2\" && {} --noflush < \"$3\"",
        tool("ipset", "ipset").display(),
        tool(&format!("iptables-{variant}-restore"), "iptables").display(),
        tool(&format!("ip6tables-{variant}-restore"), "iptables").display(),
    );
    let out = in_netns(tool("sh", "dash")).args(["-c", &script, "sh"]).args(&files).stdin(Stdio::null()).output().expect("cannot run unshare");
    if out.status.success() { Ok(()) } else { Err(format!("iptables-{variant} refused the rules ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr))) }
}

/// `nft -f -` of `text` in this thread's network namespace (see `in_fresh_netns`), or its
/// complaint.
pub fn nft_load_here(text: &str) -> Result<(), String> {
    let mut child = Command::new(tool("nft", "nftables"))
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run nft");
    child.stdin.take().expect("piped").write_all(text.as_bytes()).expect("cannot write to nft");
    let out = child.wait_with_output().expect("nft did not finish");
    if out.status.success() { Ok(()) } else { Err(format!("nft -f refused the text ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr))) }
}

/// Runs `f` on a thread of its own in a fresh network namespace: the thread's sockets, and
/// the processes it starts, are in it; the namespace goes when the thread and they end. Needs
/// root (a user namespace cannot be made in a process with threads).
pub fn in_fresh_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    assert!(is_root(), "this test loads rules into a network namespace of one of its threads: run it as root");
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("cannot make a network namespace (unshare)");
                f()
            })
            .join()
            .expect("the thread in the network namespace panicked")
    })
}

/// `nft list table inet TABLE` of each of `tables`, in this thread's network namespace (see
/// `in_fresh_netns`): their listings one after the other, or nft's complaint. One nft each:
/// nft 1.0.6 reads only the last table of several `list table` commands into its cache.
pub fn nft_list_here(tables: &[&str]) -> Result<String, String> {
    let mut listings = String::new();
    for table in tables {
        let out = Command::new(tool("nft", "nftables")).args(["list", "table", "inet", table]).output().expect("cannot run nft");
        if !out.status.success() {
            return Err(format!("nft could not list table inet {table} ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr)));
        }
        listings.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    Ok(listings)
}

/// The first line (numbered from 1) at which two texts differ, with each one's line there
/// (`<end>` past its last), or `None` when their lines are the same.
pub fn first_difference<'a>(a: &'a str, b: &'a str) -> Option<(usize, &'a str, &'a str)> {
    let lines = a.lines().count().max(b.lines().count());
    let end = std::iter::repeat("<end>");
    a.lines().chain(end.clone()).zip(b.lines().chain(end)).take(lines).zip(1..).find(|((x, y), _)| x != y).map(|((x, y), line)| (line, x, y))
}
