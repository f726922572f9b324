//! Renders a `Policy` as the nf_tables netlink messages that nft sends for the text of
//! `render_nft`: pure, no kernel access. The guard loads its layers with them over its own
//! netlink socket (see `guard`), without nft's parser, evaluation and cache dumps.
//!
//! The messages are those of the text's transaction: the table added (so that the deletion
//! finds it), deleted, and added again with its objects, in nft's order: chains, counters,
//! named sets with their elements, then each chain's rules, each anonymous set right before
//! its rule. Applied as one batch, a reload has no moment without rules. tests/golden.rs
//! loads both in namespaces and compares nft's listings of them.

mod attrs;
mod expr;
mod matches;
mod sets;

use crate::nft::nfnetlink::{Message, NFNL_SUBSYS_NFTABLES};
use crate::policy::{Family, Hook, NatAction, NatHook, Policy, Rule, SetId, Verdict};
use crate::render_nft::{Layer, layer_comment, nat_chain};
use attrs::{Attrs, Udata};
use expr::{Expr, Verdict as ExprVerdict};
use matches::{Context, Stmt, ip_proto, linearize, octets};
use sets::{ByteOrder, SetSpec, TYPE_INET_PROTOCOL, TYPE_INET_SERVICE, TYPE_IP6ADDR, TYPE_IPADDR, concat_type, named_udata};

const NFPROTO_INET: u8 = 1;
const NFPROTO_IPV4: u32 = 2;
const NFPROTO_IPV6: u32 = 10;

const NEWTABLE: u8 = 0;
const DELTABLE: u8 = 2;
const NEWCHAIN: u8 = 3;
const NEWRULE: u8 = 6;
const NEWSET: u8 = 9;
const NEWSETELEM: u8 = 12;
const NEWOBJ: u8 = 18;

/// NFT_TABLE_F_OWNER (Linux 5.12): the table belongs to the socket that created it.
pub const TABLE_F_OWNER: u32 = 0x2;
/// NFT_TABLE_F_PERSIST (Linux 6.9): when its owner's socket closes, the kernel keeps the table,
/// unowned, instead of deleting it.
pub const TABLE_F_PERSIST: u32 = 0x4;
const NFT_OBJECT_COUNTER: u32 = 1;
/// NF_DROP and NF_ACCEPT, a base chain's policy.
const POLICY_DROP: u32 = 0;
const POLICY_ACCEPT: u32 = 1;
/// Set elements per NEWSETELEM message: well within a netlink attribute's 64 KiB.
const ELEMENTS_PER_MESSAGE: usize = 1024;
/// NLM_F_CREATE and NLM_F_APPEND: what nft's `add` sends.
pub const CREATE: u16 = 0x400;
const APPEND: u16 = 0x800;

/// One message of a batch, with the netlink flags it is sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub message: Message,
    pub flags: u16,
    /// What it creates or deletes, to name it when the kernel refuses it.
    pub what: String,
}

/// The transaction of the texts `render_layer(policy, layer)` of `layers`, one after the
/// other: each table replaced, all in one batch.
pub fn render_layers(policy: &Policy, layers: &[Layer]) -> Vec<Change> {
    let loads: Vec<TableLoad> = layers.iter().map(|l| TableLoad { layer: *l, flags: text_flags(*l), replace: Replace::AnyLoaded }).collect();
    render_tables(policy, &loads)
}

/// The flags the text gives a table: the guard's is owned.
fn text_flags(layer: Layer) -> u32 {
    if layer == Layer::Guard { TABLE_F_OWNER } else { 0 }
}

/// How a batch replaces a table: the kernel refuses to change a loaded table's flags, so the
/// text's way (added, deleted, added anew) works only where none is loaded or the loaded one
/// has the same flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// As the text: added, deleted and added anew, whether one is loaded or not.
    AnyLoaded,
    /// One is loaded, with whatever flags: deleted, then added anew.
    Loaded,
    /// None is loaded: added.
    NoneLoaded,
}

/// One table of a batch: which, created with which flags, replacing what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableLoad {
    pub layer: Layer,
    pub flags: u32,
    pub replace: Replace,
}

/// The transaction that loads each of `loads` with the policy, one after the other, in one
/// batch. (Sets are numbered across the batch, as the kernel finds a new set by its number
/// within the transaction.)
pub fn render_tables(policy: &Policy, loads: &[TableLoad]) -> Vec<Change> {
    let mut batch = Batch { table: "", changes: Vec::new(), set_ids: 0 };
    for load in loads {
        batch.table = load.layer.table();
        batch.layer(policy, load);
    }
    batch.changes
}

