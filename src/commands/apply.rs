//! `start` (restart, reload) and `flush`: the commands that change the kernel's rules.

use super::{backend, exit, load_settings, require_root};
use crate::cli::Cli;
use crate::lock;
use crate::nft::{Nft, verify};
use crate::policy::{Hook, Kind, Policy};
use crate::render_nft::{FAMILY, TABLE, render_flush, render_nft};
use crate::settings::BackendChoice;
use anyhow::{Context, Result, anyhow};
use std::time::Instant;

pub fn start(cli: &Cli) -> Result<i32> {
    require_root("start")?;
    let began = Instant::now();
    let validated = load_settings(&cli.config_dir).map(|(_, v)| v);
    let configured = validated.as_ref().map_or(BackendChoice::Auto, |v| v.settings.firewall.backend);
    let nft = backend(cli, configured)?;
    let _lock = lock::acquire()?;
    let loaded_before = nft.exists().context("cannot tell whether a ruleset is loaded")?;

    let validated = match validated {
        Ok(v) => v,
        Err(errors) => {
            if loaded_before {
                eprintln!("vpn-firewall: configuration invalid: the loaded ruleset was left exactly as it was");
            } else {
                apply(&nft, &Policy::lockdown(), true).context("cannot load the lockdown ruleset")?;
                eprintln!("vpn-firewall: configuration invalid and nothing was loaded: loaded the lockdown ruleset (only loopback passes)");
            }
            return Err(errors.into());
        }
    };
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

/// Loads `policy` and reads it back. A failed start must not leave the machine open: when the
/// kernel refuses the transaction (it then changed nothing) and nothing was loaded before
/// (`nothing_before`), or when what was loaded is not what was sent, the lockdown ruleset is
/// loaded instead.
fn apply(nft: &Nft, policy: &Policy, nothing_before: bool) -> Result<()> {
    let lockdown = match nft.load(&render_nft(policy)) {
        Err(e) if !nothing_before => return Err(e),
        Err(e) => Err(e),
        Ok(()) => nft
            .table()
            .and_then(|t| t.ok_or_else(|| anyhow!("table {FAMILY} {TABLE} is missing right after loading it")))
            .and_then(|loaded| verify(&loaded, policy)),
    };
    let Err(e) = lockdown else { return Ok(()) };
    if policy.kind != Kind::Lockdown {
        match nft.load(&render_nft(&Policy::lockdown())) {
            Ok(()) => eprintln!("vpn-firewall: loaded the lockdown ruleset instead (only loopback passes)"),
            Err(l) => eprintln!("vpn-firewall: error: the lockdown ruleset could not be loaded either: {l:#}"),
        }
    }
    Err(e)
}

pub fn flush(cli: &Cli) -> Result<i32> {
    require_root("flush")?;
    let nft = match backend(cli, BackendChoice::Auto) {
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
