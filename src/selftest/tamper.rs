//! The guard's claim: while it runs, another process that flushes the rules opens nothing, and
//! the guard keeps or restores them. To see its own table hold alone, the guard is paused
//! (SIGSTOP: its socket, and so its table, stay) while the ruleset is flushed and the probes are
//! sent; resumed, it must restore the rules, unless the flush left them because the guard owns
//! them (nftables on Linux 6.9 or later).

use super::Run;
use super::claims::Fact;
use crate::backend::Backend;
use crate::render_nft::{FAMILY, TABLE};
use anyhow::{Context, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the guard may take to answer, and to restore the rules once resumed (iptables-legacy
/// is read back every half second).
const PATIENCE: Duration = Duration::from_secs(10);

/// A guard running inside the sandbox's host namespace, ended (SIGKILL) when dropped.
pub struct Guard {
    child: Child,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Guard {
    fn signal(&self, signal: Signal) -> Result<()> {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).context("a pid out of range")?);
        kill(pid, signal).with_context(|| format!("cannot send {signal} to the guard"))
    }
}

/// The commands of "another process" that turn the backend's rules off.
fn tampering(backend: &Backend) -> Vec<Vec<String>> {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let variant = match backend {
        Backend::Nftables(_) => return vec![words(&["nft", "flush", "ruleset"])],
        Backend::Iptables(ipt) => ipt.name().trim_start_matches("iptables").to_string(),
    };
    let mut commands = Vec::new();
    for program in ["iptables", "ip6tables"] {
        let program = format!("{program}{variant}");
        commands.push(words(&[&program, "-w", "-F"]));
        commands.push(words(&[&program, "-w", "-t", "mangle", "-F"]));
        commands.push(words(&[&program, "-w", "-P", "OUTPUT", "ACCEPT"]));
    }
    commands
}

impl Run<'_> {
    /// Starts a guard, loads the configuration through it, pauses it and turns the rules off as
    /// another process would. The facts say what was done; the guard must be `resume`d.
    pub fn tamper(&self) -> Result<(Guard, Vec<Fact>)> {
        let config_dir = &self.config.config_dir;
        let flushed = self.vpn_firewall(config_dir, "flush")?;
        let mut facts = vec![Fact { text: format!("flush before the guard starts: exit {}", code(&flushed.status)), holds: flushed.status.success() }];
        let guard = self.topology.host.within(|| {
            let mut cmd = Command::new(super::SELF);
            cmd.arg("--config-dir").arg(config_dir);
            if let Some(choice) = self.config.backend {
                cmd.args(["--backend", choice.name()]);
            }
            cmd.arg("guard").env_remove("NOTIFY_SOCKET").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
            cmd.spawn().context("cannot start vpn-firewall guard inside the sandbox")
        })?;
        let guard = Guard { child: guard };
        let began = Instant::now();
        while !self.status()?.1.contains("guard:     running") {
            if began.elapsed() > PATIENCE {
                facts.push(Fact { text: "the guard did not answer within 10 s".into(), holds: false });
                return Ok((guard, facts));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let started = self.vpn_firewall(config_dir, "start")?;
        let through = String::from_utf8_lossy(&started.stdout).contains("owned by the guard");
        facts.push(Fact {
            text: format!(
                "start with the guard running: exit {}, {}",
                code(&started.status),
                if through { "loaded through the guard" } else { "NOT through the guard" }
            ),
            holds: started.status.success() && through,
        });
        guard.signal(Signal::SIGSTOP)?;
        for command in tampering(self.backend) {
            let done = self.topology.host.within(|| {
                Command::new(&command[0]).args(&command[1..]).stdin(Stdio::null()).output().with_context(|| format!("cannot run {}", command.join(" ")))
            })?;
            facts.push(Fact {
                text: format!("the guard paused, another process ran {}: exit {}", command.join(" "), code(&done.status)),
                holds: done.status.success(),
            });
        }
        Ok((guard, facts))
    }

    /// Resumes the guard and waits for it to restore the rules; then ends it with SIGTERM,
    /// which must leave them loaded.
    pub fn resume(&self, guard: Guard) -> Result<Vec<Fact>> {
        guard.signal(Signal::SIGCONT)?;
        let began = Instant::now();
        let owns_main = format!("owned:     table {FAMILY} {TABLE} loaded");
        let (restored, owned) = loop {
            let (code, said) = self.status()?;
            let owned = said.contains(&owns_main);
            if code == Some(0) && said.contains("up to date") && (owned || !said.contains("restored:  0 times")) {
                break (Some(began.elapsed()), owned);
            }
            if began.elapsed() > PATIENCE {
                break (None, false);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut facts = vec![Fact {
            text: match restored {
                Some(_) if owned => "resumed: the flush left the guard's table, which the guard owns (status: up to date)".to_string(),
                Some(t) => format!("resumed, the guard restored the rules within {} ms (status: up to date, a restoration counted)", t.as_millis()),
                None => "resumed, the guard did not restore the rules within 10 s".into(),
            },
            holds: restored.is_some(),
        }];
        guard.signal(Signal::SIGTERM)?;
        let mut guard = guard;
        let ended = guard.child.wait().context("cannot wait for the guard")?;
        let loaded = self.loaded()?.is_some();
        facts.push(Fact {
            text: format!("SIGTERM: the guard exited {}; the rules {}", code(&ended), if loaded { "stay loaded" } else { "are GONE" }),
            holds: ended.success() && loaded,
        });
        Ok(facts)
    }

    /// `status` inside the sandbox: its exit code and output.
    fn status(&self) -> Result<(Option<i32>, String)> {
        let out = self.vpn_firewall(&self.config.config_dir, "status")?;
        Ok((out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned()))
    }
}

fn code(status: &std::process::ExitStatus) -> String {
    status.code().map_or("none (killed)".into(), |c| c.to_string())
}