/// A transaction that adds a table owned and persistent and deletes it again: no packet ever
/// meets it. Kernels before 6.9 refuse the persistent flag (EOPNOTSUPP).
pub fn render_persist_probe() -> Vec<Change> {
    let table = PROBE_TABLE;
    vec![
        change(
            NEWTABLE,
            CREATE,
            Attrs::new().string(1, table).u32(2, TABLE_F_OWNER | TABLE_F_PERSIST),
            format!("table inet {table} {{ flags owner, persist }}"),
        ),
        change(DELTABLE, 0, Attrs::new().string(1, table), format!("delete table inet {table}")),
    ]
}

/// The table of `render_persist_probe`.
const PROBE_TABLE: &str = "vpn_firewall_probe";

/// A lone `delete table` of one of the tables.
pub fn render_delete(layer: Layer) -> Vec<Change> {
    let table = layer.table();
    vec![change(DELTABLE, 0, Attrs::new().string(1, table), format!("delete table inet {table}"))]
}

fn change(kind: u8, flags: u16, attrs: Attrs, what: String) -> Change {
    let mut message = Message::new(NFNL_SUBSYS_NFTABLES, kind, NFPROTO_INET);
    message.attributes = attrs.0;
    Change { message, flags, what }
}

/// The messages so far, and the number of the last set created.
struct Batch {
    table: &'static str,
    changes: Vec<Change>,
    set_ids: u32,
}

impl Batch {
    /// The messages of one table: what is loaded deleted (see `Replace`), then the table added
    /// with its objects and rules.
    fn layer(&mut self, policy: &Policy, load: &TableLoad) {
        let layer = load.layer;
        if load.replace == Replace::AnyLoaded {
            self.table_add(load.flags, None);
        }
        if load.replace != Replace::NoneLoaded {
            self.push(DELTABLE, 0, Attrs::new().string(1, self.table), format!("delete table inet {}", self.table));
        }
        self.table_add(load.flags, Some(&layer_comment(policy, layer)));
        let nat: Vec<NatHook> = if layer == Layer::Main { policy.nat.hooks().collect() } else { Vec::new() };
        for hook in Hook::ALL {
            self.base_chain(hook.name(), "filter", hook_number(hook.name()), 0, POLICY_DROP);
        }
        for hook in &nat {
            // As in the text: destination NAT at dstnat - 10, source NAT at srcnat.
            let priority = match hook {
                NatHook::Prerouting => -110,
                NatHook::Postrouting => 100,
            };
            self.base_chain(&nat_chain(*hook), "nat", hook_number(hook.name()), priority, POLICY_ACCEPT);
        }
        for hook in Hook::ALL {
            let name = block_chain(hook);
            self.push(NEWCHAIN, CREATE, Attrs::new().string(1, self.table).string(3, &name), format!("chain {name}"));
        }
        for hook in Hook::ALL {
            let name = format!("blocked_{}", hook.name());
            let data = Attrs::new().u64(1, 0).u64(2, 0);
            let attrs = Attrs::new().string(1, self.table).string(2, &name).u32(3, NFT_OBJECT_COUNTER).nested(4, data);
            self.push(NEWOBJ, CREATE, attrs, format!("counter {name}"));
        }
        let named = self.named_sets(policy);
        let set_id = |id: SetId| named.iter().find(|(s, _)| *s == id).map_or(0, |(_, n)| *n);
        for hook in Hook::ALL {
            for rule in policy.rules(hook) {
                self.rule(hook.name(), &rule.matches, verdict(rule, hook), Some(rule.comment), &set_id);
            }
            self.rule(hook.name(), &[], vec![Expr::Verdict(ExprVerdict::Goto(block_chain(hook)))], None, &set_id);
        }
        for hook in &nat {
            for rule in policy.nat.rules(*hook) {
                let action = match rule.action {
                    NatAction::Dnat(std::net::IpAddr::V4(a)) => vec![Expr::Immediate(a.octets().to_vec()), Expr::Dnat { family: NFPROTO_IPV4 }],
                    NatAction::Dnat(std::net::IpAddr::V6(a)) => vec![Expr::Immediate(a.octets().to_vec()), Expr::Dnat { family: NFPROTO_IPV6 }],
                    NatAction::Masquerade => vec![Expr::Masquerade],
                };
                self.rule(&nat_chain(*hook), &rule.matches, action, Some(rule.comment), &set_id);
            }
        }
        for hook in Hook::ALL {
            let chain = block_chain(hook);
            self.rule(&chain, &[], vec![Expr::Counter(format!("blocked_{}", hook.name()))], None, &set_id);
            if let Some(rate) = policy.blocking.log {
                let unit = match rate.unit() {
                    "second" => 1,
                    "minute" => 60,
                    _ => 3600,
                };
                let log = Expr::Log(format!("vpn-firewall: blocked {}: ", hook.name()));
                self.rule(&chain, &[], vec![Expr::Limit { rate: u64::from(rate.count), unit }, log], None, &set_id);
            }
            let last = if policy.blocking.rejects(hook) { Expr::RejectAdminProhibited } else { Expr::Verdict(ExprVerdict::Drop) };
            self.rule(&chain, &[], vec![last], None, &set_id);
        }
    }

