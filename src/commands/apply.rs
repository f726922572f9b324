//! `start` (restart, reload) and `flush`: the commands that change the kernel's rules.

use super::{backend, exit, load_settings, print_config_errors, require_root};
use crate::cli::Cli;
use crate::lock;
use crate::nft::{Nft, verify};
use crate::policy::{Hook, Kind, Policy};
use crate::render_nft::{FAMILY, TABLE, render_flush, render_nft};
use anyhow::{Context, Result, anyhow};
use std::time::Instant;

pub fn start(cli: &Cli) -> Result<i32> {
    require_root("start")?;
    let began = Instant::now();
    // Taken before the configuration is read, so the last start to run loads the newest files.
    let _lock = lock::acquire()?;
    let validated = match load_settings(&cli.config_dir) {
        Ok((_, v)) => v,
        Err(errors) => {
            // Said first, so that no failure below can hide what is wrong.
            print_config_errors(&errors);
            lock_down_unless_loaded("the configuration is invalid");
            return Ok(exit::INVALID);
        }
    };
    let nft = backend(cli, validated.settings.firewall.backend).inspect_err(|_| lock_down_unless_loaded("no backend can load it"))?;
    let loaded_before = nft.exists().context("cannot tell whether a ruleset is loaded")?;
    let policy = Policy::from_settings(&validated.settings);
    apply(&nft, &policy, !loaded_before)?;
    let rules: usize = Hook::ALL.iter().map(|h| policy.rules(*h).len()).sum();
    println!(
        "vpn-firewall: loaded table {FAMILY} {TABLE} (nftables, {rules} rules, {} LAN networks, {} servers) in {} ms",
        validated.settings.lan.allow.len(),
        validated.settings.tunnel.servers.len(),
        began.elapsed().as_millis()
    );
    Ok(exit::OK)
}

/// When no vpn-firewall ruleset is loaded (first start, boot), loads the lockdown ruleset with
/// nftables, whichever backend was asked for: the machine must not stay open because the
/// configuration cannot be applied. A loaded ruleset is left exactly as it is.
fn lock_down_unless_loaded(reason: &str) {
    let outcome = Nft::locate().and_then(|nft| match nft.exists()? {
        true => Ok(false),
        false => apply(&nft, &Policy::lockdown(), true).map(|()| true),
    });
    match outcome {
        Ok(false) => eprintln!("vpn-firewall: {reason}: the loaded ruleset was left exactly as it was"),
        Ok(true) => eprintln!("vpn-firewall: {reason} and nothing was loaded: loaded the lockdown ruleset (only loopback passes)"),
        Err(e) => eprintln!("vpn-firewall: error: {reason}, and the lockdown ruleset could not be loaded: {e:#}"),
    }
}

/// Loads `policy` and reads it back. A failed start must not leave the machine open: when the
/// kernel refuses the transaction (it then changed nothing) and nothing was loaded before
/// (`nothing_before`), or when what was loaded is not what was sent, the lockdown ruleset is
/// loaded instead.
fn apply(nft: &Nft, policy: &Policy, nothing_before: bool) -> Result<()> {
    let outcome = match nft.load(&render_nft(policy)) {
        Err(e) if !nothing_before => return Err(e),
        Err(e) => Err(e),
        Ok(()) => nft
            .table()
            .and_then(|t| t.ok_or_else(|| anyhow!("table {FAMILY} {TABLE} is missing right after loading it")))
            .and_then(|loaded| verify(&loaded, policy)),
    };
    let Err(e) = outcome else { return Ok(()) };
    if policy.kind != Kind::Lockdown {
        match nft.load(&render_nft(&Policy::lockdown())) {
            Ok(()) => eprintln!("vpn-firewall: loaded the lockdown ruleset instead (only loopback passes)"),
            Err(l) => eprintln!("vpn-firewall: error: the lockdown ruleset could not be loaded either: {l:#}"),
        }
    }
    Err(e)
}

/// Removes vpn-firewall's table whichever backend is configured or asked for: what is loaded
/// decides what there is to remove.
pub fn flush() -> Result<i32> {
    require_root("flush")?;
    let nft = match Nft::locate() {
        Ok(nft) => nft,
        Err(e) => {
            println!("vpn-firewall: nothing to flush: {e:#}");
            return Ok(exit::OK);
        }
    };
    let _lock = lock::acquire()?;
    if !nft.exists()? {
        println!("vpn-firewall: nothing to flush: no table {FAMILY} {TABLE} is loaded");
        return Ok(exit::OK);
    }
    nft.load(&render_flush())?;
    if nft.exists()? {
        return Err(anyhow!("table {FAMILY} {TABLE} is still loaded after deleting it"));
    }
    println!("vpn-firewall: removed table {FAMILY} {TABLE}; vpn-firewall no longer blocks anything");
    Ok(exit::OK)
}
