//! The sandbox's throwaway network namespaces: made with `ip netns add`, named
//! `vpnfw-selftest-PID-ROLE`, and removed when the sandbox is dropped (success or failure), on
//! SIGINT, SIGTERM and SIGHUP, and by the next run when this one was killed outright.
//!
//! Safety: this module is what keeps selftest off the machine's own network. Everything that
//! changes an interface, a route or a firewall runs either as `ip -n NAME` or on a thread that
//! has entered a sandbox namespace and checked that it did, never in the namespace selftest was
//! started in.

use crate::output::say_err;
use crate::tools::output_with_input;
use anyhow::{Context, Result, bail};
use nix::sched::{CloneFlags, setns};
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

const PREFIX: &str = "vpnfw-selftest-";
const NETNS_DIR: &str = "/run/netns";

/// Held while a namespace is created or removed, so that an interrupt never removes the
/// namespaces while one is half made and then leaves that one behind.
static CHANGING: Mutex<()> = Mutex::new(());

/// The namespaces of one run; dropping it removes every one of them.
pub struct Sandbox {
    ip: PathBuf,
}

/// One namespace of the sandbox.
pub struct Netns {
    pub name: String,
}

/// The names this process gives its namespaces start with this.
fn own_prefix() -> String {
    format!("{PREFIX}{}-", std::process::id())
}

impl Sandbox {
    /// Removes namespaces left by killed runs and arranges for this run's to be removed when it
    /// is interrupted. `ip` is the path of iproute2's `ip`.
    pub fn new(ip: PathBuf) -> Result<Sandbox> {
        remove_stale(&ip);
        let on_signal = ip.clone();
        ctrlc::set_handler(move || {
            let _changing = CHANGING.lock().unwrap_or_else(|e| e.into_inner());
            remove_matching(&on_signal, |name| name.starts_with(&own_prefix()));
            say_err!("vpn-firewall: selftest interrupted; its network namespaces are removed");
            // Exits while holding the lock: no namespace can be made after the removal.
            std::process::exit(130);
        })
        .context("cannot arrange to clean up on Ctrl-C")?;
        Ok(Sandbox { ip })
    }

    /// Makes the namespace `vpnfw-selftest-PID-ROLE`, with its loopback up.
    pub fn netns(&self, role: &str) -> Result<Netns> {
        let ns = Netns { name: format!("{}{role}", own_prefix()) };
        {
            let _changing = CHANGING.lock().unwrap_or_else(|e| e.into_inner());
            run(Command::new(&self.ip).args(["netns", "add", &ns.name]), "").with_context(|| format!("cannot create the network namespace {}", ns.name))?;
        }
        self.ip(&ns, &["link set lo up".into()])?;
        // Without duplicate address detection, addresses work at once (a tentative one would
        // hold up the first packets for a second); the sandbox's addresses are unique anyway.
        for conf in ["all", "default"] {
            let path = format!("/proc/sys/net/ipv6/conf/{conf}/accept_dad");
            ns.within(|| std::fs::write(&path, "0").with_context(|| format!("cannot write {path} in {}", ns.name)))?;
        }
        Ok(ns)
    }

    /// Runs `ip -n NAME -batch -` with these commands, one a line; stops at the first that fails.
    pub fn ip(&self, ns: &Netns, commands: &[String]) -> Result<()> {
        if commands.is_empty() {
            return Ok(());
        }
        let script = commands.join("\n") + "\n";
        run(Command::new(&self.ip).args(["-n", &ns.name, "-batch", "-"]), &script)
            .with_context(|| format!("cannot set up the network namespace {}:\n{script}", ns.name))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _changing = CHANGING.lock().unwrap_or_else(|e| e.into_inner());
        remove_matching(&self.ip, |name| name.starts_with(&own_prefix()));
    }
}

impl Netns {
    fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    /// Runs `f` on a new thread that has entered this namespace; commands it starts run there
    /// too. `f` is never run when entering fails.
    pub fn within<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        std::thread::scope(|scope| {
            let thread = scope.spawn(|| {
                self.enter()?;
                f()
            });
            thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Moves the calling thread into this namespace and checks that it is there.
    fn enter(&self) -> Result<()> {
        let path = self.path();
        let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let wanted = file.metadata().with_context(|| format!("cannot read {}", path.display()))?;
        setns(&file, CloneFlags::CLONE_NEWNET).with_context(|| format!("cannot enter the network namespace {}", self.name))?;
        let now = std::fs::metadata("/proc/thread-self/ns/net").context("cannot read /proc/thread-self/ns/net")?;
        if (now.dev(), now.ino()) != (wanted.dev(), wanted.ino()) {
            bail!("entering the network namespace {} did not take effect", self.name);
        }
        Ok(())
    }
}

/// Runs a command with `stdin`; an error holds what it printed.
fn run(cmd: &mut Command, stdin: &str) -> Result<()> {
    let out = output_with_input(cmd, stdin)?;
    if !out.status.success() {
        bail!("{cmd:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Removes the namespaces of earlier runs whose process is gone (killed before it could).
fn remove_stale(ip: &Path) {
    remove_matching(ip, |name| {
        let Some(pid) = name.strip_prefix(PREFIX).and_then(|rest| rest.split('-').next()) else { return false };
        pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists()
    });
}

fn remove_matching(ip: &Path, wanted: impl Fn(&str) -> bool) {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else { return };
    for name in entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| wanted(n)) {
        if let Err(e) = run(Command::new(ip).args(["netns", "delete", &name]), "") {
            say_err!("vpn-firewall: warning: cannot remove the network namespace {name}: {e:#}");
        }
    }
}
