//! What the guard guards, and its answers to `start`, `flush` and `status`.

use super::control::{Reply, Request};
use super::layers::{self, Hold, Outcome};
use super::owner::Owner;
use crate::backend::Backend;
use crate::configuration::Options;
use crate::exit;
use crate::forwarding;
use crate::nft::Notice;
use crate::output::say_err;
use crate::policy::{Policy, blocked_said};
use crate::render_nft::{FAMILY, GUARD_TABLE, TABLE};
use crate::settings::BackendChoice;
use std::time::Instant;

/// The guard's state: its netlink socket (the owner of its table) and what it guards.
pub struct Guard {
    pub(super) owner: Owner,
    /// `None`: standing by, nothing of vpn-firewall loaded by it.
    pub(super) guarded: Option<Guarded>,
    pub(super) restorations: u64,
    pub(super) last: Option<(Instant, String)>,
    /// A restoration failed: try again at the next poll.
    pub(super) retry: bool,
    /// Keeping `arp_ignore` raised failed at the last poll (said once, until it works again).
    pub(super) arp_failing: bool,
    /// Nothing of vpn-firewall is loaded, with any backend: the guard found it so at its start
    /// or left it so with its flush, and while it runs every start goes through it. A start
    /// then need not ask every backend (iptables' forks). Rules of ours loaded by hand meanwhile
    /// (a saved ruleset restored) stay beside the new ones: more closed, never less.
    nothing_loaded: bool,
    /// Notices of a transaction whose end (its generation notice) has not been read yet.
    pub(super) pending: Vec<Notice>,
    since: Instant,
    /// It owns the nftables table itself, which the kernel keeps when the guard ends (see
    /// `Hold`): the kernel can (Linux 6.9), and no second table was asked for.
    persist: bool,
}

pub struct Guarded {
    pub backend: Backend,
    pub policy: Policy,
    pub hold: Hold,
}

impl Guard {
    pub fn new(owner: Owner, persist: bool) -> Guard {
        Guard {
            owner,
            persist,
            guarded: None,
            restorations: 0,
            last: None,
            retry: false,
            arp_failing: false,
            nothing_loaded: false,
            pending: Vec::new(),
            since: Instant::now(),
        }
    }

    pub fn restorations(&self) -> u64 {
        self.restorations
    }

    /// What stays loaded when the guard ends, `None` when standing by.
    pub fn left_behind(&self) -> Option<String> {
        self.guarded.as_ref().map(|g| g.hold.left_behind(&g.backend))
    }

    /// One line: what it guards, or that it stands by.
    pub fn state(&self) -> String {
        let ruleset = |g: &Guarded| if g.policy.kind == crate::policy::Kind::Lockdown { "the LOCKDOWN ruleset" } else { "the configuration's ruleset" };
        match &self.guarded {
            Some(g) => format!("guarding {} ({}, {})", ruleset(g), g.backend.name(), g.hold.objects(&g.backend)),
            None => "standing by: nothing of vpn-firewall is loaded; it guards from the next start on".into(),
        }
    }

    /// How it holds what it loads, for the log line it starts with.
    pub fn way(&self) -> String {
        if self.persist {
            format!("with nftables it owns table {FAMILY} {TABLE}, which the kernel keeps should the guard end")
        } else {
            format!("it owns a second table, {FAMILY} {GUARD_TABLE}, beside what start loads")
        }
    }

    /// At its start: when vpn-firewall's rules are loaded (a start ran before the guard did),
    /// loads the configuration as `start` does and guards it; otherwise stands by.
    pub fn adopt(&mut self, options: &Options) {
        let (installed, _) = Backend::installed();
        let loaded: Vec<&Backend> = installed.iter().filter(|b| b.exists().unwrap_or(false)).collect();
        if loaded.is_empty() {
            self.nothing_loaded = installed.iter().all(|b| matches!(b.exists(), Ok(false)));
            return;
        }
        let reply = self.start(options);
        for line in reply.stdout.iter().chain(&reply.stderr) {
            say_err!("{line}");
        }
        if reply.code == exit::INVALID {
            // The loaded rules came from an earlier configuration: they stay as they are. A
            // lockdown, though, is known and guarded as such.
            if let Some(b) = loaded.iter().find(|b| b.read().ok().flatten().is_some_and(|l| l.is_lockdown())) {
                let backend = Backend::choose(if b.name() == "nftables" { BackendChoice::Nftables } else { BackendChoice::Iptables });
                if let Ok(backend) = backend {
                    self.load_or_report(backend, Policy::lockdown(), false, &mut Reply::default());
                }
            }
        }
    }

