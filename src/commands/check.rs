//! `check`: validate, then print every effective setting with the place that set it.

use super::warn_if_not_forwarding;
use crate::accounts::SystemAccounts;
use crate::clients;
use crate::config::schema::{self, Key};
use crate::config::{ConfigErrors, RawConfig};
use crate::configuration::Options;
use crate::exit;
use crate::output::say_err;
use crate::policy::tunnel_link_types;
use crate::qubes::{PLATFORM, Qubes};
use crate::settings::Settings;
use anyhow::Result;
use std::fmt::Write;

pub fn check(options: &Options) -> Result<i32> {
    let c = options.load().map_err(ConfigErrors::from)?;
    warn_if_not_forwarding(&c.validated.settings);
    for w in clients::warnings(&c.raw, &c.validated.settings, &options.root, &SystemAccounts) {
        say_err!("vpn-firewall: warning: {w}");
    }
    crate::output::emit(&describe(&c.raw, &c.validated.settings, c.qubes.as_ref()));
    Ok(exit::OK)
}

/// The effective settings as INI, each key annotated with its origin.
fn describe(raw: &RawConfig, settings: &Settings, qubes: Option<&Qubes>) -> String {
    let mut out = String::new();
    let dirs: Vec<String> = raw.dirs.iter().map(|d| d.display().to_string()).collect();
    writeln!(out, "# vpn-firewall: the configuration in {} is valid", dirs.join(" and ")).unwrap();
    if let Some(q) = qubes {
        writeln!(out, "# {PLATFORM}: also reading {} (if it exists), after the configuration directory", q.config_dir.display()).unwrap();
        let dns: Vec<String> = q.dns.iter().map(ToString::to_string).collect();
        let redirect = match settings.forward.dns {
            Some(resolver) => format!("redirected to {resolver} (forward.dns)"),
            None => "left to the redirect of Qubes (set forward.dns to choose the resolver)".into(),
        };
        if settings.forward.enable && !dns.is_empty() {
            writeln!(out, "# DNS of the qubes behind, to {} ({}): {redirect}", dns.join(" "), q.ns_file.display()).unwrap();
        }
    }
    if raw.files.is_empty() {
        writeln!(out, "# no *.conf files: every value is the default").unwrap();
    }
    for f in &raw.files {
        writeln!(out, "# read {}", f.display()).unwrap();
    }
    for section in schema::sections() {
        writeln!(out, "\n[{section}]").unwrap();
        for spec in schema::KEYS.iter().filter(|k| k.section == section) {
            let entry = raw.get(spec.id);
            let line = format!("{} = {}", spec.key, effective(spec.id, settings));
            let mut note = match (&entry.origin, entry.legacy) {
                (None, _) => entry.platform.map_or("default".to_string(), |p| format!("default on {p}")),
                (Some(o), None) => o.to_string(),
                (Some(o), Some(alias)) => format!("{o} (legacy {alias})"),
            };
            if let Some(id) = resolved_id(spec.id, settings) {
                note.push_str(&format!("; {id}"));
            }
            if spec.id == Key::LanDhcpUsers {
                note.push_str(&dhcp_users_note(&entry.value, settings));
            }
            if spec.id == Key::TunnelInterfaces {
                note.push_str(&format!("; {}", link_types(settings)));
            }
            writeln!(out, "{line:<40} # {note}").unwrap();
        }
    }
    out
}

/// A key's value as vpn-firewall uses it: parsed, duplicates dropped, networks merged.
fn effective(key: Key, s: &Settings) -> String {
    fn join<T: ToString>(items: &[T]) -> String {
        items.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
    }
    fn yes(b: bool) -> String {
        (if b { "yes" } else { "no" }).to_string()
    }
    let name = |a: &Option<crate::settings::Account>| a.as_ref().map(|a| a.name.clone()).unwrap_or_default();
    match key {
        Key::TunnelInterfaces => join(&s.tunnel.interfaces),
        Key::TunnelUser => name(&s.tunnel.user),
        Key::TunnelGroup => name(&s.tunnel.group),
        Key::TunnelFwmark => s.tunnel.fwmark.map(|m| format!("{m:#x}")).unwrap_or_default(),
        Key::TunnelServers => join(&s.tunnel.servers),
        Key::TunnelTap => yes(s.tunnel.tap),
        Key::TunnelIpv6 => yes(s.tunnel.ipv6),
        Key::TunnelIncoming => join(&s.tunnel.incoming),
        Key::LanAllow => join(&s.lan.allow),
        Key::LanDns => yes(s.lan.dns),
        Key::LanDhcp => yes(s.lan.dhcp),
        Key::LanDhcpUsers => s.lan.dhcp_users.iter().map(|a| a.name.clone()).collect::<Vec<_>>().join(" "),
        Key::LanIncoming => join(&s.lan.incoming),
        Key::LanInterfaces => join(&s.lan.interfaces),
        Key::LanMulticast => yes(s.lan.multicast),
        Key::ForwardEnable => yes(s.forward.enable),
        Key::ForwardInterfaces => join(&s.forward.interfaces),
        Key::ForwardMasquerade => yes(s.forward.masquerade),
        Key::ForwardDns => s.forward.dns.map(|a| a.to_string()).unwrap_or_default(),
        Key::FirewallBackend => s.firewall.backend.name().to_string(),
        Key::FirewallLog => yes(s.firewall.log),
        Key::FirewallLogRate => s.firewall.log_rate.to_string(),
        Key::FirewallReject => yes(s.firewall.reject),
    }
}

/// Which link types an interface must have to count as the tunnel, as `ip -d link` names them.
fn link_types(s: &Settings) -> String {
    let names: Vec<String> = tunnel_link_types(s).iter().map(|t| format!("link/{}", t.name())).collect();
    format!("only interfaces of link type {}", names.join(", "))
}

/// The uids the DHCP exception admits, and the listed users this machine does not have (only
/// a default can name one: the DHCP client that uses it is not installed, so it is skipped).
fn dhcp_users_note(listed: &str, s: &Settings) -> String {
    let uids: Vec<String> = s.lan.dhcp_users.iter().map(|a| a.id.to_string()).collect();
    let mut note = if uids.is_empty() { "; no process may send DHCP".to_string() } else { format!("; uids {}", uids.join(" ")) };
    let absent: Vec<&str> = crate::values::list(listed).filter(|name| !s.lan.dhcp_users.iter().any(|a| a.name == *name || a.id.to_string() == *name)).collect();
    if !absent.is_empty() {
        note.push_str(&format!("; not on this machine, skipped: {}", absent.join(" ")));
    }
    note
}

/// For user and group: the id the name resolved to, or why there is none.
fn resolved_id(key: Key, s: &Settings) -> Option<String> {
    let (account, what) = match key {
        Key::TunnelUser => (&s.tunnel.user, "uid"),
        Key::TunnelGroup => (&s.tunnel.group, "gid"),
        _ => return None,
    };
    match account {
        Some(a) => Some(format!("{what} {}", a.id)),
        None if key.spec().default.is_empty() => None,
        None => Some("does not exist: no process is exempt".into()),
    }
}
