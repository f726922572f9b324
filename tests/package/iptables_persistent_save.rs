//! iptables-persistent's `save` never keeps vpn-firewall's chains as the administrator's rules.
//! Its plugins 15-ip4tables and 25-ip6tables write `iptables-save` and `ip6tables-save` to
//! /etc/iptables/rules.v4 and rules.v6, and with the iptables backend those hold vpn-firewall's
//! chains, jumps and DROP policies; 15 and 25 would load them at every boot, stale after a change
//! of the configuration, and after `vpn-firewall flush` or the package's removal. The plugin's
//! `save`, which runs after theirs, takes them out again. Checked with both iptables variants, on
//! the saves of netfilter-persistent and of iptables-persistent's installation (debconf), and
//! with the nftables backend and a guard, whose tables iptables-nft-save does not see.

use crate::deb::build::built;
use crate::deb::chroot::{Chroot, Release};
use crate::run;
use crate::sandbox::tool;
use std::process::Command;

per_release!(
    save_keeps_the_admins_rules_only:
    trixie_with_iptables_persistent_save_keeps_only_the_admins_rules_with_both_backends,
    bookworm_with_iptables_persistent_save_keeps_only_the_admins_rules_with_both_backends
);

/// The administrator's rules, loaded before vpn-firewall's: a chain of their own, a mangle rule,
/// and a comment that names one of vpn-firewall's chains (text, not a jump).
const ADMIN_V4: &str = r#"*mangle
-A POSTROUTING -o lo -j ACCEPT
COMMIT
*filter
:ADMIN - [0:0]
-A INPUT -j ADMIN
-A OUTPUT -o lo -m comment --comment "admin: not -j VPN_FIREWALL_OUTPUT" -j ACCEPT
-A ADMIN -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
"#;
const ADMIN_V6: &str = "*filter\n-A OUTPUT -o lo -j ACCEPT\nCOMMIT\n";

/// Shell functions of the script below.
const FUNCTIONS: &str = r#"
# What iptables-save prints, without its comments and with zeroed counters.
canonical() { grep -v '^#' "$1" | sed 's/\[[0-9]*:[0-9]*\]/[0:0]/'; }
# Fails when a saved file holds anything of vpn-firewall's.
nothing_of_ours() {
    for v in 4 6; do
        ! grep -E '^:VPN_FIREWALL_|^-A VPN_FIREWALL_| -[jg] VPN_FIREWALL_[A-Z_]+$|vpn_firewall' /etc/iptables/rules.v$v \
            || fail "rules.v$v holds vpn-firewall's chains ($1)"
    done
}
# The admin's rules and exactly one jump of vpn-firewall's per built-in chain are loaded.
loaded_once() {
    iptables -S OUTPUT | grep -x -- '-A OUTPUT -o lo -m comment --comment "admin: not -j VPN_FIREWALL_OUTPUT" -j ACCEPT' \
        || fail "the admin's IPv4 rule is not loaded ($1)"
    iptables -S ADMIN | grep -x -- '-A ADMIN -p tcp -m tcp --dport 22 -j ACCEPT' || fail "the admin's chain is not loaded ($1)"
    ip6tables -S OUTPUT | grep -x -- '-A OUTPUT -o lo -j ACCEPT' || fail "the admin's IPv6 rule is not loaded ($1)"
    for ipt in iptables ip6tables; do
        for chain in INPUT OUTPUT FORWARD; do
            [ "$($ipt -S $chain | grep -c -- "-j VPN_FIREWALL_$chain\$")" = 1 ] || fail "$ipt $chain: not one jump of vpn-firewall's ($1)"
        done
    done
    vpn-firewall status > /tmp/status.log || { cat /tmp/status.log; fail "vpn-firewall status is not 0 ($1)"; }
    ! grep -i warning /tmp/status.log || fail "vpn-firewall status warns ($1)"
}
# netfilter-persistent save with vpn-firewall's chains loaded keeps exactly what the kernel
# holds after vpn-firewall flush, with the mode and owner 15-ip4tables gave the files; a boot
# (the kernel emptied, then netfilter-persistent start) then loads everything once.
save_and_boot() {
    netfilter-persistent save > /tmp/save.log 2>&1 || { cat /tmp/save.log; fail "netfilter-persistent save failed ($1)"; }
    cat /tmp/save.log
    nothing_of_ours "$1"
    vpn-firewall flush > /dev/null
    iptables-save > /tmp/expected.v4
    ip6tables-save > /tmp/expected.v6
    for v in 4 6; do
        canonical /tmp/expected.v$v > /tmp/want
        canonical /etc/iptables/rules.v$v > /tmp/got
        diff -u /tmp/want /tmp/got || fail "rules.v$v is not what the kernel holds without vpn-firewall ($1)"
        [ "$(stat -c '%a %U:%G' /etc/iptables/rules.v$v)" = "640 root:root" ] || fail "rules.v$v: $(stat -c '%a %U:%G' /etc/iptables/rules.v$v) ($1)"
    done
    # Nothing of vpn-firewall's is loaded now: its save leaves the files as 15 and 25 wrote them.
    inodes=$(stat -c %i /etc/iptables/rules.v4 /etc/iptables/rules.v6)
    netfilter-persistent save > /tmp/save.log 2>&1
    [ "$(stat -c %i /etc/iptables/rules.v4 /etc/iptables/rules.v6)" = "$inodes" ] || fail "a save without vpn-firewall's chains replaced the files ($1)"
    ! grep 'removed its chains' /tmp/save.log || fail "a save without vpn-firewall's chains rewrote the files ($1)"

    netfilter-persistent flush > /dev/null
    netfilter-persistent start > /tmp/start.log 2>&1 || { cat /tmp/start.log; fail "netfilter-persistent start at boot failed ($1)"; }
    ! grep 'warning' /tmp/start.log || fail "start warned after a save ($1)"
    loaded_once "at boot, $1"
}
"#;

