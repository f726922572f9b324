//! Upgrades from the first release (0.1.0, built from its commit) with the ruleset loaded, and
//! the downgrade back: the kernel must hold vpn-firewall's drop policies at every moment (each
//! transaction `nft monitor` reports, through prerm, unpack and postinst), the new version's
//! postinst reloads the ruleset, and the drop-ins, which moved from /lib to /usr/lib (the same
//! directory where /lib is a link), are still there afterwards.

use crate::deb::build::{FIRST_RELEASE, built, first_release};
use crate::deb::chroot::{Chroot, Release};
use crate::{FILES, run};
use std::collections::BTreeSet;

per_release!(
    upgrade_and_downgrade:
    trixie_upgrade_from_0_1_0_and_downgrade_keep_the_rules_loaded_at_every_moment,
    bookworm_upgrade_from_0_1_0_and_downgrade_keep_the_rules_loaded_at_every_moment
);

fn upgrade_and_downgrade(release: Release) {
    let chroot = Chroot::new(release);
    let old = chroot.copy_in(first_release());
    let new = chroot.copy_in(&built(release).deb);
    let (old_version, _) = FIRST_RELEASE;
    let new_version = env!("CARGO_PKG_VERSION");
    let steps = [(new_version, &new, ""), (old_version, &old, "--allow-downgrades")];

    // One script, so that all of it happens in the one network namespace of this session.
    let mut script = format!(
        r#"
        apt-get install -y --no-install-recommends {old} > /tmp/install.log
        netfilter-persistent start > /dev/null
        loaded || fail "netfilter-persistent start did not load the ruleset"
        echo "== listing"; nft list table inet vpn_firewall
        "#
    );
    for (to, deb, flags) in steps {
        script.push_str(&format!(
            r#"
            nft monitor > /tmp/monitor.log 2>&1 &
            monitor=$!
            sleep 0.5
            apt-get install -y --no-install-recommends {flags} {deb} > /tmp/apt.log 2>&1 || {{ cat /tmp/apt.log; fail "apt-get install {to} failed"; }}
            sleep 0.5
            kill $monitor
            [ "$(dpkg-query -W -f '${{Version}}' vpn-firewall)" = "{to}" ] || fail "vpn-firewall {to} is not installed"
            vpn-firewall status > /tmp/status.log || {{ cat /tmp/status.log; fail "no ruleset loaded after installing {to}"; }}
            echo "== apt {to}"; cat /tmp/apt.log
            echo "== status {to}"; cat /tmp/status.log
            echo "== monitor {to}"; cat /tmp/monitor.log
            for file in {drop_ins}; do [ -f "$file" ] || fail "$file is gone after installing {to}"; done
            "#,
            // Each version's drop-ins, wherever it puts them, survive the move between the
            // aliased directories (dpkg must not remove the file it has just unpacked under the
            // other name).
            drop_ins = FILES.iter().map(|(p, _)| *p).filter(|p| p.contains(".service.d/")).collect::<Vec<_>>().join(" "),
        ));
    }
    let transcript = run(&chroot, &script);
    let section = |name: &str| transcript.split(&format!("== {name}\n")).nth(1).unwrap_or_default().split("\n== ").next().unwrap_or_default();
    let policies = drop_policies(section("listing"));
    assert!(policies.len() >= 4, "fewer base chains with policy drop than expected:\n{transcript}");
    for (to, _, _) in steps {
        let monitor = section(&format!("monitor {to}"));
        let open = open_moments(monitor, &policies);
        assert!(open.is_empty(), "installing {to}: the kernel lacked vpn-firewall's drop policies after {open:?}:\n{monitor}");
        assert!(monitor.contains("add table inet vpn_firewall"), "installing {to} did not reload the ruleset:\n{transcript}");
        let apt = section(&format!("apt {to}"));
        let set_up = apt.find(&format!("Setting up vpn-firewall ({to})")).unwrap_or_else(|| panic!("{apt}"));
        assert!(apt[set_up..].contains("vpn-firewall: loaded table inet vpn_firewall"), "{to}'s postinst did not reload:\n{apt}");
        assert!(section(&format!("status {to}")).contains("the configuration's ruleset, up to date"), "{transcript}");
    }
}

/// The base chains of `nft list table` output whose policy is drop.
fn drop_policies(listing: &str) -> BTreeSet<String> {
    let mut chains = BTreeSet::new();
    let mut current = None;
    for line in listing.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("chain ") {
            current = rest.split_whitespace().next().map(str::to_string);
        } else if line.contains("policy drop;") {
            chains.extend(current.take());
        }
    }
    chains
}

/// The generations (committed transactions, `# new generation N ...` of `nft monitor`) after
/// which vpn-firewall's table was missing, or lacked one of the base chains with policy drop
/// it had at first.
fn open_moments(monitor: &str, policies: &BTreeSet<String>) -> Vec<String> {
    const TABLE: &str = "inet vpn_firewall";
    let mut table = true;
    let mut dropping = policies.clone();
    let mut open = Vec::new();
    for line in monitor.lines() {
        if line.starts_with(&format!("delete table {TABLE}")) {
            table = false;
            dropping.clear();
        } else if line.starts_with(&format!("add table {TABLE}")) {
            table = true;
        } else if let Some(rest) = line.strip_prefix(&format!("add chain {TABLE} ")) {
            if line.contains("policy drop;") {
                dropping.extend(rest.split_whitespace().next().map(str::to_string));
            }
        } else if let Some(rest) = line.strip_prefix(&format!("delete chain {TABLE} ")) {
            rest.split_whitespace().next().map(|name| dropping.remove(name));
        } else if line.starts_with("# new generation") && !(table && dropping.is_superset(policies)) {
            open.push(line.to_string());
        }
    }
    open
}

#[test]
fn open_moments_are_the_generations_without_the_drop_policies() {
    let policies: BTreeSet<String> = ["input", "output"].map(String::from).into();
    let replaced = "delete table inet vpn_firewall\nadd table inet vpn_firewall\n\
        add chain inet vpn_firewall input { type filter hook input priority filter; policy drop; }\n\
        add chain inet vpn_firewall output { type filter hook output priority filter; policy drop; }\n\
        # new generation 7 by process 12 (nft)\n";
    assert!(open_moments(replaced, &policies).is_empty());
    let deleted = "delete table inet vpn_firewall\n# new generation 8 by process 13 (nft)\n";
    assert_eq!(open_moments(deleted, &policies), ["# new generation 8 by process 13 (nft)"]);
    let accepting = "delete table inet vpn_firewall\nadd table inet vpn_firewall\n\
        add chain inet vpn_firewall input { type filter hook input priority filter; policy drop; }\n\
        add chain inet vpn_firewall output { type filter hook output priority filter; policy accept; }\n\
        # new generation 9 by process 14 (nft)\n";
    assert_eq!(open_moments(accepting, &policies).len(), 1);
}