    pub fn handle(&mut self, request: &Request) -> Reply {
        match request {
            Request::Start(options) => self.start(options),
            Request::Flush => self.flush(),
            Request::Status => self.status(),
        }
    }

    fn start(&mut self, options: &Options) -> Reply {
        let began = Instant::now();
        let mut reply = Reply::default();
        // As `start`: what cannot be loaded leaves loaded rules as they are, and with none
        // loaded gives the lockdown.
        let (validated, chosen) = match options.load() {
            Ok(c) => (c.validated, c.backend),
            Err(invalid) => {
                let mut reply = self.lockdown(invalid.backend.unwrap_or_default(), "the configuration is invalid");
                reply.stderr.splice(0..0, invalid.errors.0.iter().map(|l| format!("vpn-firewall: error: {l}")));
                return reply;
            }
        };
        let backend = match Backend::choose(chosen) {
            Ok(b) => b,
            Err(e) => {
                let mut reply = self.lockdown(chosen, "no backend can load it");
                reply.code = exit::FAILED;
                reply.err(format!("vpn-firewall: error: {e:#}"));
                return reply;
            }
        };
        // What the guard guards is what is loaded: only a start without one (before the guard
        // ran) or a switch of backends leaves another backend's rules to remove. (Asking every
        // backend costs forks of iptables; a reload through the guard needs none.)
        let same = self.guarded.as_ref().is_some_and(|g| g.backend.same_kind(&backend));
        let others: Vec<Backend> = if same || self.nothing_loaded {
            Vec::new()
        } else {
            let (installed, _) = Backend::installed();
            installed.into_iter().filter(|b| !b.same_kind(&backend) && b.exists().unwrap_or(false)).collect()
        };
        let nothing_before = self.nothing_loaded || (others.is_empty() && self.guarded.is_none() && !backend.exists().unwrap_or(false));
        let hold = Hold::of(&backend, self.persist);
        let (objects, name) = (hold.objects(&backend), backend.name().to_string());
        for w in forwarding::warnings(&validated.settings) {
            reply.err(format!("vpn-firewall: warning: {w}"));
        }
        if self.load_or_report(backend, Policy::from_settings(&validated.settings), nothing_before, &mut reply) {
            // A table the guard owned went with the load (see `layers`).
            for other in others.into_iter().filter(|o| o.exists().unwrap_or(true)) {
                match other.flush() {
                    Ok(said) => reply.out(format!("vpn-firewall: {said}: the configuration uses {name} now")),
                    Err(e) => reply.err(format!("vpn-firewall: warning: cannot remove what {} loaded before: {e:#}", other.name())),
                }
            }
            reply.out(format!(
                "vpn-firewall: loaded {objects}, owned by the guard (pid {}) ({name}, {} LAN networks, {} servers) in {} ms",
                std::process::id(),
                validated.settings.lan.allow.len(),
                validated.settings.tunnel.servers.len(),
                began.elapsed().as_millis()
            ));
        }
        reply
    }

    /// Loads `policy` as the guard holds it (see `Hold`) and guards what is in force
    /// afterwards; says what went wrong in `reply` (exit 1). Whether `policy` itself was loaded.
    fn load_or_report(&mut self, backend: Backend, policy: Policy, nothing_before: bool, reply: &mut Reply) -> bool {
        // Whatever the outcome, something may be loaded from now on.
        self.nothing_loaded = false;
        let hold = Hold::of(&backend, self.persist);
        let error = match layers::apply(&mut self.owner, &backend, &policy, hold, nothing_before) {
            Outcome::Loaded => {
                self.guarded = Some(Guarded { backend, policy, hold });
                // As `start` without a guard: the LAN must not learn the tunnel's address.
                match crate::arp::protect_said() {
                    Ok(said) => said.into_iter().for_each(|line| reply.out(line)),
                    Err(e) => {
                        reply.code = exit::FAILED;
                        reply.err(format!("vpn-firewall: error: {e:#}"));
                    }
                }
                return true;
            }
            Outcome::Refused(e) | Outcome::Failed(e) => e,
            Outcome::LockedDown(e) => {
                reply.err("vpn-firewall: loaded the lockdown ruleset instead (only loopback passes)");
                self.guarded = Some(Guarded { backend, policy: Policy::lockdown(), hold });
                e
            }
        };
        reply.code = exit::FAILED;
        reply.err(format!("vpn-firewall: error: {error:#}"));
        false
    }

