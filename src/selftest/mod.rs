//! `selftest`: proves the configuration keeps vpn-firewall's promise, on this kernel, in a
//! sandbox of throwaway network namespaces (see [`plan`] for its layout).
//!
//! The steps: probes without rules, each of which must arrive where its route leads (else the
//! sandbox, not the configuration, is broken); `vpn-firewall start` inside the host namespace,
//! the very command an admin runs; the probes of every claim, route situation by situation,
//! counted on the wire; then a broken drop-in, `flush`, and the broken drop-in again, for the
//! lockdown. The namespaces go when the sandbox is dropped, whatever happened.

mod claims;
mod observe;
mod plan;
mod probe;
mod report;
mod sandbox;
mod tamper;
mod topology;
mod tunnel;

pub use probe::{Probe, Sender, probe_command};

use crate::backend::Backend;
use crate::config::ConfigErrors;
use crate::config::schema::Key;
use crate::configuration;
use crate::exit;
use crate::policy::Loaded;
use crate::values::Interface;
use anyhow::{Context, Result, bail};
use claims::{Check, Claim, Fact, Observed, Stage};
use observe::{Observer, Seen};
use plan::{Plan, Situation};
use probe::{Outcome, SELF};
use report::Report;
use sandbox::Sandbox;
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};
use topology::Topology;

/// The drop-in that breaks the configuration: a prefix length IPv4 does not have.
const BROKEN_FILE: &str = "zz-selftest-broken.conf";
const BROKEN: &str = "# vpn-firewall selftest: a typo, to see what start does with a broken configuration\n[lan]\nallow = 192.0.2.0/33\n";

/// How long a probe that left its sender may take to show up on a far side.
const PATIENCE: Duration = Duration::from_secs(1);

/// Probes send from this port up, one port each, so that their packets can be told apart.
const FIRST_SOURCE_PORT: u16 = 50000;

/// What `selftest` is asked for beyond the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// One JSON object instead of the table.
    pub json: bool,
    /// The interface the sandbox's uplink is named like, instead of this machine's.
    pub uplink: Option<Interface>,
}

pub fn selftest(config: &configuration::Options, options: &Options) -> Result<i32> {
    if !nix::unistd::geteuid().is_root() {
        bail!("selftest needs root to create network namespaces; run it with sudo");
    }
    let began = Instant::now();
    let configuration::Configuration { raw, validated, backend, .. } = config.load().map_err(ConfigErrors::from)?;
    let settings = validated.settings;
    let backend = Backend::choose(backend)?;
    let ip = crate::tools::locate("ip", "iproute2")?;
    let plan = Plan::new(&settings, options.uplink.as_ref());
    let user = raw.get(Key::TunnelUser).value.clone();
    let mut claims = claims::claims(&settings, &plan, &user);

    let topology = Topology::build(Sandbox::new(ip)?, plan)?;
    let observer = Observer::install(&topology.net, &topology.tun)?;
    let run = Run { config, backend: &backend, topology: &topology, observer, sent: AtomicU16::new(0) };

    let control = run.control(&claims)?;
    let started = run.vpn_firewall(&config.config_dir, "start")?;
    if !started.status.success() {
        bail!("start failed inside the sandbox ({}): {}", started.status, String::from_utf8_lossy(&started.stderr).trim());
    }
    run.probe(&mut claims, Stage::Configured)?;
    let broken = claims.iter_mut().find(|c| c.id == "broken-config").expect("the broken-config claim");
    broken.facts = run.break_configuration()?;
    run.probe(&mut claims, Stage::Lockdown)?;
    let (guard, mut facts) = run.tamper()?;
    run.probe(&mut claims, Stage::Tampered)?;
    facts.extend(run.resume(guard)?);
    claims.iter_mut().find(|c| c.id == "guard-tamper").expect("the guard-tamper claim").facts = facts;

    let report = Report {
        config_dir: &config.config_dir,
        topology: &topology,
        control,
        started: String::from_utf8_lossy(&started.stdout).trim().to_string(),
        claims: &claims,
        elapsed: began.elapsed(),
    };
    if options.json {
        let text = serde_json::to_string_pretty(&report.json()).expect("JSON values serialize") + "\n";
        // A reader that went away is no reason to fail: the result is the exit code.
        let _ = std::io::stdout().write_all(text.as_bytes());
    } else {
        report.print();
    }
    Ok(if claims.iter().all(Claim::passed) { exit::OK } else { exit::FAILED })
}

