//! `status`: what the kernel has loaded, compared with the configuration.

use super::warn_if_not_forwarding;
use crate::backend::Backend;
use crate::config::ConfigErrors;
use crate::configuration::Options;
use crate::exit;
use crate::output::{say, say_err};
use crate::policy::{Loaded, Policy, blocked_said};
use crate::settings::Settings;
use crate::values::Interface;
use nix::net::if_::InterfaceFlags;

pub fn status(options: &Options) -> i32 {
    if !nix::unistd::geteuid().is_root() {
        say_err!("vpn-firewall: error: status needs root to read the kernel's firewall; run it with sudo");
        return exit::UNKNOWN;
    }
    let settings = options.load().map(|c| c.validated.settings).map_err(ConfigErrors::from);
    if let Ok(s) = &settings {
        warn_if_not_forwarding(s);
    }
    // What is loaded, whichever backend is configured: a lockdown may have been loaded with
    // another, and a switch of backends leaves the old one's rules until the next start.
    let (installed, missing) = Backend::installed();
    if installed.is_empty() {
        let why: Vec<String> = missing.iter().map(|e| format!("{e:#}")).collect();
        say_err!("vpn-firewall: error: cannot tell whether the ruleset is loaded: {}", why.join("; "));
        return exit::UNKNOWN;
    }
    let mut loaded = Vec::new();
    let mut unreadable = Vec::new();
    for backend in &installed {
        match backend.read() {
            Ok(Some(what)) => loaded.push((backend, what)),
            Ok(None) => {}
            Err(e) => unreadable.push(format!("{}: {e:#}", backend.name())),
        }
    }
    if loaded.is_empty() && !unreadable.is_empty() {
        say_err!("vpn-firewall: error: cannot tell whether the ruleset is loaded: {}", unreadable.join("; "));
        return exit::UNKNOWN;
    }
    for what in &unreadable {
        say_err!("vpn-firewall: warning: cannot read what is loaded with {what}");
    }
    if loaded.is_empty() {
        let looked: Vec<String> = installed.iter().map(|b| format!("no {} ({})", b.objects(), b.name())).collect();
        say!("vpn-firewall: not loaded ({}): nothing is blocked", looked.join(", "));
        print_guard();
        return exit::NOT_LOADED;
    }
    for (backend, what) in loaded {
        report(backend, &what, &settings);
    }
    print_guard();
    exit::OK
}

/// The guard of this network namespace, as it reports itself.
fn print_guard() {
    match crate::guard::ask(&crate::guard::Request::Status) {
        Ok(Some(reply)) => reply.print(),
        Ok(None) => say!("  guard:     not running (another process that flushes the ruleset turns the kill switch off)"),
        Err(e) => say!("  guard:     cannot tell: {e:#}"),
    }
}

fn report(backend: &Backend, loaded: &Loaded, settings: &Result<Settings, ConfigErrors>) {
    say!("vpn-firewall: loaded ({}, {})", backend.name(), backend.objects());
    let state = if loaded.is_lockdown() {
        "LOCKDOWN: the configuration was invalid, or could not be loaded, at start; only loopback passes".to_string()
    } else {
        match settings {
            Ok(s) if loaded.label.as_deref() == Some(backend.label(&Policy::from_settings(s)).as_str()) => {
                "the configuration's ruleset, up to date".to_string()
            }
            Ok(_) => "the ruleset of an earlier configuration; run: vpn-firewall reload".to_string(),
            Err(_) => "a ruleset of an earlier configuration; the configuration is now invalid (see: vpn-firewall check)".to_string(),
        }
    };
    say!("  ruleset:   {state}");
    match settings {
        Ok(s) => {
            say!("  tunnel:    {}", tunnels(&s.tunnel.interfaces));
            if s.forward.enable {
                let inside: Vec<String> = s.forward.interfaces.iter().map(ToString::to_string).collect();
                say!("  forward:   from {} into the tunnel only", inside.join(" "));
            }
            if !s.lan.interfaces.is_empty() {
                let local: Vec<String> = s.lan.interfaces.iter().map(ToString::to_string).collect();
                say!("  local:     {} (containers and VMs: to the host, and into the tunnel only)", local.join(" "));
            }
        }
        Err(_) => say!("  tunnel:    unknown (the configuration is invalid)"),
    }
    say!("  blocked:   {} (since the last load)", blocked_said(&loaded.blocked));
    for warning in &loaded.warnings {
        say!("  WARNING:   {warning}");
    }
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
            let matching: Vec<String> =
                present.iter().filter(|(n, _)| p.matches(n)).map(|(n, up)| format!("{n} {}", if *up { "up" } else { "down" })).collect();
            if matching.is_empty() { format!("{p}: down (no such interface)") } else { format!("{p}: {}", matching.join(", ")) }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
