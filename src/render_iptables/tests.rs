//! The renderer's behaviour as a whole: the lines of rules, helper chains, jumps, reloads, flush,
//! NAT and the label.

use super::*;
use crate::policy::{Blocking, Nat, NatRule, Rule, Sets};
use crate::policy::{Hook, Kind, Match, NatAction, NatHook, SetId, TcpFlag, Verdict};
use crate::values::{Proto, interface};

fn policy(output: Vec<Rule>, sets: Sets) -> Policy {
    Policy {
        kind: Kind::Configured,
        sets,
        input: Vec::new(),
        postrouting: output.clone(),
        output,
        forward: Vec::new(),
        nat: Nat::default(),
        blocking: Blocking { log: None, reject: false },
    }
}

fn rule(matches: Vec<Match>) -> Rule {
    Rule { matches, verdict: Verdict::Accept, comment: "test" }
}

/// The rules of our output chain, without the final goto.
fn output_lines(p: &Policy, family: Family, ipsets: &[Ipset]) -> Vec<String> {
    let text = render_iptables(p, family, ipsets, &Found::fresh());
    text.lines().filter(|l| l.starts_with("-A VPN_FIREWALL_OUTPUT ") && !l.contains(" -g ")).map(str::to_string).collect()
}

fn lan(n: u32) -> Sets {
    Sets { lan4: (0..n).map(|i| ipnet::Ipv4Net::new((0x0a00_0000 + (i << 9)).into(), 24).unwrap()).collect(), ..Sets::default() }
}

#[test]
fn a_list_without_ipset_is_one_rule_per_entry_in_order() {
    let p = policy(vec![rule(vec![Match::DaddrIn(SetId::Lan4)])], lan(20));
    let lines = output_lines(&p, Family::V4, &ipsets(&p, false));
    let expected: Vec<String> = p.sets.lan4.iter().map(|n| format!("-A VPN_FIREWALL_OUTPUT -d {n} -m comment --comment \"test\" -j ACCEPT")).collect();
    assert_eq!(lines, expected);
    assert_eq!(output_lines(&p, Family::V6, &[]), Vec::<String>::new(), "an IPv4 list matches nothing in IPv6");
}

#[test]
fn only_lists_longer_than_the_threshold_use_ipset() {
    let short = policy(vec![rule(vec![Match::DaddrIn(SetId::Lan4)])], lan(IPSET_ABOVE as u32));
    assert_eq!(ipsets(&short, true), []);
    let long = policy(vec![rule(vec![Match::DaddrIn(SetId::Lan4)])], lan(IPSET_ABOVE as u32 + 1));
    let sets = ipsets(&long, true);
    assert_eq!(sets.len(), 1);
    assert_eq!(
        output_lines(&long, Family::V4, &sets),
        [format!("-A VPN_FIREWALL_OUTPUT -m set --match-set {} dst -m comment --comment \"test\" -j ACCEPT", sets[0].name)]
    );
    assert_eq!(sets[0].entries.len(), IPSET_ABOVE + 1);
}

#[test]
fn ways_that_need_two_protocols_at_once_are_left_out() {
    let servers = Sets { servers4: vec![("192.0.2.1".parse().unwrap(), Proto::Udp, 1194), ("192.0.2.2".parse().unwrap(), Proto::Tcp, 443)], ..Sets::default() };
    let tcp_flags = Match::TcpFlags { mask: vec![TcpFlag::Syn], equals: vec![TcpFlag::Syn], negate: false };
    let p = policy(vec![rule(vec![Match::EndpointIn(SetId::Servers4), tcp_flags])], servers);
    let lines = output_lines(&p, Family::V4, &[]);
    assert_eq!(lines.len(), 1, "only the TCP endpoint can have TCP flags: {lines:?}");
    assert!(lines[0].starts_with("-A VPN_FIREWALL_OUTPUT -p tcp -d 192.0.2.2 -m tcp --dport 443"), "{lines:?}");
}

