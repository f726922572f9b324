//! nf_tables expressions, encoded attribute by attribute in the order libnftnl writes them.
//! The numbers are kernel ABI (linux/netfilter/nf_tables.h).

use super::attrs::Attrs;

/// NFT_REG_VERDICT and NFT_REG_1: where nft puts a verdict, and the value of a match.
pub const REG_VERDICT: u32 = 0;
pub const REG_1: u32 = 1;

pub const PAYLOAD_NETWORK: u32 = 1;
pub const PAYLOAD_TRANSPORT: u32 = 2;
pub const PAYLOAD_INNER: u32 = 3;

pub const META_IIFNAME: u32 = 6;
pub const META_OIFNAME: u32 = 7;
pub const META_IIFTYPE: u32 = 8;
pub const META_OIFTYPE: u32 = 9;
pub const META_SKUID: u32 = 10;
pub const META_SKGID: u32 = 11;
pub const META_MARK: u32 = 3;
pub const META_NFPROTO: u32 = 15;
pub const META_L4PROTO: u32 = 16;

pub const CT_STATE: u32 = 0;
pub const CT_DIRECTION: u32 = 1;
pub const CT_STATUS: u32 = 2;
pub const CT_PROTO_DST: u32 = 12;

pub const FIB_SADDR: u32 = 1;
pub const FIB_DADDR: u32 = 2;
pub const FIB_IIF: u32 = 8;
/// NFT_FIB_RESULT_ADDRTYPE: the route type (RTN_*) of the address.
pub const FIB_ADDRTYPE: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq = 0,
    Neq = 1,
    Lte = 3,
    Gte = 5,
}

/// A verdict of an `immediate` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    Goto(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Meta {
        key: u32,
        dreg: u32,
    },
    Payload {
        base: u32,
        offset: u32,
        len: u32,
        dreg: u32,
    },
    Cmp {
        op: CmpOp,
        data: Vec<u8>,
    },
    /// `reg = (reg & mask) ^ 0`; `explicit` for a `&` the text wrote, which libnftnl sends
    /// with its operation (NFT_BITWISE_BOOL), unlike the mask of a flag match.
    Bitwise {
        mask: Vec<u8>,
        explicit: bool,
    },
    Lookup {
        set: String,
        id: u32,
        invert: bool,
    },
    Ct {
        key: u32,
        original: bool,
    },
    Fib {
        flags: u32,
    },
    /// `exthdr NAME exists` of IPv6: whether the packet has the extension header `kind`.
    Ipv6ExthdrExists {
        kind: u8,
    },
    Verdict(Verdict),
    /// Data into register 1 (the address of a NAT rule).
    Immediate(Vec<u8>),
    Counter(String),
    Limit {
        rate: u64,
        unit: u64,
    },
    Log(String),
    /// `reject with icmpx admin-prohibited`.
    RejectAdminProhibited,
    Dnat {
        family: u32,
    },
    Masquerade,
}

fn value(data: &[u8]) -> Attrs {
    Attrs::new().bytes(1, data)
}

impl Expr {
    /// The expression as one element of a rule's NFTA_RULE_EXPRESSIONS (its data nested even
    /// when empty, as libnftnl sends `masq`).
    pub fn encode(&self) -> Attrs {
        let (name, data) = self.name_and_data();
        Attrs::new().nested(1, Attrs::new().string(1, name).nested(2, data))
    }

    fn name_and_data(&self) -> (&'static str, Attrs) {
        let a = Attrs::new();
        match self {
            Expr::Meta { key, dreg } => ("meta", a.u32(2, *key).u32(1, *dreg)),
            Expr::Payload { base, offset, len, dreg } => ("payload", a.u32(1, *dreg).u32(2, *base).u32(3, *offset).u32(4, *len)),
            Expr::Cmp { op, data } => ("cmp", a.u32(1, REG_1).u32(2, *op as u32).nested(3, value(data))),
            Expr::Bitwise { mask, explicit } => {
                let a = a.u32(1, REG_1).u32(2, REG_1);
                let a = if *explicit { a.u32(6, 0) } else { a };
                let len = u32::try_from(mask.len()).expect("a short mask");
                ("bitwise", a.u32(3, len).nested(4, value(mask)).nested(5, value(&vec![0; mask.len()])))
            }
            Expr::Lookup { set, id, invert } => {
                let a = a.u32(2, REG_1).string(1, set).u32(4, *id);
                ("lookup", if *invert { a.u32(5, 1) } else { a })
            }
            Expr::Ct { key, original } => {
                let a = a.u32(2, *key).u32(1, REG_1);
                ("ct", if *original { a.bytes(3, &[0]) } else { a })
            }
            Expr::Fib { flags } => ("fib", a.u32(3, *flags).u32(2, FIB_ADDRTYPE).u32(1, REG_1)),
            Expr::Ipv6ExthdrExists { kind } => ("exthdr", a.u32(1, REG_1).bytes(2, &[*kind]).u32(3, 0).u32(4, 1).u32(6, 0).u32(5, 1)),
            Expr::Verdict(v) => {
                let verdict = match v {
                    Verdict::Accept => Attrs::new().u32(1, 1),
                    Verdict::Drop => Attrs::new().u32(1, 0),
                    Verdict::Goto(chain) => Attrs::new().u32(1, (-4i32) as u32).string(2, chain),
                };
                ("immediate", a.u32(1, REG_VERDICT).nested(2, Attrs::new().nested(2, verdict)))
            }
            Expr::Immediate(data) => ("immediate", a.u32(1, REG_1).nested(2, value(data))),
            Expr::Counter(name) => ("objref", a.u32(1, 1).unterminated(2, name)),
            Expr::Limit { rate, unit } => ("limit", a.u64(1, *rate).u64(2, *unit).u32(3, 5).u32(4, 0).u32(5, 0)),
            Expr::Log(prefix) => ("log", a.string(2, prefix)),
            Expr::RejectAdminProhibited => ("reject", a.u32(1, 2).bytes(2, &[3])),
            Expr::Dnat { family } => ("nat", a.u32(1, 1).u32(2, *family).u32(3, REG_1)),
            Expr::Masquerade => ("masq", a),
        }
    }
}
