//! Reads a table straight from the kernel's nf_tables over netlink: the read-back of `start`
//! and what `status` shows. It asks the kernel itself rather than nft's rendering of it, and it
//! costs milliseconds where `nft -j list table` needs tens of them for ten thousand set
//! elements (nft decomposes every interval in user space).
//!
//! Only `NFT_MSG_GET*` requests are sent: this module cannot change the kernel's rules. The
//! numbers are those of linux/netlink.h, linux/netfilter/nfnetlink.h and
//! linux/netfilter/nf_tables.h: kernel ABI.

use super::{Chain, LoadedTable};
use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, socket};
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFPROTO_INET: u8 = 1;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
/// The dump was interrupted by a change to the ruleset: its parts may not fit together.
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLA_TYPE_MASK: u16 = 0x3fff;

const GETTABLE: u16 = 1;
const GETCHAIN: u16 = 4;
const GETRULE: u16 = 7;
const GETSET: u16 = 10;
const GETSETELEM: u16 = 13;
const GETOBJ: u16 = 19;
const GETGEN: u16 = 16;
const GEN_ID: u16 = 1;

const TABLE_NAME: u16 = 1;
const TABLE_USERDATA: u16 = 6;
/// The comment in a table's user data (libnftnl's `NFTNL_UDATA_TABLE_COMMENT`).
const UDATA_TABLE_COMMENT: u8 = 0;
const CHAIN_TABLE: u16 = 1;
const CHAIN_NAME: u16 = 3;
const CHAIN_HOOK: u16 = 4;
const CHAIN_POLICY: u16 = 5;
const HOOK_HOOKNUM: u16 = 1;
const RULE_TABLE: u16 = 1;
const RULE_CHAIN: u16 = 2;
const SET_TABLE: u16 = 1;
const SET_NAME: u16 = 2;
const SET_FLAGS: u16 = 3;
const SET_ANONYMOUS: u32 = 0x1;
const SET_ELEM_LIST_TABLE: u16 = 1;
const SET_ELEM_LIST_SET: u16 = 2;
const SET_ELEM_LIST_ELEMENTS: u16 = 3;
const SET_ELEM_FLAGS: u16 = 3;
/// The upper bound of an interval, stored as an element of its own in an rbtree set.
const SET_ELEM_INTERVAL_END: u32 = 0x1;
const OBJ_TABLE: u16 = 1;
const OBJ_NAME: u16 = 2;
const OBJ_TYPE: u16 = 3;
const OBJ_DATA: u16 = 4;
const OBJECT_COUNTER: u32 = 1;
const COUNTER_PACKETS: u16 = 2;

/// How often a read that a concurrent change interrupted is started again.
const DUMP_ATTEMPTS: usize = 10;

/// Whether the inet family has a table `name`.
pub fn inet_table_exists(name: &str) -> Result<bool> {
    Ok(find_table(&Socket::open()?, name)?.is_some())
}

/// The table `name` of the inet family, or `None` when there is none. Its parts are read with
/// one dump each; when the ruleset changed in between (its generation is another at the end),
/// they are read again, so that they always come from one and the same ruleset.
pub fn read_inet_table(name: &str) -> Result<Option<LoadedTable>> {
    let sock = Socket::open()?;
    for _ in 0..DUMP_ATTEMPTS {
        let generation = sock.generation()?;
        let table = read_table(&sock, name)?;
        if sock.generation()? == generation {
            return Ok(table);
        }
    }
    bail!("the nftables ruleset kept changing while it was read ({DUMP_ATTEMPTS} attempts)")
}

