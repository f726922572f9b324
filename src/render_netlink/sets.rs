//! Sets as nft sends them: their key type (nft's datatype numbers, concatenations of them),
//! flags, elements and the user data nft keeps in them to print them again (the key's byte
//! order and, for anonymous sets, the expression they are looked up with: `typeof`).
//!
//! An interval set holds each interval as two elements: its start, and the first key past it
//! flagged NFT_SET_ELEM_INTERVAL_END (none when the interval reaches the end of the key
//! space). As nft does, a set whose first interval does not start at zero begins with an end
//! element of key zero, and an anonymous set's intervals are merged where they touch.

use super::attrs::Udata;

pub const SET_ANONYMOUS: u32 = 0x1;
pub const SET_CONSTANT: u32 = 0x2;
pub const SET_INTERVAL: u32 = 0x4;

/// nft's datatypes (`enum datatypes`), which the kernel keeps for nft as the set's key type.
pub const TYPE_INTEGER: u32 = 4;
pub const TYPE_IPADDR: u32 = 7;
pub const TYPE_IP6ADDR: u32 = 8;
pub const TYPE_INET_PROTOCOL: u32 = 12;
pub const TYPE_INET_SERVICE: u32 = 13;
pub const TYPE_ICMP_TYPE: u32 = 14;
pub const TYPE_ARPHRD: u32 = 21;
pub const TYPE_ICMP6_TYPE: u32 = 29;
pub const TYPE_FIB_ADDR: u32 = 38;
/// How nft numbers a concatenation of types: each shifted in by 6 bits.
const TYPE_BITS: u32 = 6;

/// The byte order nft records for a key (`enum byteorder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// A concatenation: each part has its own.
    Mixed = 0,
    Host = 1,
    Network = 2,
}

/// The expression a set's keys come from, as nft records it (`typeof`) to print the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOf {
    /// A header field: nft's protocol description and its template number.
    Field {
        desc: u32,
        field: u32,
    },
    /// Raw payload (`@ih,OFFSET,LENGTH`): nft's base, offset and length in bits.
    Raw {
        base: u32,
        offset: u32,
        bits: u32,
    },
    Meta(u32),
    CtOriginal(u32),
    /// `fib FLAGS type`.
    Fib(u32),
}

/// nft's protocol descriptions and header fields that sets are keyed by.
pub const DESC_ICMP: u32 = 4;
pub const DESC_TH: u32 = 11;
pub const DESC_IP: u32 = 12;
pub const DESC_IP6: u32 = 13;
pub const DESC_ICMP6: u32 = 14;
pub const TH_SPORT: u32 = 1;
pub const TH_DPORT: u32 = 2;
pub const ICMP_TYPE_FIELD: u32 = 1;
pub const IP_SADDR: u32 = 11;
pub const IP_DADDR: u32 = 12;
pub const IP6_SADDR: u32 = 8;
pub const IP6_DADDR: u32 = 9;
/// nft's base of inner-header payload (`PROTO_BASE_INNER_HDR`).
pub const RAW_INNER: u32 = 4;

/// The user data entries of a set (libnftnl's NFTNL_UDATA_SET_*).
const UDATA_KEYBYTEORDER: u8 = 0;
const UDATA_MERGE_ELEMENTS: u8 = 2;
const UDATA_KEY_TYPEOF: u8 = 3;

/// nft's expression types in `typeof` user data.
const EXPR_PAYLOAD: u32 = 7;
const EXPR_META: u32 = 9;
const EXPR_CT: u32 = 12;
const EXPR_CONCAT: u32 = 13;
const EXPR_FIB: u32 = 26;

/// A set to create: its key, its flags and its elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSpec {
    pub flags: u32,
    pub key_type: u32,
    pub key_len: u32,
    pub udata: Udata,
    pub elements: Vec<Element>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub key: Vec<u8>,
    /// NFT_SET_ELEM_INTERVAL_END: the first key past an interval.
    pub end: bool,
}

/// The key type of a concatenation of `types`.
pub fn concat_type(types: &[u32]) -> u32 {
    types.iter().fold(0, |acc, t| (acc << TYPE_BITS) | t)
}

/// The user data of a named set declared with `type`: its key's byte order, and for a
/// concatenation an empty `typeof` of a concatenation.
pub fn named_udata(order: ByteOrder) -> Udata {
    let udata = Udata::new().u32(UDATA_KEYBYTEORDER, order as u32);
    match order {
        ByteOrder::Mixed => udata.nested(UDATA_KEY_TYPEOF, Udata::new().u32(0, EXPR_CONCAT).nested(1, Udata::new())),
        _ => udata,
    }
}

/// An anonymous set of single keys, looked up with the expression `key_of`.
pub fn anonymous(key_type: u32, key_len: u32, order: ByteOrder, key_of: KeyOf, keys: Vec<Vec<u8>>) -> SetSpec {
    let udata = Udata::new().u32(UDATA_KEYBYTEORDER, order as u32).nested(UDATA_KEY_TYPEOF, typeof_udata(key_of));
    let elements = keys.into_iter().map(|key| Element { key, end: false }).collect();
    SetSpec { flags: SET_ANONYMOUS | SET_CONSTANT, key_type, key_len, udata, elements }
}

