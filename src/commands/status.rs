//! `status`: what the kernel has loaded, compared with the configuration.

use super::{exit, load_settings};
use crate::cli::Cli;
use crate::nft::LoadedTable;
use crate::policy::{Hook, Policy};
use crate::render_nft::{FAMILY, TABLE, table_comment};
use crate::nft::Nft;
use crate::values::Interface;
use nix::net::if_::InterfaceFlags;

pub fn status(cli: &Cli) -> i32 {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("vpn-firewall: error: status needs root to read the kernel's firewall; run it with sudo");
        return exit::UNKNOWN;
    }
    let settings = load_settings(&cli.config_dir).map(|(_, v)| v.settings);
    // What is loaded, whichever backend is configured: a lockdown is loaded with nftables.
    let loaded = Nft::locate().and_then(|nft| nft.table());
    let table = match loaded {
        Ok(Some(t)) => t,
        Ok(None) => {
            println!("vpn-firewall: not loaded (no table {FAMILY} {TABLE}): nothing is blocked");
            return exit::NOT_LOADED;
        }
        Err(e) => {
            eprintln!("vpn-firewall: error: cannot tell whether the ruleset is loaded: {e:#}");
            return exit::UNKNOWN;
        }
    };

    println!("vpn-firewall: loaded (nftables, table {FAMILY} {TABLE})");
    let state = if table.is_lockdown() {
        "LOCKDOWN: the configuration was invalid at start; only loopback passes".to_string()
    } else {
        match &settings {
            Ok(s) if table.comment.as_deref() == Some(table_comment(&Policy::from_settings(s)).as_str()) => {
                "the configuration's ruleset, up to date".to_string()
            }
            Ok(_) => "the ruleset of an earlier configuration; run: vpn-firewall reload".to_string(),
            Err(_) => "a ruleset of an earlier configuration; the configuration is now invalid (see: vpn-firewall check)".to_string(),
        }
    };
    println!("  ruleset:   {state}");
    match &settings {
        Ok(s) => println!("  tunnel:    {}", tunnels(&s.tunnel.interfaces)),
        Err(_) => println!("  tunnel:    unknown (the configuration is invalid)"),
    }
    println!("  blocked:   {} (since the last load)", counters(&table));
    exit::OK
}

fn counters(table: &LoadedTable) -> String {
    Hook::ALL
        .iter()
        .map(|h| {
            let packets = table.packets(&format!("blocked_{}", h.name()));
            format!("{} {}", h.name(), packets.map_or("?".into(), |p| format!("{p} packets")))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each configured tunnel interface with the interfaces that match it and whether they are up.
fn tunnels(patterns: &[Interface]) -> String {
    let mut present: Vec<(String, bool)> = Vec::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for a in addrs {
            let up = a.flags.contains(InterfaceFlags::IFF_UP) && a.flags.contains(InterfaceFlags::IFF_RUNNING);
            match present.iter_mut().find(|(n, _)| *n == a.interface_name) {
                Some(entry) => entry.1 |= up,
                None => present.push((a.interface_name, up)),
            }
        }
    }
    if patterns.is_empty() {
        return "none configured".into();
    }
    patterns
        .iter()
        .map(|p| {
            let matching: Vec<String> = present
                .iter()
                .filter(|(n, _)| p.matches(n))
                .map(|(n, up)| format!("{n} {}", if *up { "up" } else { "down" }))
                .collect();
            if matching.is_empty() { format!("{p}: down (no such interface)") } else { format!("{p}: {}", matching.join(", ")) }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