fn read_table(sock: &Socket, name: &str) -> Result<Option<LoadedTable>> {
    let Some(table) = find_table(sock, name)? else {
        return Ok(None);
    };
    let comment = attr(&table, TABLE_USERDATA).and_then(table_comment);

    let mut rules: BTreeMap<String, usize> = BTreeMap::new();
    let table_name = nul_terminated(name);
    for rule in sock.dump(GETRULE, &[(RULE_TABLE, &table_name)])? {
        if string(&rule, RULE_TABLE) == Some(name) {
            *rules.entry(string(&rule, RULE_CHAIN).unwrap_or_default().to_string()).or_default() += 1;
        }
    }
    let mut loaded = LoadedTable { comment, ..Default::default() };
    for chain in sock.dump(GETCHAIN, &[])?.iter().filter(|c| string(c, CHAIN_TABLE) == Some(name)) {
        let chain_name = string(chain, CHAIN_NAME).unwrap_or_default().to_string();
        let hook = attr(chain, CHAIN_HOOK).and_then(|h| be32(attrs(h), HOOK_HOOKNUM)).map(hook_name);
        let policy = be32(attrs(chain), CHAIN_POLICY).map(policy_name);
        let count = rules.get(&chain_name).copied().unwrap_or(0);
        loaded.chains.push(Chain { name: chain_name, hook, policy, rules: count });
    }
    for set in sock.dump(GETSET, &[(SET_TABLE, &table_name)])? {
        let anonymous = be32(attrs(&set), SET_FLAGS).unwrap_or(0) & SET_ANONYMOUS != 0;
        if string(&set, SET_TABLE) != Some(name) || anonymous {
            continue;
        }
        let set_name = string(&set, SET_NAME).unwrap_or_default().to_string();
        let set_name_attr = nul_terminated(&set_name);
        let request = [(SET_ELEM_LIST_TABLE, table_name.as_slice()), (SET_ELEM_LIST_SET, &set_name_attr)];
        let elements = sock.dump(GETSETELEM, &request)?.iter().map(|m| elements(m)).sum();
        loaded.sets.push((set_name, elements));
    }
    let counter_type = OBJECT_COUNTER.to_be_bytes();
    for obj in sock.dump(GETOBJ, &[(OBJ_TABLE, &table_name), (OBJ_TYPE, &counter_type)])? {
        if string(&obj, OBJ_TABLE) != Some(name) || be32(attrs(&obj), OBJ_TYPE) != Some(OBJECT_COUNTER) {
            continue;
        }
        let packets = attr(&obj, OBJ_DATA).and_then(|d| attrs(d).find(|(k, _)| *k == COUNTER_PACKETS)).and_then(|(_, v)| v.try_into().ok());
        loaded.counters.push((string(&obj, OBJ_NAME).unwrap_or_default().to_string(), packets.map_or(0, u64::from_be_bytes)));
    }
    Ok(Some(loaded))
}

/// The attributes of the inet table `name`.
fn find_table(sock: &Socket, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(sock.dump(GETTABLE, &[])?.into_iter().find(|t| string(t, TABLE_NAME) == Some(name)))
}

/// The elements of one part of a set-element dump, each interval counted once: an rbtree set
/// stores an interval's upper bound as an element of its own, flagged as the end.
fn elements(message: &[u8]) -> usize {
    attrs(message)
        .filter(|(kind, _)| *kind == SET_ELEM_LIST_ELEMENTS)
        .flat_map(|(_, list)| attrs(list))
        .filter(|(_, element)| be32(attrs(element), SET_ELEM_FLAGS).unwrap_or(0) & SET_ELEM_INTERVAL_END == 0)
        .count()
}

/// A base chain's policy: a netfilter verdict.
fn policy_name(verdict: u32) -> String {
    match verdict {
        0 => "drop".into(),
        1 => "accept".into(),
        n => format!("verdict {n}"),
    }
}

/// The hooks of the inet family (enum nf_inet_hooks).
fn hook_name(number: u32) -> String {
    match number {
        0 => "prerouting".into(),
        1 => "input".into(),
        2 => "forward".into(),
        3 => "output".into(),
        4 => "postrouting".into(),
        5 => "ingress".into(),
        n => format!("hook {n}"),
    }
}

/// The comment in a table's user data: type-length-value entries of one byte each for type
/// and length; nft stores the comment with its terminating NUL.
fn table_comment(mut udata: &[u8]) -> Option<String> {
    while let [kind, len, rest @ ..] = udata {
        let value = rest.get(..usize::from(*len))?;
        if *kind == UDATA_TABLE_COMMENT {
            return Some(String::from_utf8_lossy(value.strip_suffix(&[0]).unwrap_or(value)).into_owned());
        }
        udata = &rest[usize::from(*len)..];
    }
    None
}

/// The attributes (type without its flags, value) of a message or of a nested attribute.
fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes(buf.get(..2)?.try_into().ok()?));
        let kind = u16::from_ne_bytes(buf.get(2..4)?.try_into().ok()?) & NLA_TYPE_MASK;
        let value = buf.get(4..len)?;
        buf = buf.get(align(len)..).unwrap_or_default();
        Some((kind, value))
    })
}

fn attr(buf: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(buf).find(|(k, _)| *k == kind).map(|(_, v)| v)
}

/// A NUL-terminated string attribute.
fn string(buf: &[u8], kind: u16) -> Option<&str> {
    let value = attr(buf, kind)?;
    std::str::from_utf8(value.strip_suffix(&[0]).unwrap_or(value)).ok()
}