    fn push(&mut self, kind: u8, flags: u16, attrs: Attrs, what: String) {
        self.changes.push(change(kind, flags, attrs, what));
    }

    fn table_add(&mut self, flags: u32, comment: Option<&str>) {
        let attrs = Attrs::new().string(1, self.table).u32(2, flags);
        let attrs = match comment {
            Some(text) => attrs.bytes(6, &Udata::comment(text).0),
            None => attrs,
        };
        self.push(NEWTABLE, CREATE, attrs, format!("table inet {}", self.table));
    }

    fn base_chain(&mut self, name: &str, kind: &str, hook: u32, priority: i32, policy: u32) {
        let hook_attrs = Attrs::new().u32(1, hook).u32(2, priority as u32);
        let attrs = Attrs::new().string(1, self.table).string(3, name).string(7, kind).u32(5, policy).nested(4, hook_attrs);
        self.push(NEWCHAIN, CREATE, attrs, format!("chain {name}"));
    }

    /// The named sets the policy has entries for; their ids.
    fn named_sets(&mut self, policy: &Policy) -> Vec<(SetId, u32)> {
        let mut ids = Vec::new();
        for id in [SetId::Lan4, SetId::Lan6, SetId::Servers4, SetId::Servers6] {
            let entries = policy.sets.entries(id);
            if entries.is_empty() {
                continue;
            }
            let spec = named_set(id, &entries);
            ids.push((id, self.set(id.name(), spec)));
        }
        ids
    }

    /// Creates a set and adds its elements; returns its id.
    fn set(&mut self, name: &str, spec: SetSpec) -> u32 {
        self.set_ids += 1;
        let id = self.set_ids;
        let anonymous = spec.flags & sets::SET_ANONYMOUS != 0;
        let what = if anonymous { "an anonymous set".to_string() } else { format!("set {name}") };
        let attrs = Attrs::new().string(1, self.table).string(2, name).u32(3, spec.flags).u32(4, spec.key_type).u32(5, spec.key_len).u32(10, id);
        let attrs = if anonymous { attrs.nested(9, Attrs::new().u32(1, spec.elements.len() as u32)) } else { attrs };
        self.push(NEWSET, CREATE, attrs.bytes(13, &spec.udata.0), what.clone());
        for chunk in spec.elements.chunks(ELEMENTS_PER_MESSAGE) {
            // Numbered from 1 on, as libnftnl numbers them (the kernel reads any number).
            let list = chunk.iter().zip(1..).fold(Attrs::new(), |list, (e, n)| {
                let element = if e.end { Attrs::new().u32(3, 1) } else { Attrs::new() };
                list.nested(n, element.nested(1, Attrs::new().bytes(1, &e.key)))
            });
            let attrs = Attrs::new().string(1, self.table).string(2, name).u32(4, id).nested(3, list);
            self.push(NEWSETELEM, CREATE, attrs, format!("the elements of {what}"));
        }
        id
    }

    /// A rule of `matches` and then `action`, its anonymous sets created before it.
    fn rule(&mut self, chain: &str, matches: &[crate::policy::Match], action: Vec<Expr>, comment: Option<&str>, set_id: &matches::NamedSetId<'_>) {
        let mut stmts = Vec::new();
        let mut context = Context::default();
        for m in matches {
            context.add(&mut stmts, m, set_id);
        }
        let mut exprs = Vec::new();
        for stmt in linearize(stmts) {
            match stmt {
                Stmt::Exprs(e) => exprs.extend(e),
                Stmt::PayloadEq { base, offset, value } => {
                    exprs.push(Expr::Payload { base, offset, len: value.len() as u32, dreg: expr::REG_1 });
                    exprs.push(Expr::Cmp { op: expr::CmpOp::Eq, data: value });
                }
                Stmt::Lookup { source, set, invert } => {
                    let id = self.set("__set%d", set);
                    exprs.extend(source);
                    exprs.push(Expr::Lookup { set: "__set%d".into(), id, invert });
                }
            }
        }
        exprs.extend(action);
        let list = exprs.iter().fold(Attrs::new(), |list, e| list.append(e.encode()));
        let attrs = Attrs::new().string(1, self.table).string(2, chain).nested(4, list);
        let attrs = match comment {
            Some(text) => attrs.bytes(7, &Udata::comment(text).0),
            None => attrs,
        };
        let what = match comment {
            Some(text) => format!("a rule of chain {chain} ({text})"),
            None => format!("a rule of chain {chain}"),
        };
        self.push(NEWRULE, CREATE | APPEND, attrs, what);
    }
}