fn checks(claims: &[Claim]) -> impl Iterator<Item = &Check> {
    claims.iter().flat_map(|c| &c.checks)
}

struct Run<'a> {
    config: &'a configuration::Options,
    backend: &'a Backend,
    topology: &'a Topology,
    observer: Observer,
    /// Probes sent so far, for their source ports.
    sent: AtomicU16,
}

impl Run<'_> {
    /// Sends every probe once without rules, in each situation it will be sent in: each must
    /// arrive where its route leads, or a "blocked" later would prove nothing. Returns how many.
    fn control(&self, claims: &[Claim]) -> Result<usize> {
        let mut done = HashSet::new();
        for situation in Situation::ORDER {
            let probes: Vec<&Probe> = checks(claims).filter(|c| c.situation == situation && done.insert((situation, &c.probe))).map(|c| &c.probe).collect();
            if probes.is_empty() {
                continue;
            }
            self.topology.enter(situation)?;
            let observed = self.send(situation, &probes)?;
            let missed: Vec<&Probe> = probes.iter().zip(&observed).filter(|(_, o)| !o.arrived()).map(|(p, _)| *p).collect();
            if missed.is_empty() {
                continue;
            }
            // A busy machine can hold an answer back past a probe's timeout: each one that
            // missed is sent once more before the sandbox counts as broken.
            for (probe, o) in missed.iter().zip(self.send(situation, &missed)?) {
                if !o.arrived() {
                    bail!(
                        "the sandbox does not carry packets: without rules, {probe} ({}) should arrive on the {:?} side, but the sender said {:?}, and {} packets arrived on the uplink side, {} on the tunnel side",
                        situation.label(),
                        o.side,
                        o.outcome.said,
                        o.seen.uplink,
                        o.seen.tunnel
                    );
                }
            }
        }
        Ok(done.len())
    }

    /// Sends the probes of `stage`, situation by situation, and records what each did.
    fn probe(&self, claims: &mut [Claim], stage: Stage) -> Result<()> {
        for situation in Situation::ORDER {
            let mut pending: Vec<&mut Check> = claims.iter_mut().flat_map(|c| &mut c.checks).filter(|c| c.stage == stage && c.situation == situation).collect();
            if pending.is_empty() {
                continue;
            }
            self.topology.enter(situation)?;
            let probes: Vec<&Probe> = pending.iter().map(|c| &c.probe).collect();
            let observed = self.send(situation, &probes)?;
            for (check, o) in pending.iter_mut().zip(observed) {
                check.observed = Some(o);
            }
        }
        Ok(())
    }

    /// Sends the probes all at once, each from a source port of its own, and counts what
    /// arrived on each side from each.
    fn send(&self, situation: Situation, probes: &[&Probe]) -> Result<Vec<Observed>> {
        let ports: Vec<u16> = probes.iter().map(|_| self.source_port()).collect();
        let children = self.topology.host.within(|| probes.iter().zip(&ports).map(|(p, port)| p.spawn(*port)).collect::<Result<Vec<_>>>())?;
        let outcomes = children.into_iter().map(Outcome::of).collect::<Result<Vec<_>>>()?;
        // A packet that left may still be on its way through the veth; one refused in the
        // sending call never left, and one look is enough.
        let deadline = Instant::now() + PATIENCE;
        loop {
            let seen = probes.iter().zip(&ports).map(|(p, port)| self.observer.seen(p.proto, *port)).collect::<Result<Vec<_>>>()?;
            let on_the_way = outcomes.iter().zip(&seen).any(|(o, s)| o.left && *s == Seen::default());
            if !on_the_way || Instant::now() >= deadline {
                let observed = probes.iter().zip(outcomes).zip(seen);
                return Ok(observed.map(|((p, outcome), seen)| Observed { outcome, seen, side: self.topology.plan.side(situation, p.addr) }).collect());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The next source port for a probe: each is used once per run.
    fn source_port(&self) -> u16 {
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        FIRST_SOURCE_PORT + n % (u16::MAX - FIRST_SOURCE_PORT)
    }

    /// `vpn-firewall --config-dir DIR COMMAND`, this binary, inside the host namespace.
    fn vpn_firewall(&self, dir: &Path, command: &str) -> Result<Output> {
        self.topology.host.within(|| {
            let mut cmd = Command::new(SELF);
            cmd.arg("--config-dir").arg(dir);
            if let Some(choice) = self.config.backend {
                cmd.args(["--backend", choice.name()]);
            }
            cmd.arg(command).env_remove("VPN_FIREWALL_CONFIG_DIR").stdin(Stdio::null());
            cmd.output().with_context(|| format!("cannot run vpn-firewall {command} inside the sandbox"))
        })
    }

    /// What vpn-firewall has loaded in the host namespace.
    fn loaded(&self) -> Result<Option<Loaded>> {
        self.topology.host.within(|| self.backend.read())
    }

    /// The configuration directory with a broken drop-in added: `start` with it must leave the
    /// configuration's rules as they are, and, once they are flushed, load the lockdown.
    fn break_configuration(&self) -> Result<Vec<Fact>> {
        let dir = tempfile::Builder::new().prefix("vpn-firewall-selftest-").tempdir().context("cannot make a temporary directory")?;
        let config_dir = &self.config.config_dir;
        let entries = std::fs::read_dir(config_dir).with_context(|| format!("cannot read {}", config_dir.display()))?;
        for entry in entries.flatten().filter(|e| e.path().is_file()) {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).with_context(|| format!("cannot copy {}", entry.path().display()))?;
        }
        std::fs::write(dir.path().join(BROKEN_FILE), BROKEN).context("cannot write the broken drop-in")?;
        let code = |o: &Output| o.status.code().map_or("none (killed)".into(), |c| c.to_string());
        // The label holds a digest of the rules.
        let rules = |t: &Option<Loaded>| t.as_ref().map(|t| t.label.clone());
        let describe = |t: &Option<Loaded>| match t {
            Some(t) => format!("{:?}", t.label.as_deref().unwrap_or("rules without a label")),
            None => "nothing".into(),
        };

        let before = self.loaded()?;
        let kept = self.vpn_firewall(dir.path(), "start")?;
        let after = self.loaded()?;
        let mut facts = vec![Fact {
            text: format!(
                "start with {BROKEN_FILE} added (allow = 192.0.2.0/33), the configuration's rules loaded: exit {} (expected 2); {} before, {}",
                code(&kept),
                describe(&before),
                if rules(&after) == rules(&before) { "unchanged after".to_string() } else { format!("{} after", describe(&after)) }
            ),
            holds: kept.status.code() == Some(2) && before.is_some() && rules(&after) == rules(&before),
        }];
        let flushed = self.vpn_firewall(config_dir, "flush")?;
        let after = self.loaded()?;
        facts.push(Fact { text: format!("flush: exit {}; {} left", code(&flushed), describe(&after)), holds: flushed.status.success() && after.is_none() });
        let locked = self.vpn_firewall(dir.path(), "start")?;
        let after = self.loaded()?;
        facts.push(Fact {
            text: format!("start with {BROKEN_FILE}, nothing loaded (as at boot): exit {} (expected 2); {} loaded", code(&locked), describe(&after)),
            holds: locked.status.code() == Some(2) && after.as_ref().is_some_and(Loaded::is_lockdown),
        });
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    use crate::accounts::FixedAccounts;
    use crate::config::RawConfig;
    use crate::settings::Settings;

    /// The settings of one drop-in with `text`, on a machine without accounts.
    pub fn settings(text: &str) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("50-test.conf"), text).unwrap();
        let raw = RawConfig::load(dir.path()).unwrap();
        Settings::validate(&raw, &FixedAccounts(&[])).unwrap().settings
    }
}
