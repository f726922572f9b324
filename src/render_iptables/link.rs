//! The matches iptables has no option for, written as small programs over the packet: the
//! interface's link type as classic BPF (`-m bpf`), the shape of DHCP and multicast listener
//! messages as `-m u32` tests. Both are xtables matches that iptables-nft and iptables-legacy
//! load alike.

use crate::policy::{Hook, LinkType};

/// `SKF_AD_OFF + SKF_AD_HATYPE` (linux/filter.h): loads the `type` of `skb->dev`, or ends the
/// program with 0 (no match) when the packet has no device yet.
const LOAD_HATYPE: u32 = 0xffff_f000 + 28;

/// The device's link type is one of `types`, or `None` where the kernel cannot tell: `skb->dev`
/// is the receiving interface in input and forward, the sending one only from postrouting on
/// (in output a packet has no device yet). So a match on the sending interface's type holds
/// only in postrouting, which sees every packet that leaves and so enforces it; in output and
/// forward the name alone is checked, and postrouting drops what the name let through.
pub(super) fn link_type(types: &[LinkType], hook: Option<Hook>, sending: bool) -> Option<String> {
    let known = match hook {
        Some(Hook::Postrouting) => sending,
        Some(Hook::Input | Hook::Forward) => !sending,
        _ => false,
    };
    known.then(|| format!("-m bpf --bytecode \"{}\"", link_type_program(types)))
}

/// `ld hatype; jeq T1 -> match; jeq T2 -> match; ...; ret 0; match: ret 1`, in the
/// `--bytecode` notation: the count, then `code jt jf k` per instruction.
fn link_type_program(types: &[LinkType]) -> String {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    let n = types.len();
    let mut program = vec![format!("{LD_W_ABS} 0 0 {LOAD_HATYPE}")];
    for (i, t) in types.iter().enumerate() {
        // Jumps are relative to the next instruction: past the remaining tests and `ret 0`.
        program.push(format!("{JEQ_K} {} 0 {}", n - i, t.arphrd()));
    }
    program.push(format!("{RET_K} 0 0 0"));
    program.push(format!("{RET_K} 0 0 1"));
    format!("{},{}", program.len(), program.join(","))
}

/// A BOOTP request (op 1) with the DHCP magic cookie 236 bytes into the UDP payload, at most
/// `max_length` long (the IPv4 total length, bytes 2-3): from the IPv4 header, skipped by its
/// length (`0>>22&0x3C@`), the UDP header is 8 bytes.
pub(super) fn dhcp_request(max_length: u16) -> String {
    format!("-m u32 --u32 \"0&0xFFFF=0:{max_length}&&0>>22&0x3C@8>>24=1&&0>>22&0x3C@244=0x63825363\"")
}

/// A DHCPv6 message of a client's type, at most `max_payload` long (the IPv6 payload length,
/// bytes 4-5), in a UDP datagram right after the IPv6 header (as clients send them: no
/// extension header), its type the first byte of the UDP payload.
pub(super) fn dhcpv6_client_message(types: &[u8], max_payload: u16) -> String {
    let types: Vec<String> = types.iter().map(u8::to_string).collect();
    format!("-m u32 --u32 \"4>>16=0:{max_payload}&&4>>8&0xFF=17&&48>>24={}\"", types.join(","))
}

/// The most tests one `-m u32` holds (`XT_U32_MAXSIZE`).
const U32_TESTS: usize = 10;

/// An MLDv2 report of exactly `records` solicited-node records, laid out as the kernel sends
/// it: the IPv6 payload length; a hop-by-hop header of 8 bytes (next header 0, then 58 and
/// length 0); the report (type 143) at byte 48 with its record count at 54; each record of 20
/// bytes from byte 56 on with auxiliary data length and source count 0 and a group whose
/// first 13 bytes are ff02::1:ff. In several `-m u32`, each holding at most 10 tests.
pub(super) fn solicited_node_report(records: u8) -> String {
    let n = u32::from(records);
    let mut tests = vec![format!("4>>16={}", 16 + 20 * n), "4>>8&0xFF=0".into(), "40>>16=0x3A00".into(), "48>>24=143".into(), format!("52&0xFFFF={n}")];
    for i in 0..n {
        let at = 56 + 20 * i;
        tests.extend([
            format!("{at}&0xFFFFFF=0"),
            format!("{}=0xFF020000", at + 4),
            format!("{}=0", at + 8),
            format!("{}=1", at + 12),
            format!("{}>>24=0xFF", at + 16),
        ]);
    }
    let matches: Vec<String> = tests.chunks(U32_TESTS).map(|chunk| format!("-m u32 --u32 \"{}\"", chunk.join("&&"))).collect();
    matches.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_type_program_jumps_to_the_match_from_each_test() {
        assert_eq!(link_type_program(&[LinkType::None, LinkType::Ppp]), "5,32 0 0 4294963228,21 2 0 65534,21 1 0 512,6 0 0 0,6 0 0 1");
        assert_eq!(link_type_program(&[LinkType::Ether]), "4,32 0 0 4294963228,21 1 0 1,6 0 0 0,6 0 0 1");
    }

    #[test]
    fn the_sending_interfaces_type_is_checked_in_postrouting_only() {
        let t = [LinkType::None];
        assert!(link_type(&t, Some(Hook::Postrouting), true).is_some());
        assert!(link_type(&t, Some(Hook::Output), true).is_none());
        assert!(link_type(&t, Some(Hook::Forward), true).is_none());
        assert!(link_type(&t, Some(Hook::Input), false).is_some());
        assert!(link_type(&t, Some(Hook::Forward), false).is_some());
        assert!(link_type(&t, None, true).is_none());
    }

    #[test]
    fn a_report_of_many_records_is_split_into_u32_matches_of_ten_tests() {
        let one = solicited_node_report(1);
        assert_eq!(one.matches("-m u32").count(), 1, "ten tests fit one: {one}");
        let eight = solicited_node_report(8);
        assert_eq!(eight.matches("-m u32").count(), (5 + 5 * 8usize).div_ceil(U32_TESTS), "{eight}");
        assert!(eight.contains("4>>16=176") && eight.contains("52&0xFFFF=8") && eight.contains("212>>24=0xFF"), "{eight}");
        assert!(eight.split("-m u32").all(|m| m.matches("&&").count() < U32_TESTS), "{eight}");
    }
}