#[test]
fn a_way_with_an_option_twice_goes_through_a_helper_chain() {
    let not_tunnels = [Match::NotInIface(interface("tun0").unwrap()), Match::NotInIface(interface("wg+").unwrap())];
    let mut p = policy(Vec::new(), lan(1));
    p.input = vec![rule([not_tunnels.to_vec(), vec![Match::SaddrIn(SetId::Lan4)]].concat())];
    p.output = vec![rule(vec![Match::IpDaddr(vec!["192.0.2.1/32".parse().unwrap()]), Match::IpDaddr(vec!["192.0.2.0/24".parse().unwrap()])])];
    p.postrouting = p.output.clone();
    let text = render_iptables(&p, Family::V4, &[], &Found::fresh());
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("--comment \"test\"")).collect();
    assert_eq!(
        lines,
        [
            "-A VPN_FIREWALL_INPUT ! -i tun0 -s 10.0.0.0/24 -m comment --comment \"test\" -j VPN_FIREWALL_IN_1",
            "-A VPN_FIREWALL_IN_1 ! -i wg+ -m comment --comment \"test\" -j ACCEPT",
            "-A VPN_FIREWALL_OUTPUT -d 192.0.2.1/32 -m comment --comment \"test\" -j VPN_FIREWALL_OUT_1",
            "-A VPN_FIREWALL_OUT_1 -d 192.0.2.0/24 -m comment --comment \"test\" -j ACCEPT",
            "-A VPN_FIREWALL_POSTROUTING -d 192.0.2.1/32 -m comment --comment \"test\" -j VPN_FIREWALL_POST_1",
            // RETURN would go back to VPN_FIREWALL_POSTROUTING, which would block.
            "-A VPN_FIREWALL_POST_1 -d 192.0.2.0/24 -m comment --comment \"test\" -j ACCEPT",
        ]
    );
    for helper in ["IN_1", "OUT_1"] {
        assert!(text.contains(&format!("\n:VPN_FIREWALL_{helper} - [0:0]\n")), "{helper} is declared:\n{text}");
    }
}

#[test]
fn jumps_are_moved_to_the_head_only_when_they_are_not_there_alone() {
    let p = policy(Vec::new(), Sets::default());
    let mut found = Found::fresh();
    found.jumps = [(1, true), (2, true), (1, false), (0, false)];
    let text = render_iptables(&p, Family::V4, &[], &found);
    let attach: Vec<&str> = text.lines().filter(|l| l.starts_with("-D ") || l.starts_with("-I ")).collect();
    assert_eq!(
        attach,
        [
            "-D OUTPUT -j VPN_FIREWALL_OUTPUT",
            "-D OUTPUT -j VPN_FIREWALL_OUTPUT",
            "-I OUTPUT 1 -j VPN_FIREWALL_OUTPUT",
            "-D FORWARD -j VPN_FIREWALL_FORWARD",
            "-I FORWARD 1 -j VPN_FIREWALL_FORWARD",
            "-I POSTROUTING 1 -j VPN_FIREWALL_POSTROUTING",
        ]
    );
}

#[test]
fn a_reload_removes_the_chains_of_the_earlier_ruleset_it_does_not_declare() {
    let p = policy(Vec::new(), Sets::default());
    let mut found = Found::fresh();
    found.chains = vec![(Table::Filter, chain(Hook::Input)), (Table::Filter, "VPN_FIREWALL_IN_1".into()), (Table::Mangle, "VPN_FIREWALL_POST_2".into())];
    let text = render_iptables(&p, Family::V4, &[], &found);
    let removals: Vec<&str> = text.lines().filter(|l| l.starts_with("-F ") || l.starts_with("-X ")).collect();
    assert_eq!(removals, ["-F VPN_FIREWALL_IN_1", "-X VPN_FIREWALL_IN_1", "-F VPN_FIREWALL_POST_2", "-X VPN_FIREWALL_POST_2"]);
}

#[test]
fn flush_removes_jumps_and_chains_and_reopens_only_what_was_accept() {
    assert_eq!(render_flush(&Found::fresh()), "", "nothing loaded, nothing to send");
    let found = Found {
        jumps: [(1, true), (2, false), (1, true), (1, true)],
        nat_jumps: [(0, false); 2],
        before: [ChainPolicy::Accept, ChainPolicy::Drop, ChainPolicy::Accept],
        chains: vec![(Table::Filter, chain(Hook::Output)), (Table::Filter, block_chain(Hook::Output)), (Table::Mangle, chain(Hook::Postrouting))],
    };
    assert_eq!(
        render_flush(&found),
        "*filter\n-D INPUT -j VPN_FIREWALL_INPUT\n-D OUTPUT -j VPN_FIREWALL_OUTPUT\n-D OUTPUT -j VPN_FIREWALL_OUTPUT\n\
         -D FORWARD -j VPN_FIREWALL_FORWARD\n-F VPN_FIREWALL_OUTPUT\n-F VPN_FIREWALL_BLOCK_OUT\n-X VPN_FIREWALL_OUTPUT\n\
         -X VPN_FIREWALL_BLOCK_OUT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\nCOMMIT\n\
         *mangle\n-D POSTROUTING -j VPN_FIREWALL_POSTROUTING\n-F VPN_FIREWALL_POSTROUTING\n-X VPN_FIREWALL_POSTROUTING\nCOMMIT\n"
    );
}