/// A 32-bit attribute in network byte order.
fn be32<'a>(mut attrs: impl Iterator<Item = (u16, &'a [u8])>, kind: u16) -> Option<u32> {
    attrs.find(|(k, _)| *k == kind).and_then(|(_, v)| v.try_into().ok()).map(u32::from_be_bytes)
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

struct Socket {
    fd: OwnedFd,
}

impl Socket {
    fn open() -> Result<Socket> {
        let fd = socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkNetFilter)
            .context("cannot open a netfilter netlink socket")?;
        Ok(Socket { fd })
    }

    /// The ruleset's generation: the kernel counts every change of the ruleset.
    fn generation(&self) -> Result<u32> {
        let reply = self.request(GETGEN, NLM_F_ACK, &[])?.context("the generation request was interrupted")?;
        reply.iter().find_map(|m| be32(attrs(m), GEN_ID)).context("the kernel did not say the ruleset's generation")
    }

    /// The attributes of every message a dump of `message` (in the inet family) answers with.
    fn dump(&self, message: u16, request: &[(u16, &[u8])]) -> Result<Vec<Vec<u8>>> {
        for _ in 0..DUMP_ATTEMPTS {
            if let Some(parts) = self.request(message, NLM_F_DUMP, request)? {
                return Ok(parts);
            }
        }
        bail!("the nftables ruleset kept changing while it was read ({DUMP_ATTEMPTS} attempts)")
    }

    /// Sends one request and collects the replies, up to the end of a dump or the
    /// acknowledgement; `None` when a dump was interrupted by a change.
    fn request(&self, message: u16, flags: u16, request: &[(u16, &[u8])]) -> Result<Option<Vec<Vec<u8>>>> {
        let what = format!("reading nf_tables over netlink (message {message})");
        let mut body = vec![NFPROTO_INET, 0, 0, 0];
        for (kind, value) in request {
            body.extend(((4 + value.len()) as u16).to_ne_bytes());
            body.extend(kind.to_ne_bytes());
            body.extend(*value);
            body.resize(align(body.len()), 0);
        }
        let mut packet = Vec::with_capacity(16 + body.len());
        packet.extend(((16 + body.len()) as u32).to_ne_bytes());
        packet.extend(((NFNL_SUBSYS_NFTABLES << 8) | message).to_ne_bytes());
        packet.extend((NLM_F_REQUEST | flags).to_ne_bytes());
        packet.extend(1u32.to_ne_bytes()); // sequence number: one request at a time
        packet.extend(0u32.to_ne_bytes()); // port id: the kernel assigns it
        packet.extend(body);
        sendto(self.fd.as_raw_fd(), &packet, &NetlinkAddr::new(0, 0), MsgFlags::empty()).with_context(|| what.clone())?;

        let mut parts = Vec::new();
        let mut interrupted = false;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_TRUNC).with_context(|| what.clone())?;
            if n > buf.len() {
                bail!("{what}: a reply of {n} bytes did not fit the buffer");
            }
            for message in messages(&buf[..n]) {
                let Some((kind, flags, payload)) = message else { bail!("{what}: a malformed reply") };
                interrupted |= flags & NLM_F_DUMP_INTR != 0;
                match kind {
                    NLMSG_DONE if interrupted => return Ok(None),
                    NLMSG_DONE => return Ok(Some(parts)),
                    NLMSG_ERROR => {
                        let code = i32::from_ne_bytes(payload.get(..4).context("a short error reply")?.try_into().expect("4 bytes"));
                        if code == 0 {
                            return Ok(Some(parts)); // the acknowledgement that ends a request
                        }
                        let errno = Errno::from_raw(-code);
                        let hint = if errno == Errno::EPERM { " (are you root?)" } else { "" };
                        bail!("{what}: {errno}{hint}");
                    }
                    _ => parts.push(payload.get(4..).unwrap_or_default().to_vec()), // after struct nfgenmsg
                }
            }
        }
    }
}

/// The netlink messages in one datagram: (type, flags, payload), `None` for a malformed one
/// (which ends the list).
fn messages(mut rest: &[u8]) -> impl Iterator<Item = Option<(u16, u16, &[u8])>> {
    std::iter::from_fn(move || {
        if rest.len() < 16 {
            return None;
        }
        let len = u32::from_ne_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let kind = u16::from_ne_bytes(rest[4..6].try_into().expect("2 bytes"));
        let flags = u16::from_ne_bytes(rest[6..8].try_into().expect("2 bytes"));
        let Some(payload) = rest.get(16..len).filter(|_| len >= 16) else {
            rest = &[];
            return Some(None);
        };
        rest = rest.get(align(len)..).unwrap_or_default();
        Some(Some((kind, flags, payload)))
    })
}

/// NFNLGRP_NFTABLES: the multicast group to which nf_tables reports every change.
const GROUP_NFTABLES: u32 = 7;
const NEWGEN: u16 = 15;
const GEN_PROC_PID: u16 = 2;
const GEN_PROC_NAME: u16 = 3;
/// The name of the object itself in each kind of message, after the table's (attribute 1 of
/// every object message): chain, rule's chain, set, set elements' set, object.
/// (The kernel reports a `destroy` as the `delete` it is.)
const OBJECT_NAME: [(u16, u16); 10] = [(3, 3), (5, 3), (6, 2), (8, 2), (9, 2), (11, 2), (12, 2), (14, 2), (18, 2), (20, 2)];