/// A named set of the policy: networks in an interval set, endpoints as a concatenation of
/// address, protocol and port, each part padded to 32 bits.
fn named_set(id: SetId, entries: &[crate::policy::Entry]) -> SetSpec {
    use crate::policy::Entry;
    let (address, len) = if id.family() == Family::V4 { (TYPE_IPADDR, 4) } else { (TYPE_IP6ADDR, 16) };
    if id.holds_endpoints() {
        let elements = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Endpoint(addr, proto, port) => {
                    let mut key = octets(*addr);
                    key.extend([ip_proto(*proto), 0, 0, 0]);
                    key.extend(port.to_be_bytes());
                    key.extend([0, 0]);
                    Some(sets::Element { key, end: false })
                }
                Entry::Network(_) => None,
            })
            .collect();
        let key_type = concat_type(&[address, TYPE_INET_PROTOCOL, TYPE_INET_SERVICE]);
        SetSpec { flags: 0, key_type, key_len: len + 8, udata: named_udata(ByteOrder::Mixed), elements }
    } else {
        let ranges = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Network(net) => Some((octets(net.network()), octets(net.broadcast()))),
                Entry::Endpoint(..) => None,
            })
            .collect();
        SetSpec { flags: sets::SET_INTERVAL, key_type: address, key_len: len, udata: named_udata(ByteOrder::Network), elements: sets::intervals(ranges, false) }
    }
}

fn verdict(rule: &Rule, hook: Hook) -> Vec<Expr> {
    vec![Expr::Verdict(match rule.verdict {
        Verdict::Accept | Verdict::Pass => ExprVerdict::Accept,
        Verdict::Drop => ExprVerdict::Drop,
        Verdict::Block => ExprVerdict::Goto(block_chain(hook)),
    })]
}

fn block_chain(hook: Hook) -> String {
    format!("block_{}", hook.name())
}