fn translating() -> Policy {
    let mut p = policy(Vec::new(), Sets::default());
    let inside = Match::InIface(interface("eth1").unwrap());
    p.nat = Nat {
        prerouting: vec![
            NatRule { matches: vec![Match::Family(Family::V4), inside.clone()], action: NatAction::Dnat("192.0.2.53".parse().unwrap()), comment: "dns" },
            NatRule { matches: vec![Match::Family(Family::V6), inside], action: NatAction::Dnat("2001:db8::53".parse().unwrap()), comment: "dns" },
        ],
        postrouting: vec![NatRule {
            matches: vec![Match::Family(Family::V4), Match::OutIface(interface("tun0").unwrap())],
            action: NatAction::Masquerade,
            comment: "masq",
        }],
    };
    p
}

fn nat_part(text: &str) -> &str {
    text.split_once("*nat\n").map_or("", |(_, nat)| nat)
}

#[test]
fn nat_rules_go_into_our_nat_chains_jumped_to_first() {
    let p = translating();
    assert_eq!(
        nat_part(&render_iptables(&p, Family::V4, &[], &Found::fresh())),
        ":VPN_FIREWALL_PREROUTING - [0:0]\n:VPN_FIREWALL_NAT_POST - [0:0]\n\
         -A VPN_FIREWALL_PREROUTING -i eth1 -m comment --comment \"dns\" -j DNAT --to-destination 192.0.2.53\n\
         -A VPN_FIREWALL_NAT_POST -o tun0 -m comment --comment \"masq\" -j MASQUERADE\n\
         -I PREROUTING 1 -j VPN_FIREWALL_PREROUTING\n-I POSTROUTING 1 -j VPN_FIREWALL_NAT_POST\nCOMMIT\n"
    );
    assert!(
        nat_part(&render_iptables(&p, Family::V6, &[], &Found::fresh()))
            .contains("-A VPN_FIREWALL_PREROUTING -i eth1 -m comment --comment \"dns\" -j DNAT --to-destination 2001:db8::53\n"),
    );
    assert!(nat_chain(NatHook::Prerouting).len() <= 28 && nat_chain(NatHook::Postrouting).len() <= 28);
}

#[test]
fn the_nat_table_is_written_only_to_translate_or_to_remove_an_earlier_rulesets_chains() {
    let plain = policy(Vec::new(), Sets::default());
    assert!(!render_iptables(&plain, Family::V4, &[], &Found::fresh()).contains("*nat"));
    let mut found = Found::fresh();
    found.nat_jumps = [(1, true), (2, false)];
    found.chains = vec![(Table::Nat, nat_chain(NatHook::Prerouting)), (Table::Nat, nat_chain(NatHook::Postrouting))];
    assert_eq!(
        nat_part(&render_iptables(&plain, Family::V4, &[], &found)),
        "-D PREROUTING -j VPN_FIREWALL_PREROUTING\n-D POSTROUTING -j VPN_FIREWALL_NAT_POST\n-D POSTROUTING -j VPN_FIREWALL_NAT_POST\n\
         -F VPN_FIREWALL_PREROUTING\n-X VPN_FIREWALL_PREROUTING\n-F VPN_FIREWALL_NAT_POST\n-X VPN_FIREWALL_NAT_POST\nCOMMIT\n"
    );
    let again = nat_part(&render_iptables(&translating(), Family::V4, &[], &found)).to_string();
    assert!(!again.contains("PREROUTING 1") && !again.contains("-X "), "the head jump stays, nothing goes:\n{again}");
    assert!(
        again.contains("-D POSTROUTING -j VPN_FIREWALL_NAT_POST\n-D POSTROUTING -j VPN_FIREWALL_NAT_POST\n-I POSTROUTING 1 -j VPN_FIREWALL_NAT_POST\n"),
        "{again}"
    );
    assert!(render_flush(&found).ends_with(
        "*nat\n-D PREROUTING -j VPN_FIREWALL_PREROUTING\n-D POSTROUTING -j VPN_FIREWALL_NAT_POST\n-D POSTROUTING -j VPN_FIREWALL_NAT_POST\n\
         -F VPN_FIREWALL_PREROUTING\n-F VPN_FIREWALL_NAT_POST\n-X VPN_FIREWALL_PREROUTING\n-X VPN_FIREWALL_NAT_POST\nCOMMIT\n"
    ));
}

#[test]
fn the_label_follows_the_rules_and_the_kind() {
    let p = policy(vec![rule(vec![Match::DaddrIn(SetId::Lan4)])], lan(2));
    let other = policy(vec![rule(vec![Match::DaddrIn(SetId::Lan4)])], lan(3));
    assert!(label(&p, &[]).starts_with("vpn-firewall ruleset "));
    assert_ne!(label(&p, &[]), label(&other, &[]));
    assert!(label(&Policy::lockdown(), &[]).starts_with("vpn-firewall lockdown "));
}