fn save_keeps_the_admins_rules_only(release: Release) {
    let chroot = Chroot::new(release);
    let deb = chroot.copy_in(&built(release).deb);
    let output = run(
        &chroot,
        &format!(
            r#"{FUNCTIONS}
            apt-get install -y --no-install-recommends iptables {deb} > /tmp/install.log
            printf '[firewall]\nbackend = iptables\n' > /etc/vpn-firewall/50-backend.conf
            printf '%s' '{ADMIN_V4}' | iptables-restore
            printf '%s' '{ADMIN_V6}' | ip6tables-restore
            vpn-firewall start

            echo "== iptables-nft, saved by iptables-persistent's installation"
            apt-get install -y --no-install-recommends iptables-persistent > /tmp/install.log 2>&1 || {{ cat /tmp/install.log; fail "installing iptables-persistent failed"; }}
            grep -q '^:VPN_FIREWALL_INFO' /etc/iptables/rules.v4 || fail "iptables-persistent's installation did not save the loaded rules"
            netfilter-persistent start > /tmp/start.log 2>&1 || {{ cat /tmp/start.log; fail "netfilter-persistent start failed with the saved chains"; }}
            cat /tmp/start.log
            loaded_once "after loading the chains saved at installation"
            save_and_boot iptables-nft

            echo "== iptables-legacy, saved by netfilter-persistent save"
            netfilter-persistent flush > /dev/null
            for ipt in iptables ip6tables; do update-alternatives --quiet --set $ipt /usr/sbin/$ipt-legacy; done
            iptables --version | grep -q legacy || fail "iptables-legacy is not selected"
            netfilter-persistent start > /dev/null
            loaded_once "iptables-legacy"
            save_and_boot iptables-legacy

            echo "== nftables and the guard"
            netfilter-persistent flush > /dev/null
            for ipt in iptables ip6tables; do update-alternatives --quiet --set $ipt /usr/sbin/$ipt-nft; done
            apt-get install -y --no-install-recommends nftables > /tmp/install.log 2>&1 || {{ cat /tmp/install.log; fail "installing nftables failed"; }}
            printf '[firewall]\nbackend = nftables\n' > /etc/vpn-firewall/50-backend.conf
            vpn-firewall guard > /tmp/guard.log 2>&1 &
            for i in $(seq 50); do grep -q 'standing by' /tmp/guard.log && break; sleep 0.1; done
            grep -q 'standing by' /tmp/guard.log || {{ cat /tmp/guard.log; fail "the guard did not start"; }}
            netfilter-persistent start > /dev/null
            nft list table inet vpn_firewall | grep -q 'flags owner' || fail "no table inet vpn_firewall owned by the guard"
            netfilter-persistent save > /tmp/save.log 2>&1 || {{ cat /tmp/save.log; fail "netfilter-persistent save failed (nftables)"; }}
            nothing_of_ours "nftables and the guard"
            for v in 4 6; do echo "-- rules.v$v"; cat /etc/iptables/rules.v$v; done
            iptables -S OUTPUT | grep -q 'admin: not' || fail "the admin's rules are not loaded (nftables)"
            grep -q 'admin: not' /etc/iptables/rules.v4 || fail "rules.v4 lacks the admin's rules (nftables)"
            "#
        ),
    );
    // The installation's save is not the plugin's: start says how to rewrite the files.
    assert!(output.contains("/etc/iptables/rules.v4 holds vpn-firewall's chains"), "start did not warn of the saved chains:\n{output}");
    for variant in ["iptables-nft", "iptables-legacy"] {
        let section = output.split(&format!("== {variant}")).nth(1).unwrap_or_default().split("\n== ").next().unwrap_or_default();
        assert!(section.contains("removed its chains from /etc/iptables/rules.v6"), "{variant}: save did not say so:\n{output}");
    }
}

