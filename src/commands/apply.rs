//! `start` (restart, reload) and `flush`: the commands that change the kernel's rules.

use super::{print_config_errors, require_root, warn_if_not_forwarding};
use crate::arp;
use crate::backend::Backend;
use crate::configuration::Options;
use crate::exit;
use crate::guard;
use crate::lock;
use crate::output::{say, say_err};
use crate::policy::{Hook, Kind, Policy};
use crate::settings::BackendChoice;
use anyhow::{Context, Result, bail};
use std::time::Instant;

pub fn start(options: &Options) -> Result<i32> {
    require_root("start")?;
    let began = Instant::now();
    // Taken before the configuration is read, so the last start to run loads the newest files.
    let _lock = lock::acquire()?;
    // A running guard loads both layers itself (only it can replace its own table), from the
    // configuration it reads: it says what is wrong with an invalid one and locks down as below.
    // One that fails to answer (it died half-way, say) must not leave a machine with nothing
    // loaded open: this start then loads the lockdown ruleset when nothing is loaded.
    let guard_failed = match guard::ask(&guard::Request::Start(options.clone())) {
        Ok(Some(reply)) => {
            reply.print();
            return Ok(reply.code);
        }
        Ok(None) => false,
        Err(e) => {
            say_err!("vpn-firewall: error: {e:#}");
            true
        }
    };
    let (validated, chosen) = match options.load() {
        Ok(c) => (c.validated, c.backend),
        Err(invalid) => {
            // Said first, so that no failure below can hide what is wrong.
            print_config_errors(&invalid.errors);
            lock_down_unless_loaded(invalid.backend.unwrap_or_default(), "the configuration is invalid");
            return Ok(exit::INVALID);
        }
    };
    if guard_failed {
        lock_down_unless_loaded(chosen, "the guard did not load the ruleset");
        return Ok(exit::FAILED);
    }
    let backend = Backend::choose(chosen).inspect_err(|_| lock_down_unless_loaded(chosen, "no backend can load it"))?;
    let (installed, _) = Backend::installed();
    // Another backend's rules count as loaded only when it says so for sure: when in doubt, a
    // failed load ends in lockdown.
    let others: Vec<&Backend> = installed.iter().filter(|b| !b.same_kind(&backend) && b.exists().unwrap_or(false)).collect();
    let loaded_before = !others.is_empty() || backend.exists().context("cannot tell whether a ruleset is loaded")?;
    let policy = Policy::from_settings(&validated.settings);
    apply(&backend, &policy, !loaded_before)?;
    // Another backend's rules go only now that this one's hold: a switch of backends leaves no
    // moment without rules.
    for other in others {
        match other.flush() {
            Ok(said) => say!("vpn-firewall: {said}: the configuration uses {} now", backend.name()),
            Err(e) => say_err!("vpn-firewall: warning: cannot remove what {} loaded before: {e:#}", other.name()),
        }
    }
    warn_if_not_forwarding(&validated.settings);
    let rules = Hook::ALL.iter().map(|h| policy.rules(*h).len()).sum::<usize>() + policy.nat.hooks().map(|h| policy.nat.rules(h).len()).sum::<usize>();
    say!(
        "vpn-firewall: loaded {} ({}, {rules} rules, {} LAN networks, {} servers) in {} ms",
        backend.objects(),
        backend.name(),
        validated.settings.lan.allow.len(),
        validated.settings.tunnel.servers.len(),
        began.elapsed().as_millis()
    );
    Ok(exit::OK)
}

