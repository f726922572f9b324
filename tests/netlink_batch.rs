//! The guard's netlink batches on the kernel, each test in a fresh network namespace of one of
//! its threads (root needed): a batch the kernel refuses is reported with what it refused and
//! leaves the loaded tables as they were; the owned table belongs to the socket that created
//! it. (tests/golden.rs compares the batches of every golden case with their text.)

mod sandbox;

use vpn_firewall::nft::nfnetlink::{Message, NFNL_SUBSYS_NFTABLES, Socket};
use vpn_firewall::policy::Policy;
use vpn_firewall::render_netlink::{CREATE, Change, render_delete, render_layers};
use vpn_firewall::render_nft::{GUARD_TABLE, Layer, TABLE};

fn apply(socket: &mut Socket, changes: &[Change]) -> anyhow::Result<()> {
    let messages: Vec<_> = changes.iter().map(|c| (&c.message, c.flags)).collect();
    socket.batch(&messages, |i| changes[i].what.clone())
}

/// A rule for a chain the table does not have: the kernel refuses it (ENOENT).
fn rule_of_a_missing_chain() -> Change {
    let message = Message::new(NFNL_SUBSYS_NFTABLES, 6, 1).with_attribute(1, format!("{TABLE}\0").as_bytes()).with_attribute(2, b"missing\0");
    Change { message, flags: CREATE, what: "a rule of chain missing".into() }
}

#[test]
fn a_refused_batch_names_what_it_refused_and_leaves_the_loaded_tables_as_they_were() {
    sandbox::in_fresh_netns(|| {
        let mut socket = Socket::open().expect("open a netfilter netlink socket");
        let mut configured = Policy::lockdown();
        configured.sets.lan4 = vec!["192.168.1.0/24".parse().unwrap()];
        apply(&mut socket, &render_layers(&configured, &[Layer::Main, Layer::Guard])).expect("the first load");
        let before = sandbox::nft_list_here(&[TABLE, GUARD_TABLE]).expect("list the loaded tables");

        let mut refused = render_layers(&Policy::lockdown(), &[Layer::Main, Layer::Guard]);
        let at = refused.len() / 2;
        refused.insert(at, rule_of_a_missing_chain());
        let error = format!("{:#}", apply(&mut socket, &refused).expect_err("the kernel must refuse a rule of a missing chain"));
        assert!(error.contains("the kernel refused a rule of chain missing"), "the error names the refused message: {error}");
        assert!(error.contains("No such file or directory"), "the error says the kernel's reason: {error}");
        assert_eq!(sandbox::nft_list_here(&[TABLE, GUARD_TABLE]).expect("list the tables again"), before, "a refused batch changes nothing");

        // The socket is in step after the refusal: the next batch loads.
        apply(&mut socket, &render_layers(&Policy::lockdown(), &[Layer::Main])).expect("a load after the refusal");
        assert!(!sandbox::nft_list_here(&[TABLE]).unwrap().contains("lan_v4"), "the lockdown replaced the table");
    });
}

#[test]
fn the_owned_table_belongs_to_the_socket_that_created_it() {
    sandbox::in_fresh_netns(|| {
        let nft = |args: &[&str]| std::process::Command::new(sandbox::tool("nft", "nftables")).args(args).output().expect("run nft");
        let mut owner = Socket::open().expect("open a netfilter netlink socket");
        apply(&mut owner, &render_layers(&Policy::lockdown(), &[Layer::Guard])).expect("load the owned table");

        let deleted = nft(&["delete", "table", "inet", GUARD_TABLE]);
        assert!(!deleted.status.success(), "another process deleted the owned table");
        assert!(nft(&["flush", "ruleset"]).status.success(), "nft flush ruleset");
        assert!(sandbox::nft_list_here(&[GUARD_TABLE]).is_ok(), "the owned table is gone after nft flush ruleset");

        let mut other = Socket::open().expect("open another socket");
        let error = apply(&mut other, &render_layers(&Policy::lockdown(), &[Layer::Guard])).expect_err("another socket replaced the owned table");
        assert!(format!("{error:#}").contains(&format!("the kernel refused table inet {GUARD_TABLE}")), "{error:#}");
        let error = apply(&mut other, &render_delete(Layer::Guard)).expect_err("another socket deleted the owned table");
        assert!(format!("{error:#}").contains("Operation not permitted"), "{error:#}");

        // Its owner replaces it, then deletes it.
        apply(&mut owner, &render_layers(&Policy::lockdown(), &[Layer::Guard])).expect("the owner replaces its table");
        apply(&mut owner, &render_delete(Layer::Guard)).expect("the owner deletes its table");
        assert!(sandbox::nft_list_here(&[GUARD_TABLE]).is_err(), "the owned table is still there after its deletion");

        apply(&mut owner, &render_layers(&Policy::lockdown(), &[Layer::Guard])).expect("load the owned table again");
        drop(owner);
        assert!(sandbox::nft_list_here(&[GUARD_TABLE]).is_err(), "the owned table outlived its socket");
    });
}
