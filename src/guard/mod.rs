//! `vpn-firewall guard`: a resident process that keeps the kill switch in force while other
//! tools flush or change the ruleset.
//!
//! It holds what it loads in one of two ways (see `layers::Hold`). With nftables, where the
//! kernel can (Linux 6.9), it owns table inet vpn_firewall itself, persistent: no other process
//! can delete or change it, and when the guard ends the kernel keeps it, unowned. Otherwise it
//! keeps two layers loaded: the main one that `start` loads without a guard too, and a table of
//! its own, owned by its netlink socket, with the same filter chains; it listens to nf_tables'
//! notifications and loads the main layer again within milliseconds of another process deleting
//! or changing it (iptables-legacy reports nothing: it is read back every half second instead).
//! Meanwhile the owned table, which no other process can delete or change, holds the line.
//! `start`, `flush` and `status` reach it through its control socket.
//!
//! It guards from the first `start` on, never before: started with nothing of vpn-firewall
//! loaded (a fresh install, after `flush`), it stands by and loads nothing, so installing the
//! package never cuts anyone off. Started with a ruleset loaded (boot after
//! netfilter-persistent, a restart of the guard), it loads the configuration as `start` does
//! and guards it.

mod connections;
mod control;
mod heal;
mod layers;
mod owner;
mod requests;

pub use control::{Reply, Request, ask};

use crate::configuration::Options;
use crate::exit;
use crate::nft::Notice;
use crate::output::say_err;
use anyhow::{Context as _, Result};
use connections::{Connections, Received};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use owner::Owner;
use requests::Guard;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// How often the guard looks at what the kernel sends no notifications of: the iptables-legacy
/// rules (read back) and the ARP sysctl (see `heal`).
const POLL: Duration = Duration::from_millis(500);

/// Runs the guard until SIGTERM or SIGINT; the rules stay loaded when it ends.
/// With `second_table`, it guards nftables' table with a second one even where the kernel could
/// keep the first owned (see `layers::Hold`).
pub fn run(options: &Options, second_table: bool) -> Result<i32> {
    if !nix::unistd::geteuid().is_root() {
        anyhow::bail!("guard needs root to own a table in the kernel's firewall; run it with sudo (or as the unit vpn-firewall-guard.service)");
    }
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGINT);
    signals.thread_block().context("cannot block SIGTERM to read it from a signalfd")?;
    let signalfd = SignalFd::new(&signals).context("cannot open a signalfd")?;
    let mut owner = Owner::open()?;
    // A kernel that answers the question otherwise than expected gets the second table: a
    // guard that holds as on older kernels, rather than none.
    let persist = !second_table
        && owner.kernel_keeps_owned_tables().unwrap_or_else(|e| {
            say_err!("vpn-firewall guard: warning: cannot tell whether the kernel keeps owned tables, so it keeps a second table: {e:#}");
            false
        });
    let mut guard = Guard::new(owner, persist);
    let listener = {
        // `start` and `flush` look for the guard while they hold the lock. One that took it
        // before the guard did has found no guard and loaded by itself: it has finished now,
        // and what it loaded is adopted. Every later one finds the socket bound. (Bound before
        // taking the lock, a start holding the lock would wait for an answer from a guard
        // waiting for the lock.)
        let _lock = crate::lock::acquire()?;
        let listener = control::listen()?;
        guard.adopt(options);
        listener
    };
    say_err!("vpn-firewall guard: running (pid {}), {}; {}", std::process::id(), guard.way(), guard.state());
    notify_ready();
    // When the rules were last read back by the poll: it runs on time however busy the
    // guard's sockets are (a stream of `status` requests must not starve it).
    let mut polled = Instant::now();
    let mut connections = Connections::default();
    loop {
        let polling = guard.polls().then(|| POLL.saturating_sub(polled.elapsed()));
        // Notices kept back by a load of its own are handled at once.
        let waiting = guard.owner.notices_waiting().then_some(Duration::ZERO);
        let timeout = match polling.into_iter().chain(connections.until_deadline()).chain(waiting).min() {
            Some(wait) => PollTimeout::try_from(wait).unwrap_or(PollTimeout::ZERO),
            None => PollTimeout::NONE,
        };
        let mut fds = vec![
            PollFd::new(signalfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(guard.owner.notices_fd(), PollFlags::POLLIN),
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
        ];
        fds.extend(connections.poll_fds());
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("poll"),
        }
        let ready: Vec<bool> = fds.iter().map(|fd| fd.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        let (signalled, notified, connecting) = (ready[0], ready[1], ready[2]);
        if signalled {
            let signal = signalfd.read_signal().ok().flatten().map_or(0, |s| s.ssi_signo);
            let rules = match guard.left_behind() {
                Some(left) => format!("the rules stay loaded ({left})"),
                None => "it was standing by".into(),
            };
            say_err!("vpn-firewall guard: ending on signal {signal}; {rules}; restorations: {}", guard.restorations());
            return Ok(exit::OK);
        }
        if notified || guard.owner.notices_waiting() {
            let seen = Instant::now();
            match guard.owner.notices() {
                Ok(batch) => guard.on_notices(&batch, seen),
                Err(e) => {
                    say_err!("vpn-firewall guard: warning: {e:#}");
                    guard.on_notices(&[Notice::Lost], seen);
                }
            }
        }
        if guard.polls() && polled.elapsed() >= POLL {
            polled = Instant::now();
            guard.on_poll();
        }
        // Last: what a request does waits for the restorations above, never the other way.
        let mut received = connections.receive(&ready[3..]);
        if connecting {
            received.extend(connections.accept(&listener));
        }
        for request in received {
            serve(request, &mut guard);
        }
        if let Some(e) = guard.owner.deaf() {
            return Err(e);
        }
    }
}

/// Tells systemd (`Type=notify`) that the guard is ready: its control socket bound and what was
/// loaded adopted, so that units ordered after it (netfilter-persistent) start through it.
fn notify_ready() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let address = match path.as_bytes() {
        [b'@', name @ ..] => SocketAddr::from_abstract_name(name),
        _ => SocketAddr::from_pathname(&path),
    };
    let sent = address.and_then(|a| UnixDatagram::unbound()?.send_to_addr(b"READY=1", &a));
    if let Err(e) = sent {
        say_err!("vpn-firewall guard: warning: cannot tell systemd it is ready ({}): {e}", path.to_string_lossy());
    }
}

/// Answers a connection: what it asked, or why it cannot be served.
fn serve((stream, request): Received, guard: &mut Guard) {
    let reply = match request {
        Ok(request) => guard.handle(&request),
        Err(e) => {
            say_err!("vpn-firewall guard: {e:#}");
            Reply { code: exit::FAILED, stderr: vec![format!("vpn-firewall: error: {e:#}")], ..Default::default() }
        }
    };
    if let Err(e) = control::answer(&stream, &reply) {
        say_err!("vpn-firewall guard: warning: {e:#}");
    }
}
