//! The matches iptables has no option for, written as small programs over the packet: the
//! shape of DHCP messages as `-m u32` tests, an xtables match that iptables-nft and
//! iptables-legacy load alike.

/// A BOOTP request (op 1) with the DHCP magic cookie 236 bytes into the UDP payload: from the
/// IPv4 header, skipped by its length (`0>>22&0x3C@`), the UDP header is 8 bytes.
pub(super) fn dhcp_request() -> String {
    "-m u32 --u32 \"0>>22&0x3C@8>>24=1&&0>>22&0x3C@244=0x63825363\"".into()
}

/// A DHCPv6 message of a client's type, in a UDP datagram right after the IPv6 header (as
/// clients send them: no extension header), its type the first byte of the UDP payload.
pub(super) fn dhcpv6_client_message(types: &[u8]) -> String {
    let types: Vec<String> = types.iter().map(u8::to_string).collect();
    format!("-m u32 --u32 \"4>>8&0xFF=17&&48>>24={}\"", types.join(","))
}