/// One change the kernel reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A table, chain, rule, set, element or object was added or removed.
    Object { message: u16, family: u8, table: String, name: Option<String> },
    /// A transaction ended: the process that made it, where the kernel names it.
    Generation { pid: Option<u32>, process: Option<String> },
    /// Notices were lost (the socket's buffer overran): anything may have changed.
    Lost,
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
        let sock = Socket::open()?;
        let fd = sock.fd.as_raw_fd();
        nix::sys::socket::bind(fd, &NetlinkAddr::new(0, 1 << (GROUP_NFTABLES - 1)))
            .context("cannot subscribe to nf_tables notifications (NFNLGRP_NFTABLES)")?;
        // Room for a flush of a large ruleset; what does not fit is reported as lost.
        let _ = nix::sys::socket::setsockopt(&sock.fd, nix::sys::socket::sockopt::RcvBufForce, &(4 << 20));
        Ok(Subscription { sock })
    }

    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.sock.fd.as_fd()
    }

    /// Every notice that has arrived, without waiting.
    pub fn drain(&self) -> Result<Vec<Notice>> {
        let mut notices = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match recv(self.sock.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(n) => notices.extend(messages(&buf[..n]).map_while(|m| m).filter_map(|(kind, _, payload)| notice(kind, payload))),
                Err(Errno::EAGAIN) => return Ok(notices),
                Err(Errno::ENOBUFS) => notices.push(Notice::Lost),
                Err(e) => return Err(e).context("cannot read nf_tables notifications"),
            }
        }
    }
}

/// A notification message as a notice; `None` for other subsystems' messages.
fn notice(kind: u16, payload: &[u8]) -> Option<Notice> {
    if kind >> 8 != NFNL_SUBSYS_NFTABLES {
        return None;
    }
    let (message, family, attributes) = (kind & 0xff, *payload.first()?, payload.get(4..)?);
    if message == NEWGEN {
        return Some(Notice::Generation {
            pid: be32(attrs(attributes), GEN_PROC_PID),
            process: string(attributes, GEN_PROC_NAME).map(str::to_string),
        });
    }
    let name = OBJECT_NAME.iter().find(|(m, _)| *m == message).and_then(|(_, a)| string(attributes, *a)).map(str::to_string);
    Some(Notice::Object { message, family, table: string(attributes, TABLE_NAME)?.to_string(), name })
}

/// A name as netlink attributes carry it, with its terminating NUL.
fn nul_terminated(name: &str) -> Vec<u8> {
    let mut bytes = name.as_bytes().to_vec();
    bytes.push(0);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = ((4 + value.len()) as u16).to_ne_bytes().to_vec();
        out.extend(kind.to_ne_bytes());
        out.extend(value);
        out.resize(align(out.len()), 0);
        out
    }

    fn element(flags: u32) -> Vec<u8> {
        let mut attrs = nla(1, &[10, 0, 0, 0]); // the key
        attrs.extend(nla(SET_ELEM_FLAGS, &flags.to_be_bytes()));
        nla(1 | 0x8000, &attrs) // NFTA_LIST_ELEM, nested
    }

    #[test]
    fn an_interval_counts_once_though_the_kernel_stores_its_end_as_an_element() {
        let list: Vec<u8> = [element(0), element(SET_ELEM_INTERVAL_END), element(0), element(0)].concat();
        let message = [nla(SET_ELEM_LIST_TABLE, b"t\0"), nla(SET_ELEM_LIST_ELEMENTS | 0x8000, &list)].concat();
        assert_eq!(elements(&message), 3);
    }

    #[test]
    fn the_table_comment_is_found_among_the_user_data() {
        let udata = [&[7u8, 2, 0xff, 0xff][..], &[UDATA_TABLE_COMMENT, 5], b"abcd\0"].concat();
        assert_eq!(table_comment(&udata).as_deref(), Some("abcd"));
        assert_eq!(table_comment(&udata[..6]), None, "a comment cut short is no comment");
    }

    #[test]
    fn truncated_attributes_end_the_list_instead_of_panicking() {
        let two = [nla(CHAIN_NAME, b"input\0"), nla(CHAIN_POLICY, &1u32.to_be_bytes())].concat();
        assert_eq!(attrs(&two).count(), 2);
        for cut in 0..two.len() {
            assert!(attrs(&two[..cut]).count() < 2, "{cut} bytes");
        }
        assert_eq!(be32(attrs(&two), CHAIN_POLICY), Some(1));
        assert_eq!(string(&two, CHAIN_NAME), Some("input"));
    }
}
