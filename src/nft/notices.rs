//! nf_tables' change notifications, as the guard reads them: a socket of `nfnetlink`'s in the
//! multicast group NFNLGRP_NFTABLES, read without blocking beside the guard's other
//! descriptors, and each message as a [`Notice`]: which object of which table was added or
//! removed, and at the end of each transaction the process that made it (NFTA_GEN_PROC_PID and
//! NFTA_GEN_PROC_NAME of its NEWGEN message). The numbers are linux/netfilter/nf_tables.h's.

use super::netlink::{attrs, be32, string};
use super::nfnetlink::{Message, NFNL_SUBSYS_NFTABLES, NFNLGRP_NFTABLES, Socket};
use anyhow::{Context, Result};
use nix::errno::Errno;
use std::os::fd::{AsFd, BorrowedFd};

const NEWGEN: u8 = 15;
const GEN_PROC_PID: u16 = 2;
const GEN_PROC_NAME: u16 = 3;
/// The table's name: attribute 1 of every object message.
const TABLE_NAME: u16 = 1;
/// The name of the object itself in each kind of message, after the table's: chain, rule's
/// chain, set, set elements' set, object. (The kernel reports a `destroy` as the `delete` it is.)
const OBJECT_NAME: [(u8, u16); 10] = [(3, 3), (5, 3), (6, 2), (8, 2), (9, 2), (11, 2), (12, 2), (14, 2), (18, 2), (20, 2)];
/// Room for the notices of a flush of a large ruleset; what does not fit is reported as lost.
const RECEIVE_BUFFER: usize = 4 << 20;

/// One change the kernel reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A table, chain, rule, set, element or object was added or removed.
    Object { message: u8, family: u8, table: String, name: Option<String> },
    /// A transaction ended: the port id of the netlink socket that committed it, and the
    /// process that made it, where the kernel names it. The pid is the one outside any PID
    /// namespace, so a process in one cannot tell its own by its pid: the port tells.
    Generation { port: u32, pid: Option<u32>, process: Option<String> },
    /// Notices were lost (the socket's buffer overran): anything may have changed.
    Lost,
    /// Another process changed the ruleset while the listener was not listening (the guard,
    /// during its own transactions): anything may have changed.
    Unheard,
}

impl Notice {
    /// Whether it reports a table added or deleted.
    pub fn is_table(&self) -> bool {
        matches!(self, Notice::Object { message: 0 | 2, .. })
    }

    /// What changed, as a user reads it: `deleted table inet vpn_firewall`, `added a rule to
    /// chain output of ip filter`.
    pub fn describe(&self) -> String {
        let Notice::Object { message, family, table, name } = self else {
            return match self {
                Notice::Lost => "changes the kernel reported too fast to read".into(),
                Notice::Unheard => "changes made while the guard loaded its own".into(),
                _ => "a transaction".into(),
            };
        };
        let family = match family {
            1 => "inet",
            2 => "ip",
            3 => "arp",
            5 => "netdev",
            7 => "bridge",
            10 => "ip6",
            _ => "?",
        };
        let name = name.as_deref().unwrap_or("?");
        let what = match message {
            0 => return format!("added or changed table {family} {table}"),
            2 => return format!("deleted table {family} {table}"),
            3 => format!("added or changed chain {name}"),
            5 => format!("deleted chain {name}"),
            6 => format!("added a rule to chain {name}"),
            8 => format!("deleted a rule of chain {name}"),
            9 => format!("added set {name}"),
            11 => format!("deleted set {name}"),
            12 => format!("added elements to set {name}"),
            14 => format!("deleted elements of set {name}"),
            18 => format!("added or reset object {name}"),
            20 => format!("deleted object {name}"),
            m => format!("changed something (message {m})"),
        };
        format!("{what} of {family} {table}")
    }
}

/// A socket subscribed to nf_tables' notifications, read without blocking.
pub struct Subscription {
    sock: Socket,
}

impl Subscription {
    pub fn open() -> Result<Subscription> {
        let mut sock = Socket::open()?;
        sock.subscribe(NFNLGRP_NFTABLES)?;
        let _ = nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::RcvBufForce, &RECEIVE_BUFFER);
        let flags = nix::fcntl::fcntl(&sock, nix::fcntl::FcntlArg::F_GETFL).context("cannot read the notification socket's flags")?;
        let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&sock, nix::fcntl::FcntlArg::F_SETFL(flags)).context("cannot make the notification socket non-blocking")?;
        Ok(Subscription { sock })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    /// Stops listening: the kernel builds no notices where nobody listens, which a large
    /// transaction of the listener's own would otherwise fill its buffer with.
    pub fn pause(&mut self) -> Result<()> {
        self.sock.unsubscribe(NFNLGRP_NFTABLES)
    }

    /// Listens again after `pause`.
    pub fn resume(&mut self) -> Result<()> {
        self.sock.subscribe(NFNLGRP_NFTABLES)
    }

    /// Every notice that has arrived, without waiting.
    pub fn drain(&mut self) -> Result<Vec<Notice>> {
        let mut notices = Vec::new();
        loop {
            match self.sock.recv() {
                Ok(n) => notices.extend(notice(&n.message, n.port)),
                Err(e) => match e.root_cause().downcast_ref::<std::io::Error>().and_then(std::io::Error::raw_os_error).map(Errno::from_raw) {
                    Some(Errno::EAGAIN) => return Ok(notices),
                    Some(Errno::ENOBUFS) => notices.push(Notice::Lost),
                    _ => return Err(e),
                },
            }
        }
    }
}

/// A notification as a notice; `None` for other subsystems' messages.
fn notice(message: &Message, port: u32) -> Option<Notice> {
    if message.subsystem != NFNL_SUBSYS_NFTABLES {
        return None;
    }
    let a = &message.attributes;
    if message.kind == NEWGEN {
        return Some(Notice::Generation { port, pid: be32(attrs(a), GEN_PROC_PID), process: string(a, GEN_PROC_NAME).map(str::to_string) });
    }
    let name = OBJECT_NAME.iter().find(|(m, _)| *m == message.kind).and_then(|(_, k)| string(a, *k)).map(str::to_string);
    Some(Notice::Object { message: message.kind, family: message.family, table: string(a, TABLE_NAME)?.to_string(), name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_become_notices_naming_table_object_and_process() {
        let rule = Message::new(NFNL_SUBSYS_NFTABLES, 6, 1).with_attribute(1, b"vpn_firewall\0").with_attribute(2, b"output\0");
        assert_eq!(notice(&rule, 9), Some(Notice::Object { message: 6, family: 1, table: "vpn_firewall".into(), name: Some("output".into()) }));
        let generation = Message::new(NFNL_SUBSYS_NFTABLES, NEWGEN, 0)
            .with_attribute(1, &7u32.to_be_bytes())
            .with_attribute(GEN_PROC_PID, &4242u32.to_be_bytes())
            .with_attribute(GEN_PROC_NAME, b"nft\0");
        assert_eq!(notice(&generation, 9), Some(Notice::Generation { port: 9, pid: Some(4242), process: Some("nft".into()) }));
        assert_eq!(notice(&Message::new(1, 0, 2), 9), None, "another subsystem's message");
        assert_eq!(notice(&Message::new(NFNL_SUBSYS_NFTABLES, 2, 1), 9), None, "an object message without its table");
    }
}