    /// The configuration cannot be loaded (for `reason`): when nothing is loaded, the lockdown
    /// ruleset, with the `preferred` backend or any that works. Exit 2.
    fn lockdown(&mut self, preferred: BackendChoice, reason: &str) -> Reply {
        let mut reply = Reply { code: exit::INVALID, ..Default::default() };
        let (installed, _) = Backend::installed();
        if self.guarded.is_some() || installed.iter().any(|b| b.exists().unwrap_or(true)) {
            reply.err(format!("vpn-firewall: {reason}: the loaded ruleset was left exactly as it was"));
            return reply;
        }
        let backend = match Backend::choose(preferred).or_else(|_| Backend::choose(BackendChoice::Auto)) {
            Ok(b) => b,
            Err(e) => {
                reply.err(format!("vpn-firewall: error: {reason}, and the lockdown ruleset could not be loaded: {e:#}"));
                return reply;
            }
        };
        let name = backend.name().to_string();
        let mut failure = Reply::default();
        if self.load_or_report(backend, Policy::lockdown(), true, &mut failure) {
            reply.err(format!("vpn-firewall: {reason} and nothing was loaded: loaded the lockdown ruleset with {name} (only loopback passes)"));
        } else {
            reply.err(format!("vpn-firewall: error: {reason}, and the lockdown ruleset could not be loaded: {}", failure.stderr.join("; ")));
        }
        reply
    }

    fn flush(&mut self) -> Reply {
        let mut reply = Reply::default();
        // Standing by first: what the removal reports is no tampering.
        self.guarded = None;
        self.retry = false;
        let removed = layers::remove(&mut self.owner);
        self.nothing_loaded = removed.is_ok();
        match removed {
            Ok(said) if said.is_empty() => reply.out("vpn-firewall: nothing to flush: nothing of vpn-firewall is loaded; the guard stands by"),
            Ok(said) => {
                for line in said {
                    reply.out(format!("vpn-firewall: {line}"));
                }
                reply.out("vpn-firewall: vpn-firewall no longer blocks anything; the guard stands by until the next start");
            }
            Err(e) => {
                reply.code = exit::FAILED;
                reply.err(format!("vpn-firewall: error: cannot flush: {e:#}"));
            }
        }
        match crate::arp::restore_said() {
            Ok(said) => said.into_iter().for_each(|line| reply.out(line)),
            Err(e) => {
                reply.code = exit::FAILED;
                reply.err(format!("vpn-firewall: error: {e:#}"));
            }
        }
        reply
    }

    fn status(&mut self) -> Reply {
        let mut reply = Reply::default();
        let age = |t: Instant| t.elapsed().as_secs();
        reply.out(format!("  guard:     running (pid {}, for {} s), {}", std::process::id(), age(self.since), self.state()));
        // What the owned table blocked tells, after another tool flushed the main layer, that
        // the guard's layer is the one that stopped the packets.
        // (Owning the main table, the counters status shows above are its own.)
        let Some(hold) = self.guarded.as_ref().map(|g| g.hold) else {
            reply.out("  owned:     nothing (standing by)");
            return self.restored(reply);
        };
        let (layer, port) = (hold.owned(), self.owner.port());
        let table = layer.table();
        let (owned, blocked) = match self.owner.read(layer) {
            Ok(Some(t)) if t.ownership.owned_by(port) => {
                (format!("table {FAMILY} {table} loaded, owned by the guard"), (hold == Hold::SecondTable).then(|| blocked_said(&t.blocked())))
            }
            Ok(Some(_)) => (format!("NOT OWNED: table {FAMILY} {table} is loaded, but not owned by the guard"), None),
            Ok(None) => (format!("MISSING: table {FAMILY} {table} is not loaded"), None),
            Err(e) => (format!("cannot tell: {e:#}"), None),
        };
        reply.out(format!("  owned:     {owned}"));
        if let Some(blocked) = blocked {
            reply.out(format!("  blocked:   {blocked} (by the guard's table, since its last load)"));
        }
        self.restored(reply)
    }

    /// `reply` with the line on restorations.
    fn restored(&self, mut reply: Reply) -> Reply {
        let age = |t: Instant| t.elapsed().as_secs();
        let last = match &self.last {
            Some((when, what)) => format!("; the last {} s ago: {what}", age(*when)),
            None => String::new(),
        };
        reply.out(format!("  restored:  {} times since the guard started{last}", self.restorations));
        reply
    }
}
