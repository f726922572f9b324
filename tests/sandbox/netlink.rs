//! The guard's netlink batch of a policy's layers against their text (`render_layer`): the
//! text loaded with `nft -f` in one fresh namespace, the batch sent on a netlink socket in
//! another, and nft's listings of the tables compared. A missing dependency or a wrong byte
//! order shows as another listing (raw `@nh,...` payload, other numbers). Used by the golden
//! cases (tests/golden.rs) and the random configurations (tests/property.rs).
//!
//! The owned table goes with the socket that loaded it, and nft's own listing right after a
//! load prints its cache rather than the kernel's tables: so the text is loaded without
//! `flags owner` (everything else as the guard's text has it) and listed by another nft, and
//! the batch's owned table is listed while its socket is open, its `flags owner` line (with
//! the owner's name) checked and then left out.

use vpn_firewall::nft::nfnetlink::Socket;
use vpn_firewall::policy::Policy;
use vpn_firewall::render_netlink::render_layers;
use vpn_firewall::render_nft::{GUARD_TABLE, Layer, render_layer};

/// Whether the batch of `layers` of `policy` lists as their text does: `Err` says where the
/// listings first differ, with the batch's listing, or why either could not be loaded.
pub fn lists_as_text(policy: &Policy, layers: &[Layer]) -> Result<(), String> {
    let tables: Vec<&str> = layers.iter().map(|l| l.table()).collect();
    let text: String = layers.iter().map(|l| without_owner_flag(&render_layer(policy, *l))).collect::<Result<_, _>>()?;
    let by_text = super::in_fresh_netns(|| super::nft_load_here(&text).and_then(|()| super::nft_list_here(&tables)))?;
    let by_netlink = super::in_fresh_netns(|| {
        let batch = render_layers(policy, layers);
        let messages: Vec<_> = batch.iter().map(|c| (&c.message, c.flags)).collect();
        let mut socket = Socket::open().map_err(|e| format!("cannot open a netfilter netlink socket: {e:#}"))?;
        socket.batch(&messages, |i| batch[i].what.clone()).map_err(|e| format!("the kernel refused the batch: {e:#}"))?;
        super::nft_list_here(&tables)
    })?;
    if layers.contains(&Layer::Guard) {
        let owned = format!("table inet {GUARD_TABLE} {{ # progname ");
        let owner_flag = by_netlink.find(&owned).map(|at| &by_netlink[at..]).and_then(|t| t.lines().nth(1));
        if owner_flag != Some("\tflags owner") {
            return Err(format!("the batch's table inet {GUARD_TABLE} is not owned:\n{by_netlink}"));
        }
    }
    let netlink = without_owner(&by_netlink);
    if by_text == netlink {
        return Ok(());
    }
    let (line, want, got) = super::first_difference(&by_text, &netlink).unwrap_or((0, "(the same lines)", "(the same lines)"));
    Err(format!(
        "the netlink batch lists otherwise than the text, first at line {line}:\n  text:    {want}\n  netlink: {got}\n--- text ---\n{by_text}--- netlink ---\n{netlink}"
    ))
}

/// A layer's text without `flags owner`, which would tie the table to the loading nft's socket.
fn without_owner_flag(text: &str) -> Result<String, String> {
    let text = text.replace(" { flags owner; }", "").replace("\tflags owner\n", "");
    if text.contains("owner") { Err(format!("the owner flag is still in the text:\n{text}")) } else { Ok(text) }
}

/// A listing as nft prints it of the table without `flags owner`: without the owner's name
/// on the table's line, the flag's line, and the empty line nft prints after the table's
/// comment only when the table has flags.
fn without_owner(listing: &str) -> String {
    let mut out = Vec::new();
    let mut lines = listing.lines();
    while let Some(line) = lines.next() {
        if line != "\tflags owner" {
            out.push(line.split(" # progname ").next().unwrap_or(line));
            continue;
        }
        let comment = lines.next().unwrap_or_default();
        out.push(comment);
        let after = lines.next().unwrap_or_default();
        if !(comment.starts_with("\tcomment ") && after.is_empty()) {
            out.push(after);
        }
    }
    out.iter().map(|l| format!("{l}\n")).collect()
}