/// The plugin's filter alone, on what iptables-save may print (counters, quoted comments, the nat
/// table, a policy that was DROP before vpn-firewall), with the plugin's own shell function.
#[test]
fn the_iptables_persistent_filter_keeps_everything_but_vpn_firewalls_chains_jumps_and_policies() {
    let plugin = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/netfilter-persistent-plugin/35-vpn-firewall")).expect("read the plugin");
    let start = plugin.find("\nwithout_vpn_firewall() {\n").expect("the plugin defines without_vpn_firewall");
    let end = start + plugin[start..].find("\n}\n").expect("the end of without_vpn_firewall") + 3;
    let saved = r#"# Generated by iptables-save
*filter
:INPUT DROP [10:600]
:FORWARD DROP [0:0]
:OUTPUT DROP [3:180]
:MY_VPN_FIREWALL_X - [0:0]
:VPN_FIREWALL_INFO - [0:0]
:VPN_FIREWALL_OUTPUT - [0:0]
[1:60] -A INPUT -j VPN_FIREWALL_INPUT
[2:120] -A OUTPUT -p udp -m comment --comment "not -j VPN_FIREWALL_OUTPUT, \"quoted\" -g VPN_FIREWALL_X" -j ACCEPT
-A FORWARD -i docker0 -j VPN_FIREWALL_FORWARD
-A OUTPUT -j MY_VPN_FIREWALL_X
-A MY_VPN_FIREWALL_X -j ACCEPT
-A VPN_FIREWALL_INFO -m comment --comment "vpn-firewall ruleset 0123"
-A VPN_FIREWALL_INFO -m comment --comment "INPUT policy before vpn-firewall: ACCEPT"
-A VPN_FIREWALL_INFO -m comment --comment "FORWARD policy before vpn-firewall: DROP"
-A VPN_FIREWALL_INFO -m comment --comment "OUTPUT policy before vpn-firewall: ACCEPT"
-A VPN_FIREWALL_OUTPUT -g VPN_FIREWALL_BLOCK_OUT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:VPN_FIREWALL_NAT_POST - [0:0]
-A POSTROUTING -j VPN_FIREWALL_NAT_POST
-A VPN_FIREWALL_NAT_POST -o tun+ -j MASQUERADE
COMMIT
"#;
    let want = r#"# Generated by iptables-save
*filter
:INPUT ACCEPT [10:600]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [3:180]
:MY_VPN_FIREWALL_X - [0:0]
[2:120] -A OUTPUT -p udp -m comment --comment "not -j VPN_FIREWALL_OUTPUT, \"quoted\" -g VPN_FIREWALL_X" -j ACCEPT
-A OUTPUT -j MY_VPN_FIREWALL_X
-A MY_VPN_FIREWALL_X -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
"#;
    let script = format!("{}\nwithout_vpn_firewall \"$1\"", &plugin[start..end]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let filtered = |text: &str| {
        let file = dir.path().join("rules.v4");
        std::fs::write(&file, text).expect("write the saved rules");
        let out = Command::new(tool("sh", "dash")).args(["-e", "-c", &script, "sh"]).arg(&file).output().expect("run sh");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(filtered(saved), want);
    // Nothing of vpn-firewall's: the same text.
    assert_eq!(filtered(want), want);
}