/// The inet family's hook numbers (enum nf_inet_hooks).
fn hook_number(name: &str) -> u32 {
    match name {
        "prerouting" => 0,
        "input" => 1,
        "forward" => 2,
        "output" => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nft::nfnetlink::align;

    /// The attributes (type without flags, value) of a message or a nested attribute.
    fn attrs(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
        let mut out = Vec::new();
        while buf.len() >= 4 {
            let len = usize::from(u16::from_ne_bytes([buf[0], buf[1]]));
            out.push((u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff, &buf[4..len]));
            buf = &buf[align(len).min(buf.len())..];
        }
        out
    }

    fn attr(buf: &[u8], kind: u16) -> Option<&[u8]> {
        attrs(buf).into_iter().find(|(k, _)| *k == kind).map(|(_, v)| v)
    }

    fn kinds(changes: &[Change]) -> Vec<u8> {
        changes.iter().map(|c| c.message.kind).collect()
    }

    #[test]
    fn the_lockdown_table_is_replaced_by_its_objects_then_its_rules() {
        let changes = render_layers(&Policy::lockdown(), &[Layer::Main]);
        let mut want = vec![NEWTABLE, DELTABLE, NEWTABLE];
        want.extend([NEWCHAIN; 8]);
        want.extend([NEWOBJ; 4]);
        // input, output, forward, postrouting: loopback and the goto; each block chain: count,
        // log, reject or drop.
        want.extend([NEWRULE; 7 + 4 * 3]);
        assert_eq!(kinds(&changes), want);
        assert!(changes.iter().all(|c| c.message.family == NFPROTO_INET && c.message.subsystem == NFNL_SUBSYS_NFTABLES));
        assert_eq!(changes[1].flags, 0, "a deletion creates nothing");
        assert!(changes.iter().filter(|c| c.message.kind == NEWRULE).all(|c| c.flags == CREATE | APPEND));
        let comment = Udata::comment(&layer_comment(&Policy::lockdown(), Layer::Main)).0;
        assert_eq!(attr(&changes[2].message.attributes, 6), Some(comment.as_slice()), "the comment is in the second addition");
        assert_eq!(attr(&changes[0].message.attributes, 6), None);
    }

    #[test]
    fn only_the_guards_table_is_owned_and_it_has_no_nat() {
        let policy = Policy::lockdown();
        let flags = |c: &Change| attr(&c.message.attributes, 2).map(|v| u32::from_be_bytes(v.try_into().unwrap()));
        let guard = render_layers(&policy, &[Layer::Guard]);
        assert_eq!(flags(&guard[0]), Some(TABLE_F_OWNER), "owned from the first message on: the flag cannot be added later");
        assert_eq!(flags(&guard[2]), Some(TABLE_F_OWNER));
        let main = render_layers(&policy, &[Layer::Main]);
        assert_eq!((flags(&main[0]), flags(&main[2])), (Some(0), Some(0)));
        for c in &guard {
            assert_eq!(attr(&c.message.attributes, 1), Some(b"vpn_firewall_guard\0".as_slice()), "{}", c.what);
        }
    }

    #[test]
    fn a_table_of_other_flags_is_deleted_before_it_is_added_and_none_is_deleted_where_none_is_loaded() {
        let policy = Policy::lockdown();
        let flags = |c: &Change| attr(&c.message.attributes, 2).map(|v| u32::from_be_bytes(v.try_into().unwrap()));
        let owned = TABLE_F_OWNER | TABLE_F_PERSIST;
        let over = render_tables(&policy, &[TableLoad { layer: Layer::Main, flags: owned, replace: Replace::Loaded }]);
        assert_eq!(kinds(&over[..2]), [DELTABLE, NEWTABLE], "no addition before the deletion: the kernel would refuse the flags");
        assert_eq!(flags(&over[1]), Some(owned));
        assert_eq!(attr(&over[1].message.attributes, 1), Some(b"vpn_firewall\0".as_slice()));
        let fresh = render_tables(&policy, &[TableLoad { layer: Layer::Main, flags: owned, replace: Replace::NoneLoaded }]);
        assert_eq!(kinds(&fresh[..2]), [NEWTABLE, NEWCHAIN]);
        assert_eq!(fresh[1..], over[2..], "the same table after what each replaces");
        assert_eq!(render_layers(&policy, &[Layer::Main])[3..], over[2..], "as the text's transaction, but for the flags");
    }

    #[test]
    fn the_probe_adds_an_owned_persistent_table_and_deletes_it() {
        let probe = render_persist_probe();
        assert_eq!(kinds(&probe), [NEWTABLE, DELTABLE]);
        let flags = attr(&probe[0].message.attributes, 2).map(|v| u32::from_be_bytes(v.try_into().unwrap()));
        assert_eq!(flags, Some(TABLE_F_OWNER | TABLE_F_PERSIST));
        for c in &probe {
            assert_eq!(attr(&c.message.attributes, 1), Some(b"vpn_firewall_probe\0".as_slice()), "{}", c.what);
        }
    }

    #[test]
    fn sets_are_numbered_across_the_batch_and_created_before_the_rules_that_look_them_up() {
        let policy = Policy::lockdown();
        let sets = crate::policy::Sets { lan4: vec!["192.168.1.0/24".parse().unwrap()], ..Default::default() };
        let policy = Policy { sets, ..policy };
        let changes = render_layers(&policy, &[Layer::Main, Layer::Guard]);
        let ids: Vec<u32> = changes
            .iter()
            .filter(|c| c.message.kind == NEWSET)
            .map(|c| u32::from_be_bytes(attr(&c.message.attributes, 10).unwrap().try_into().unwrap()))
            .collect();
        assert_eq!(ids, vec![1, 2], "set lan_v4 of each table, numbered apart");
        let first_rule = changes.iter().position(|c| c.message.kind == NEWRULE).unwrap();
        let set = changes.iter().position(|c| c.message.kind == NEWSET).unwrap();
        assert!(set < first_rule);
        assert_eq!(changes[set + 1].message.kind, NEWSETELEM);
    }

    #[test]
    fn large_sets_are_split_over_several_messages() {
        let lan4 = (0..3000u32).map(|i| ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).unwrap()).collect();
        let sets = crate::policy::Sets { lan4, ..Default::default() };
        let policy = Policy { sets, ..Policy::lockdown() };
        let changes = render_layers(&policy, &[Layer::Main]);
        let messages = changes.iter().filter(|c| c.message.kind == NEWSETELEM).count();
        // 3000 adjacent networks: a start and an end each, and an end at zero first.
        assert_eq!(messages, 6001usize.div_ceil(ELEMENTS_PER_MESSAGE));
    }
}