/// An anonymous interval set of inclusive ranges of network-order keys, which must not overlap.
pub fn anonymous_intervals(key_type: u32, key_len: u32, key_of: KeyOf, ranges: Vec<(Vec<u8>, Vec<u8>)>) -> SetSpec {
    let udata = Udata::new().u32(UDATA_KEYBYTEORDER, ByteOrder::Network as u32).u32(UDATA_MERGE_ELEMENTS, 1).nested(UDATA_KEY_TYPEOF, typeof_udata(key_of));
    SetSpec { flags: SET_ANONYMOUS | SET_CONSTANT | SET_INTERVAL, key_type, key_len, udata, elements: intervals(ranges, true) }
}

fn typeof_udata(key_of: KeyOf) -> Udata {
    let (expr, data) = match key_of {
        KeyOf::Field { desc, field } => (EXPR_PAYLOAD, Udata::new().u32(0, desc).u32(1, field)),
        KeyOf::Raw { base, offset, bits } => (EXPR_PAYLOAD, Udata::new().u32(0, 0).u32(1, 0).u32(2, base).u32(3, offset).u32(4, bits)),
        KeyOf::Meta(key) => (EXPR_META, Udata::new().u32(0, key)),
        KeyOf::CtOriginal(key) => (EXPR_CT, Udata::new().u32(0, key).u32(1, 0)),
        KeyOf::Fib(flags) => (EXPR_FIB, Udata::new().u32(0, super::expr::FIB_ADDRTYPE).u32(1, flags)),
    };
    Udata::new().u32(0, expr).nested(1, data)
}

/// The elements of an interval set of inclusive ranges (keys in network byte order, so that
/// they sort as numbers), as nft sends them: sorted, each range a start and an end element,
/// an end element of key zero first when the first range starts above zero. With `merge`
/// (anonymous sets, which nft merges), overlapping and adjacent ranges become one; without, a
/// range that ends right before the next has its end element at the next one's start.
pub fn intervals(mut ranges: Vec<(Vec<u8>, Vec<u8>)>, merge: bool) -> Vec<Element> {
    ranges.sort();
    if merge {
        ranges = ranges.into_iter().fold(Vec::new(), |mut merged: Vec<(Vec<u8>, Vec<u8>)>, (low, high)| {
            match merged.last_mut() {
                Some((_, end)) if successor(end).is_none_or(|past| low <= past) => *end = high.max(end.clone()),
                _ => merged.push((low, high)),
            }
            merged
        });
    }
    let mut elements = Vec::new();
    if let Some((first, _)) = ranges.first() {
        if first.iter().any(|b| *b != 0) {
            elements.push(Element { key: vec![0; first.len()], end: true });
        }
    }
    for (low, high) in ranges {
        elements.push(Element { key: low, end: false });
        if let Some(past) = successor(&high) {
            elements.push(Element { key: past, end: true });
        }
    }
    elements
}

/// The key after `key`, a big-endian number; `None` past the largest.
fn successor(key: &[u8]) -> Option<Vec<u8>> {
    let mut next = key.to_vec();
    for byte in next.iter_mut().rev() {
        let (sum, carry) = byte.overflowing_add(1);
        *byte = sum;
        if !carry {
            return Some(next);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(elements: &[Element]) -> Vec<(Vec<u8>, bool)> {
        elements.iter().map(|e| (e.key.clone(), e.end)).collect()
    }

    #[test]
    fn intervals_start_with_an_end_at_zero_and_end_past_each_range() {
        let ranges = vec![(vec![0, 80], vec![0, 81]), (vec![0, 22], vec![0, 22])];
        let want = vec![(vec![0, 0], true), (vec![0, 22], false), (vec![0, 23], true), (vec![0, 80], false), (vec![0, 82], true)];
        assert_eq!(keys(&intervals(ranges.clone(), false)), want);
        assert_eq!(keys(&intervals(ranges, true)), want);
    }

    #[test]
    fn an_interval_from_zero_or_to_the_end_has_no_end_element_there() {
        let ranges = vec![(vec![0, 0], vec![0, 9]), (vec![0xff, 0], vec![0xff, 0xff])];
        assert_eq!(keys(&intervals(ranges, false)), vec![(vec![0, 0], false), (vec![0, 10], true), (vec![0xff, 0], false)]);
    }

    #[test]
    fn adjacent_ranges_are_merged_only_in_anonymous_sets() {
        let ranges = vec![(vec![1], vec![4]), (vec![5], vec![6]), (vec![6], vec![7]), (vec![9], vec![0xff])];
        let merged = vec![(vec![0], true), (vec![1], false), (vec![8], true), (vec![9], false)];
        assert_eq!(keys(&intervals(ranges, true)), merged);
        let apart = vec![(vec![0], true), (vec![1], false), (vec![5], true), (vec![5], false), (vec![7], true)];
        assert_eq!(keys(&intervals(vec![(vec![1], vec![4]), (vec![5], vec![6])], false)), apart, "as nft sends a named set");
    }

    #[test]
    fn concatenated_types_shift_six_bits_each() {
        assert_eq!(concat_type(&[TYPE_IPADDR, TYPE_INET_PROTOCOL, TYPE_INET_SERVICE]), 0x730d);
        assert_eq!(concat_type(&[TYPE_IP6ADDR, TYPE_INET_PROTOCOL, TYPE_INET_SERVICE]), 0x830d);
    }
}