/// When no vpn-firewall ruleset is loaded (first start, boot), loads the lockdown ruleset with
/// the `preferred` backend, or with any that works when that one cannot: the machine must not
/// stay open because the configuration cannot be applied. A loaded ruleset, whichever backend
/// loaded it, is left exactly as it is.
fn lock_down_unless_loaded(preferred: BackendChoice, reason: &str) {
    let outcome = || -> Result<Option<String>> {
        let (installed, _) = Backend::installed();
        if installed.iter().any(|b| b.exists().unwrap_or(false)) {
            return Ok(None);
        }
        let backend = Backend::choose(preferred).or_else(|_| Backend::choose(BackendChoice::Auto))?;
        if backend.exists()? {
            return Ok(None);
        }
        apply(&backend, &Policy::lockdown(), true)?;
        Ok(Some(backend.name().to_string()))
    };
    match outcome() {
        Ok(None) => say_err!("vpn-firewall: {reason}: the loaded ruleset was left exactly as it was"),
        Ok(Some(name)) => say_err!("vpn-firewall: {reason} and nothing was loaded: loaded the lockdown ruleset with {name} (only loopback passes)"),
        Err(e) => say_err!("vpn-firewall: error: {reason}, and the lockdown ruleset could not be loaded: {e:#}"),
    }
}

/// Loads `policy` and reads it back. A failed start must not leave the machine open: when the
/// kernel refuses the rules and nothing was loaded before (`nothing_before`), or when what was
/// loaded is not what was sent, the lockdown ruleset is loaded instead.
fn apply(backend: &Backend, policy: &Policy, nothing_before: bool) -> Result<()> {
    let outcome = match backend.load(policy) {
        Err(e) if !nothing_before => return Err(e),
        Err(e) => Err(e),
        Ok(()) => backend.verify(policy),
    };
    let Err(e) = outcome else { return protect_arp() };
    if policy.kind != Kind::Lockdown {
        match backend.load(&Policy::lockdown()) {
            Ok(()) => say_err!("vpn-firewall: loaded the lockdown ruleset instead (only loopback passes)"),
            Err(l) => say_err!("vpn-firewall: error: the lockdown ruleset could not be loaded either: {l:#}"),
        }
    }
    Err(e)
}

/// ARP answers for each interface's own addresses only, once the rules hold (see `arp`): a
/// failure leaves the rules loaded, closed as they are.
fn protect_arp() -> Result<()> {
    if let Some(said) = arp::protect_said()? {
        say!("{said}");
    }
    Ok(())
}

/// Removes what vpn-firewall loaded, whichever backend is configured or asked for: what is
/// loaded decides what there is to remove.
pub fn flush() -> Result<i32> {
    require_root("flush")?;
    let (installed, missing) = Backend::installed();
    if installed.is_empty() {
        let why: Vec<String> = missing.iter().map(|e| format!("{e:#}")).collect();
        say!("vpn-firewall: nothing to flush: {}", why.join("; "));
        return Ok(exit::OK);
    }
    let _lock = lock::acquire()?;
    if let Some(reply) = guard::ask(&guard::Request::Flush)? {
        reply.print();
        return Ok(reply.code);
    }
    let mut removed = 0;
    let mut failed = Vec::new();
    // Each backend on its own: one that cannot be read must not keep the other's rules loaded.
    for backend in &installed {
        match backend.exists().and_then(|loaded| if loaded { backend.flush().map(Some) } else { Ok(None) }) {
            Ok(Some(said)) => {
                say!("vpn-firewall: {said}");
                removed += 1;
            }
            Ok(None) => {}
            Err(e) => failed.push(format!("{}: {e:#}", backend.name())),
        }
    }
    match arp::restore_said() {
        Ok(said) => said.into_iter().for_each(|line| say!("{line}")),
        Err(e) => failed.push(format!("{e:#}")),
    }
    if !failed.is_empty() {
        bail!("cannot flush what is loaded with {}", failed.join("; "));
    }
    if removed == 0 {
        let looked: Vec<String> = installed.iter().map(|b| format!("no {} ({})", b.objects(), b.name())).collect();
        say!("vpn-firewall: nothing to flush: {} is loaded", looked.join(", "));
    } else {
        say!("vpn-firewall: vpn-firewall no longer blocks anything");
    }
    Ok(exit::OK)
}
