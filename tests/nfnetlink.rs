//! The netfilter netlink socket (`nft::nfnetlink`) against the real kernel: requests, dumps and
//! the notifications of nf_tables changes that the guard listens to.
//!
//! Safety: each test runs in a thread that first moves into a network namespace of its own
//! (unshare), checked before anything else happens; `nft` runs as that thread's child, so inside
//! it. The namespace goes away with the thread. Needs root and nftables.

use nix::sched::{CloneFlags, unshare};
use nix::sys::socket::{setsockopt, sockopt::ReceiveTimeout};
use nix::sys::time::TimeVal;
use vpn_firewall::nft::nfnetlink::{Message, NFNL_SUBSYS_NFTABLES, NFNLGRP_NFTABLES, Notification, Socket};

const NFPROTO_INET: u8 = 1;
const NFT_MSG_NEWTABLE: u8 = 0;
const NFT_MSG_GETTABLE: u8 = 1;
const NFT_MSG_DELTABLE: u8 = 2;
const NFT_MSG_NEWGEN: u8 = 15;
const NFTA_TABLE_NAME: u16 = 1;

/// Runs `test` in a new thread inside a network namespace of its own.
fn in_own_namespace(test: impl FnOnce() + Send + 'static) {
    let thread = std::thread::spawn(move || {
        let namespace = || std::fs::read_link("/proc/thread-self/ns/net").expect("cannot read this thread's network namespace");
        let before = namespace();
        unshare(CloneFlags::CLONE_NEWNET).expect("cannot make a network namespace: run the tests as root");
        assert_ne!(namespace(), before, "the test thread must not run in the machine's network namespace");
        test();
    });
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

fn nft(args: &[&str]) {
    let nft = vpn_firewall::tools::locate("nft", "nftables").unwrap();
    vpn_firewall::tools::run(&nft, args, None).unwrap();
}

/// An open socket whose `recv` gives up after a few seconds instead of hanging the test.
fn socket() -> Socket {
    let socket = Socket::open().expect("cannot open a netfilter netlink socket");
    setsockopt(&socket, ReceiveTimeout, &TimeVal::new(5, 0)).expect("cannot set a receive timeout");
    socket
}

fn table(name: &str) -> Message {
    Message::new(NFNL_SUBSYS_NFTABLES, NFT_MSG_GETTABLE, NFPROTO_INET).with_attribute(NFTA_TABLE_NAME, format!("{name}\0").as_bytes())
}

/// The table name a message carries: its first attribute when it is NFTA_TABLE_NAME.
fn name(message: &Message) -> Option<String> {
    let [len_low, len_high, kind_low, kind_high, rest @ ..] = message.attributes.as_slice() else { return None };
    let len = usize::from(u16::from_ne_bytes([*len_low, *len_high]));
    let value = rest.get(..len.checked_sub(4)?)?;
    (u16::from_ne_bytes([*kind_low, *kind_high]) == NFTA_TABLE_NAME).then(|| String::from_utf8_lossy(value.strip_suffix(&[0]).unwrap_or(value)).into_owned())
}

#[test]
fn requests_and_dumps_get_their_own_replies() {
    in_own_namespace(|| {
        let mut sock = socket();
        assert_eq!(sock.dump(&Message::new(NFNL_SUBSYS_NFTABLES, NFT_MSG_GETTABLE, NFPROTO_INET)).unwrap(), []);
        nft(&["add", "table", "inet", "one"]);
        nft(&["add", "table", "inet", "two"]);
        for _ in 0..3 {
            let tables = sock.dump(&Message::new(NFNL_SUBSYS_NFTABLES, NFT_MSG_GETTABLE, NFPROTO_INET)).unwrap();
            assert_eq!(tables.iter().map(name).collect::<Vec<_>>(), [Some("one".into()), Some("two".into())]);
            let one = sock.request(&table("one")).unwrap();
            assert_eq!(one.iter().map(name).collect::<Vec<_>>(), [Some("one".into())]);
        }
        let absent = sock.request(&table("absent")).unwrap_err();
        assert!(format!("{absent:#}").contains("ENOENT"), "{absent:#}");
        let one = sock.request(&table("one")).unwrap();
        assert_eq!(one.len(), 1, "after an error reply the socket is still in step");
    });
}

#[test]
fn notifications_of_another_process_changes_arrive_in_order_also_across_a_request() {
    in_own_namespace(|| {
        let mut sock = socket();
        sock.subscribe(NFNLGRP_NFTABLES).unwrap();
        nft(&["add", "table", "inet", "watched"]);
        // The notifications are queued on the socket before this dump's replies: they must be
        // kept for recv, and the dump must get only its own replies.
        let tables = sock.dump(&Message::new(NFNL_SUBSYS_NFTABLES, NFT_MSG_GETTABLE, NFPROTO_INET)).unwrap();
        assert_eq!(tables.iter().map(name).collect::<Vec<_>>(), [Some("watched".into())]);
        nft(&["delete", "table", "inet", "watched"]);

        let mut seen: Vec<Notification> = Vec::new();
        while seen.iter().filter(|n| n.message.kind == NFT_MSG_NEWGEN).count() < 2 {
            seen.push(sock.recv().expect("a notification of each change"));
        }
        let table_name = |n: &Notification| if n.message.kind == NFT_MSG_NEWGEN { None } else { name(&n.message) };
        let changes: Vec<(u8, Option<String>)> = seen.iter().map(|n| (n.message.kind, table_name(n))).collect();
        let watched = Some("watched".to_string());
        assert_eq!(changes, [(NFT_MSG_NEWTABLE, watched.clone()), (NFT_MSG_NEWGEN, None), (NFT_MSG_DELTABLE, watched), (NFT_MSG_NEWGEN, None)]);
        for notification in &seen {
            assert!(notification.port != 0 && notification.port != sock.port(), "a change by nft names nft's port: {notification:?}");
        }
    });
}
