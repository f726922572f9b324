//! The result: a table for people (colour only on a terminal, by anstream, which also honours
//! NO_COLOR), or one JSON object for scripts.

use super::claims::{Check, Claim, Expect, Stage};
use super::plan::Side;
use super::topology::Topology;
use anstyle::{AnsiColor, Style};
use serde_json::{Value, json};
use std::fmt::Write;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

pub struct Report<'a> {
    pub config_dir: &'a Path,
    pub topology: &'a Topology,
    /// Probes sent without rules, all of which arrived.
    pub control: usize,
    /// What `start` printed inside the sandbox.
    pub started: String,
    pub claims: &'a [Claim],
    pub elapsed: Duration,
}

const GOOD: Style = AnsiColor::Green.on_default().bold();
const BAD: Style = AnsiColor::Red.on_default().bold();
const DIM: Style = Style::new().dimmed();

fn expected(check: &Check) -> &'static str {
    match (check.expect, check.observed.as_ref().map(|o| o.side)) {
        (Expect::Blocked, _) => "blocked",
        (Expect::Passes, Some(Side::Tunnel)) => "via tunnel",
        (Expect::Passes, _) => "via uplink",
    }
}

fn situation(check: &Check) -> String {
    match check.stage {
        Stage::Configured => check.situation.label().to_string(),
        Stage::Lockdown => format!("lockdown, {}", check.situation.label()),
        Stage::Tampered => format!("flushed, {}", check.situation.label()),
    }
}

impl Report<'_> {
    fn passed(&self) -> usize {
        self.claims.iter().filter(|c| c.passed()).count()
    }

    fn tunnel(&self) -> String {
        match &self.topology.plan.tunnel {
            Ok(t) => format!("{} (stands in for {})", t.name, t.pattern),
            Err(why) => format!("none: {why}"),
        }
    }

    pub fn print(&self) {
        let plan = &self.topology.plan;
        let mut out = String::new();
        let [host, net, tun] = self.topology.namespaces();
        writeln!(out, "vpn-firewall selftest of {}", self.config_dir.display()).unwrap();
        writeln!(out, "  sandbox   network namespaces {host}, {net}, {tun}").unwrap();
        writeln!(out, "  uplink    {} ({})", plan.uplink.name, plan.uplink.why).unwrap();
        writeln!(out, "  tunnel    {}", self.tunnel()).unwrap();
        writeln!(out, "  internet  {} and {}, on both sides: the host's routes decide the way", plan.internet4, plan.internet6).unwrap();
        writeln!(out, "  control   {} probes without rules: each arrived where its route leads", self.control).unwrap();
        // One line of start's output after another, aligned under the first.
        writeln!(out, "  start     {}", self.started.lines().collect::<Vec<_>>().join("\n            ")).unwrap();
        writeln!(out, "  columns   situation, probe, sender, expected, packets seen on each side, what the sender saw").unwrap();
        for claim in self.claims {
            let (style, word) = if claim.passed() { (GOOD, "PASS") } else { (BAD, "FAIL") };
            writeln!(out, "\n{style}{word}{style:#}  {}", claim.title).unwrap();
            for note in &claim.notes {
                writeln!(out, "      {DIM}note:{DIM:#} {note}").unwrap();
            }
            for fact in &claim.facts {
                let (style, word) = if fact.holds { (GOOD, "ok") } else { (BAD, "NO") };
                writeln!(out, "      {style}{word:<4}{style:#}  {}", fact.text).unwrap();
            }
            for check in &claim.checks {
                let (style, word) = match (check.held(), check.expect) {
                    (true, _) => (GOOD, "ok"),
                    (false, Expect::Blocked) => (BAD, "LEAK"),
                    (false, Expect::Passes) => (BAD, "MISS"),
                };
                let (seen, said) = check
                    .observed
                    .as_ref()
                    .map_or(("not sent".into(), ""), |o| (format!("uplink {}, tunnel {}", o.seen.uplink, o.seen.tunnel), o.outcome.said.as_str()));
                writeln!(
                    out,
                    "      {style}{word:<4}{style:#}  {:<19} {:<30} {:<21} {:<10}  {:<20}  {said}",
                    situation(check),
                    check.probe.target(),
                    check.probe.sender.label,
                    expected(check),
                    seen
                )
                .unwrap();
            }
        }
        let (passed, all) = (self.passed(), self.claims.len());
        let seconds = self.elapsed.as_secs_f64();
        if passed == all {
            writeln!(out, "\n{GOOD}vpn-firewall: every claim holds ({all} of {all}){GOOD:#}, in {seconds:.1} s").unwrap();
        } else {
            let failed: Vec<&str> = self.claims.iter().filter(|c| !c.passed()).map(|c| c.id).collect();
            writeln!(out, "\n{BAD}vpn-firewall: {} of {all} claims FAILED ({}){BAD:#}, in {seconds:.1} s", all - passed, failed.join(", ")).unwrap();
        }
        // A reader that went away (`| head`) is no reason to fail: the result is the exit code.
        let _ = anstream::stdout().write_all(out.as_bytes());
    }

    pub fn json(&self) -> Value {
        let plan = &self.topology.plan;
        let claims: Vec<Value> = self
            .claims
            .iter()
            .map(|c| {
                let probes: Vec<Value> = c
                    .checks
                    .iter()
                    .map(|check| {
                        let o = check.observed.as_ref();
                        json!({
                            "ruleset": match check.stage { Stage::Configured => "configured", Stage::Lockdown => "lockdown", Stage::Tampered => "tampered" },
                            "situation": check.situation.id(),
                            "proto": check.probe.proto.name(),
                            "to": std::net::SocketAddr::new(check.probe.addr, check.probe.port).to_string(),
                            "as": check.probe.sender.label,
                            "uid": check.probe.sender.uid,
                            "gid": check.probe.sender.gid,
                            "fwmark": check.probe.sender.mark,
                            "expected": expected(check),
                            "sender": o.map(|o| o.outcome.said.clone()),
                            "uplink_packets": o.map(|o| o.seen.uplink),
                            "tunnel_packets": o.map(|o| o.seen.tunnel),
                            "passed": check.held(),
                        })
                    })
                    .collect();
                let facts: Vec<Value> = c.facts.iter().map(|f| json!({ "text": f.text, "holds": f.holds })).collect();
                json!({ "id": c.id, "claim": c.title, "passed": c.passed(), "notes": c.notes, "facts": facts, "probes": probes })
            })
            .collect();
        json!({
            "config_dir": self.config_dir.display().to_string(),
            "passed": self.passed() == self.claims.len(),
            "seconds": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "sandbox": {
                "namespaces": self.topology.namespaces(),
                "uplink": { "name": plan.uplink.name, "why": plan.uplink.why },
                "tunnel": plan.tunnel.as_ref().ok().map(|t| json!({ "name": t.name, "pattern": t.pattern })),
                "tunnel_missing": plan.tunnel.as_ref().err(),
                "internet": [plan.internet4.to_string(), plan.internet6.to_string()],
            },
            "control_probes": self.control,
            "start": self.started,
            "claims": claims,
        })
    }
}
