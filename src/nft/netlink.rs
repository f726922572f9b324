//! Reads a table straight from the kernel's nf_tables over netlink: the read-back of `start`
//! and what `status` shows. It asks the kernel itself rather than nft's rendering of it, and it
//! costs milliseconds where `nft -j list table` needs tens of them for ten thousand set
//! elements (nft decomposes every interval in user space).
//!
//! Only `NFT_MSG_GET*` requests are sent: this module cannot change the kernel's rules. The
//! socket and the framing are `nfnetlink`'s; the numbers here are those of
//! linux/netfilter/nf_tables.h: kernel ABI.

use super::nfnetlink::{Message, NFNL_SUBSYS_NFTABLES, Socket, align};
use super::{Chain, LoadedTable, Ownership};
use crate::render_netlink::TABLE_F_OWNER;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;

const NFPROTO_INET: u8 = 1;
const NLA_TYPE_MASK: u16 = 0x3fff;

const GETTABLE: u8 = 1;
const GETCHAIN: u8 = 4;
const GETRULE: u8 = 7;
const GETSET: u8 = 10;
const GETSETELEM: u8 = 13;
const GETOBJ: u8 = 19;
const GETGEN: u8 = 16;
const GEN_ID: u16 = 1;

const TABLE_NAME: u16 = 1;
const TABLE_FLAGS: u16 = 2;
const TABLE_USERDATA: u16 = 6;
const TABLE_OWNER: u16 = 7;
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
const READ_ATTEMPTS: usize = 10;

/// Whether the inet family has a table `name`.
pub fn inet_table_exists(name: &str) -> Result<bool> {
    Ok(inet_table_ownership(name)?.is_some())
}

/// The table `name` of the inet family, or `None` when there is none. Its parts are read with
/// one dump each; when the ruleset changed in between (its generation is another at the end),
/// they are read again, so that they always come from one and the same ruleset.
pub fn read_inet_table(name: &str) -> Result<Option<LoadedTable>> {
    read_inet_table_on(&mut Socket::open()?, name)
}

/// `read_inet_table` on a socket of the caller's.
pub fn read_inet_table_on(sock: &mut Socket, name: &str) -> Result<Option<LoadedTable>> {
    for _ in 0..READ_ATTEMPTS {
        let before = generation(sock)?;
        let table = read_table(sock, name)?;
        if generation(sock)? == before {
            return Ok(table);
        }
    }
    bail!("the nftables ruleset kept changing while it was read ({READ_ATTEMPTS} attempts)")
}

fn read_table(sock: &mut Socket, name: &str) -> Result<Option<LoadedTable>> {
    let Some(table) = find_table(sock, name)? else {
        return Ok(None);
    };
    let comment = attr(&table, TABLE_USERDATA).and_then(table_comment);

    let mut rules: BTreeMap<String, usize> = BTreeMap::new();
    let table_name = nul_terminated(name);
    for rule in dump(sock, GETRULE, &[(RULE_TABLE, &table_name)])? {
        if string(&rule, RULE_TABLE) == Some(name) {
            *rules.entry(string(&rule, RULE_CHAIN).unwrap_or_default().to_string()).or_default() += 1;
        }
    }
    let mut loaded = LoadedTable { comment, ownership: ownership(&table), ..Default::default() };
    for chain in dump(sock, GETCHAIN, &[])?.iter().filter(|c| string(c, CHAIN_TABLE) == Some(name)) {
        let chain_name = string(chain, CHAIN_NAME).unwrap_or_default().to_string();
        let hook = attr(chain, CHAIN_HOOK).and_then(|h| be32(attrs(h), HOOK_HOOKNUM)).map(hook_name);
        let policy = be32(attrs(chain), CHAIN_POLICY).map(policy_name);
        let count = rules.get(&chain_name).copied().unwrap_or(0);
        loaded.chains.push(Chain { name: chain_name, hook, policy, rules: count });
    }
    for set in dump(sock, GETSET, &[(SET_TABLE, &table_name)])? {
        let anonymous = be32(attrs(&set), SET_FLAGS).unwrap_or(0) & SET_ANONYMOUS != 0;
        if string(&set, SET_TABLE) != Some(name) || anonymous {
            continue;
        }
        let set_name = string(&set, SET_NAME).unwrap_or_default().to_string();
        let set_name_attr = nul_terminated(&set_name);
        let request = [(SET_ELEM_LIST_TABLE, table_name.as_slice()), (SET_ELEM_LIST_SET, &set_name_attr)];
        let elements = dump(sock, GETSETELEM, &request)?.iter().map(|m| elements(m)).sum();
        loaded.sets.push((set_name, elements));
    }
    let counter_type = OBJECT_COUNTER.to_be_bytes();
    for obj in dump(sock, GETOBJ, &[(OBJ_TABLE, &table_name), (OBJ_TYPE, &counter_type)])? {
        if string(&obj, OBJ_TABLE) != Some(name) || be32(attrs(&obj), OBJ_TYPE) != Some(OBJECT_COUNTER) {
            continue;
        }
        let packets = attr(&obj, OBJ_DATA).and_then(|d| attrs(d).find(|(k, _)| *k == COUNTER_PACKETS)).and_then(|(_, v)| v.try_into().ok());
        loaded.counters.push((string(&obj, OBJ_NAME).unwrap_or_default().to_string(), packets.map_or(0, u64::from_be_bytes)));
    }
    Ok(Some(loaded))
}

