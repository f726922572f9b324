#!/bin/bash
# Sourced by bench/measure.sh.
#
# The per-rule baseline: what a shell script does to load the same policy, one iptables (or
# ip6tables) process per rule, iptables-nft as Debian ships it. The same rules in the same
# order as vpn-firewall's ruleset; a LAN network costs three rules (no DNS over TCP, over UDP,
# then accept), as in vpn-firewall's chain, where the set makes it one rule for all networks.

iptables_script() { # CONFIG-FILE: the drop-in whose lan.allow networks it allows
    local t
    for t in iptables ip6tables; do
        echo "$t -P INPUT DROP; $t -P OUTPUT DROP; $t -P FORWARD DROP"
        echo "$t -N VPN_FIREWALL_DROP; $t -N VPN_FIREWALL_REJECT"
        echo "$t -A VPN_FIREWALL_DROP -m limit --limit 10/minute -j LOG --log-prefix 'vpn-firewall: blocked: '"
        echo "$t -A VPN_FIREWALL_DROP -j DROP"
        echo "$t -A VPN_FIREWALL_REJECT -m limit --limit 10/minute -j LOG --log-prefix 'vpn-firewall: blocked: '"
        echo "$t -A VPN_FIREWALL_REJECT -j REJECT --reject-with $([[ $t == iptables ]] && echo icmp-admin-prohibited || echo icmp6-adm-prohibited)"
        echo "$t -A INPUT -i lo -j ACCEPT"
        echo "$t -A INPUT -m conntrack --ctstate INVALID -j DROP"
        for flags in "ALL NONE" "ALL FIN,PSH,URG" "FIN,SYN FIN,SYN" "SYN,RST SYN,RST" "FIN,RST FIN,RST" "FIN,ACK FIN"; do
            echo "$t -A INPUT -p tcp --tcp-flags $flags -j DROP"
        done
        echo "$t -A INPUT -p tcp -m conntrack --ctstate NEW ! --syn -j DROP"
    done
    echo "iptables -A INPUT -f -j DROP"
    echo "ip6tables -A INPUT -m frag -j DROP"
    echo "iptables -A INPUT -m addrtype ! --dst-type LOCAL,BROADCAST,MULTICAST --limit-iface-in -j DROP"
    echo "ip6tables -A INPUT -m addrtype ! --dst-type LOCAL,MULTICAST --limit-iface-in -j DROP"
    echo "iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
    echo "ip6tables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
    echo "iptables -A INPUT -p udp --sport 67 --dport 68 -j ACCEPT"
    echo "ip6tables -A INPUT -p udp --sport 547 --dport 546 -j ACCEPT"
    for type in router-advertisement neighbour-solicitation neighbour-advertisement; do
        echo "ip6tables -A INPUT -p ipv6-icmp --icmpv6-type $type -m hl --hl-eq 255 -j ACCEPT"
    done
    echo "ip6tables -A INPUT -p ipv6-icmp --icmpv6-type 130 -d ff02::/16 -j ACCEPT"
    echo "iptables -A INPUT -j VPN_FIREWALL_DROP; ip6tables -A INPUT -j VPN_FIREWALL_DROP"
    echo "iptables -A OUTPUT -o lo -j ACCEPT; ip6tables -A OUTPUT -o lo -j ACCEPT"
    echo "iptables -A OUTPUT -o tun0 -j ACCEPT"
    echo "iptables -A OUTPUT -m mark --mark 0xca6c -j ACCEPT"
    echo "iptables -A OUTPUT -p udp --sport 68 --dport 67 -j ACCEPT"
    echo "ip6tables -A OUTPUT -d ff02::1:2 -p udp --sport 546 --dport 547 -j ACCEPT"
    for type in router-solicitation neighbour-solicitation neighbour-advertisement; do
        echo "ip6tables -A OUTPUT -p ipv6-icmp --icmpv6-type $type -m hl --hl-eq 255 -j ACCEPT"
    done
    echo "ip6tables -A OUTPUT -p ipv6-icmp --icmpv6-type 131 -d ff02::/16 -j ACCEPT"
    echo "ip6tables -A OUTPUT -p ipv6-icmp --icmpv6-type 143 -d ff02::/16 -j ACCEPT"
    local nets
    nets=$(sed -n 's/^allow =//p' "$1")
    for net in $nets; do
        echo "iptables -A OUTPUT -d $net -p tcp -m multiport --dports 53,853 -j VPN_FIREWALL_REJECT"
        echo "iptables -A OUTPUT -d $net -p udp -m multiport --dports 53,853 -j VPN_FIREWALL_REJECT"
        echo "iptables -A OUTPUT -d $net -j ACCEPT"
    done
    echo "iptables -A OUTPUT -j VPN_FIREWALL_REJECT; ip6tables -A OUTPUT -j VPN_FIREWALL_REJECT"
    echo "iptables -A FORWARD -j VPN_FIREWALL_REJECT; ip6tables -A FORWARD -j VPN_FIREWALL_REJECT"
}
