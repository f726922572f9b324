//! The guard's own netlink socket, which it keeps open for as long as it runs: the tables it
//! creates with NFT_TABLE_F_OWNER (`flags owner`) belong to it, so no other process may delete
//! or change them, `nft flush ruleset` leaves them, and the kernel removes them when the socket
//! closes. Everything the guard loads goes through it as one nf_tables batch of messages
//! rendered by `render_netlink`: one transaction, applied whole or not at all.
//!
//! It reads the tables back too. Closing a netfilter netlink socket waits until the kernel has
//! freed what the last transaction replaced (an RCU grace period: some 10 to 15 ms), so a
//! read-back on a socket of its own, closed after it, would take that long after every load.

//!
//! It also holds the guard's subscription to nf_tables' notices, and does not listen while it
//! commits a transaction of its own: the kernel builds no notices where nobody listens, and
//! those of a large load (one per set element, of both tables) would overrun the buffer, which
//! reads as "notices lost", which makes the guard load again: a loop. What it cannot have heard
//! meanwhile, it finds out from the ruleset's generation, which counts committed transactions:
//! when more than its own committed while it did not listen, or when one of another process
//! was half reported when it stopped listening, it says so with `Notice::Unheard`, and the
//! guard restores as after lost notices.

use crate::nft::nfnetlink::{Refusal, Socket};
use crate::nft::{LoadedTable, Notice, Ownership, Subscription, generation, read_table_on, table_ownership_on};
use crate::render_netlink::{Change, render_persist_probe};
use crate::render_nft::Layer;
use anyhow::Result;

pub struct Owner {
    socket: Socket,
    notices: Subscription,
    /// Notices read before a transaction of its own, not yet handed out.
    stash: Vec<Notice>,
    /// A notice of another process's transaction was handed out without the generation notice
    /// that ends it.
    open: bool,
    /// Another process may have changed the ruleset while it did not listen.
    unheard: bool,
    /// It could not listen again after a transaction of its own: the guard must end (systemd
    /// starts a new one, which loads again; the main layer holds meanwhile).
    deaf: Option<anyhow::Error>,
}

impl Owner {
    pub fn open() -> Result<Owner> {
        Ok(Owner { socket: Socket::open()?, notices: Subscription::open()?, stash: Vec::new(), open: false, unheard: false, deaf: None })
    }

    /// Applies `changes` as one transaction; an error names the change the kernel refused,
    /// and then nothing of the batch was applied.
    pub fn apply(&mut self, changes: &[Change]) -> Result<()> {
        let messages: Vec<_> = changes.iter().map(|c| (&c.message, c.flags)).collect();
        match self.notices.drain() {
            Ok(queued) => self.stash.extend(queued),
            Err(_) => self.unheard = true,
        }
        // A transaction of another process whose notices began but did not end: the rest of
        // them may come while it does not listen.
        let half_reported = match self.stash.iter().rev().find(|n| matches!(n, Notice::Object { .. } | Notice::Generation { .. })) {
            Some(last) => matches!(last, Notice::Object { .. }),
            None => self.open,
        };
        let before = generation(&mut self.socket)?;
        // Listening through it costs only time: it stays subscribed if it cannot stop.
        let paused = self.notices.pause().is_ok();
        let applied = self.socket.batch(&messages, |i| changes[i].what.clone());
        if paused {
            if let Err(e) = self.notices.resume().or_else(|_| self.notices.resume()) {
                self.deaf = Some(e.context("cannot listen to nf_tables' notices again after a load of its own"));
                return applied;
            }
        }
        let after = match generation(&mut self.socket) {
            Ok(g) => g,
            Err(e) => {
                self.unheard = true;
                return applied.and(Err(e));
            }
        };
        let own = u32::from(applied.is_ok());
        if paused && (half_reported || after != before.wrapping_add(own)) {
            self.unheard = true;
        }
        applied
    }

    /// The notices that arrived (first those read before its own transactions), without
    /// waiting; `Notice::Unheard` when another process may have changed the ruleset while it
    /// did not listen.
    pub fn notices(&mut self) -> Result<Vec<Notice>> {
        let mut all = std::mem::take(&mut self.stash);
        all.extend(self.notices.drain()?);
        if std::mem::take(&mut self.unheard) {
            all.push(Notice::Unheard);
        }
        if let Some(last) = all.iter().rev().find(|n| matches!(n, Notice::Object { .. } | Notice::Generation { .. })) {
            self.open = matches!(last, Notice::Object { .. });
        }
        Ok(all)
    }

    /// Why it no longer hears the kernel's notices, if it does not.
    pub fn deaf(&mut self) -> Option<anyhow::Error> {
        self.deaf.take()
    }

    /// Whether notices wait that `notices` would hand out without the socket being readable.
    pub fn notices_waiting(&self) -> bool {
        !self.stash.is_empty() || self.unheard
    }

    /// The subscription's descriptor, to poll.
    pub fn notices_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.notices.fd()
    }

    /// The socket's netlink port id: the kernel's notices of the transactions it commits carry it.
    pub fn port(&self) -> u32 {
        self.socket.port()
    }

    /// Whether the kernel keeps a table this socket owns when the socket closes
    /// (NFT_TABLE_F_PERSIST, Linux 6.9): a table added so and deleted in one transaction tells.
    pub fn kernel_keeps_owned_tables(&mut self) -> Result<bool> {
        match self.apply(&render_persist_probe()) {
            Ok(()) => Ok(true),
            Err(e) if e.downcast_ref::<Refusal>().is_some_and(|r| r.0 == nix::errno::Errno::EOPNOTSUPP) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Who may change one of the tables (one request), or `None` when it is not loaded.
    pub fn ownership(&mut self, layer: Layer) -> Result<Option<Ownership>> {
        table_ownership_on(&mut self.socket, layer)
    }

    /// Whether the table is loaded and owned by this socket.
    pub fn owns(&mut self, layer: Layer) -> Result<bool> {
        let port = self.port();
        Ok(self.ownership(layer)?.is_some_and(|o| o.owned_by(port)))
    }

    /// One of the tables as the kernel has it, or `None` when it is not loaded.
    pub fn read(&mut self, layer: Layer) -> Result<Option<LoadedTable>> {
        read_table_on(&mut self.socket, layer)
    }
}