/// `inet_table_ownership_on` on a socket of its own.
pub fn inet_table_ownership(name: &str) -> Result<Option<Ownership>> {
    inet_table_ownership_on(&mut Socket::open()?, name)
}

/// The flags and owner of the inet table `name`, or `None` when there is none.
pub fn inet_table_ownership_on(sock: &mut Socket, name: &str) -> Result<Option<Ownership>> {
    Ok(find_table(sock, name)?.map(|t| ownership(&t)))
}

fn ownership(table: &[u8]) -> Ownership {
    let flags = be32(attrs(table), TABLE_FLAGS).unwrap_or(0);
    Ownership { flags, owner: be32(attrs(table), TABLE_OWNER).filter(|_| flags & TABLE_F_OWNER != 0) }
}

/// The attributes of the inet table `name`.
fn find_table(sock: &mut Socket, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(dump(sock, GETTABLE, &[])?.into_iter().find(|t| string(t, TABLE_NAME) == Some(name)))
}

/// A `GET` request of the inet family.
fn get(message: u8, attributes: &[(u16, &[u8])]) -> Message {
    let request = Message::new(NFNL_SUBSYS_NFTABLES, message, NFPROTO_INET);
    attributes.iter().fold(request, |request, (kind, value)| request.with_attribute(*kind, value))
}

/// The attributes of every object a dump of `message` (in the inet family) answers with.
fn dump(sock: &mut Socket, message: u8, attributes: &[(u16, &[u8])]) -> Result<Vec<Vec<u8>>> {
    let parts = sock.dump(&get(message, attributes)).context("reading nf_tables over netlink")?;
    Ok(parts.into_iter().map(|part| part.attributes).collect())
}

/// The ruleset's generation: the kernel counts every committed transaction.
pub fn generation(sock: &mut Socket) -> Result<u32> {
    let reply = sock.request(&get(GETGEN, &[])).context("reading nf_tables over netlink")?;
    reply.iter().find_map(|m| be32(attrs(&m.attributes), GEN_ID)).context("the kernel did not say the ruleset's generation")
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
pub(super) fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
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
pub(super) fn string(buf: &[u8], kind: u16) -> Option<&str> {
    let value = attr(buf, kind)?;
    std::str::from_utf8(value.strip_suffix(&[0]).unwrap_or(value)).ok()
}

/// A 32-bit attribute in network byte order.
pub(super) fn be32<'a>(mut attrs: impl Iterator<Item = (u16, &'a [u8])>, kind: u16) -> Option<u32> {
    attrs.find(|(k, _)| *k == kind).and_then(|(_, v)| v.try_into().ok()).map(u32::from_be_bytes)
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
