//! Netlink attributes as nf_tables takes them: type-length-value, each padded to 4 bytes,
//! nested ones flagged `NLA_F_NESTED` (as libnftnl sends them), numbers in network byte order
//! unless an expression's data says otherwise. And the user data libnftnl attaches to tables,
//! rules and sets: entries of one byte of type and one of length.

use crate::nft::nfnetlink::align;

/// NLA_F_NESTED, set on every attribute that holds attributes.
const NLA_F_NESTED: u16 = 0x8000;

/// A list of attributes, built in the order nft sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs(pub Vec<u8>);

impl Attrs {
    pub fn new() -> Attrs {
        Attrs::default()
    }

    pub fn bytes(mut self, kind: u16, value: &[u8]) -> Attrs {
        let len = u16::try_from(4 + value.len()).expect("a netlink attribute holds at most 64 KiB");
        self.0.extend(len.to_ne_bytes());
        self.0.extend(kind.to_ne_bytes());
        self.0.extend(value);
        self.0.resize(align(self.0.len()), 0);
        self
    }

    pub fn u32(self, kind: u16, value: u32) -> Attrs {
        self.bytes(kind, &value.to_be_bytes())
    }

    pub fn u64(self, kind: u16, value: u64) -> Attrs {
        self.bytes(kind, &value.to_be_bytes())
    }

    /// A string with its terminating NUL.
    pub fn string(self, kind: u16, value: &str) -> Attrs {
        self.bytes(kind, &[value.as_bytes(), &[0]].concat())
    }

    /// A string without a terminating NUL, as libnftnl sends some (the kernel takes both).
    pub fn unterminated(self, kind: u16, value: &str) -> Attrs {
        self.bytes(kind, value.as_bytes())
    }

    /// The attributes of `more` after these.
    pub fn append(mut self, more: Attrs) -> Attrs {
        self.0.extend(more.0);
        self
    }

    pub fn nested(self, kind: u16, inner: Attrs) -> Attrs {
        self.bytes(kind | NLA_F_NESTED, &inner.0)
    }
}

/// User data: libnftnl's `nftnl_udata` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Udata(pub Vec<u8>);

impl Udata {
    pub fn new() -> Udata {
        Udata::default()
    }

    pub fn bytes(mut self, kind: u8, value: &[u8]) -> Udata {
        self.0.push(kind);
        self.0.push(u8::try_from(value.len()).expect("a user data entry holds at most 255 bytes"));
        self.0.extend(value);
        self
    }

    /// A number as nft stores it in user data: 32 bits in host byte order.
    pub fn u32(self, kind: u8, value: u32) -> Udata {
        self.bytes(kind, &value.to_ne_bytes())
    }

    pub fn nested(self, kind: u8, inner: Udata) -> Udata {
        self.bytes(kind, &inner.0)
    }

    /// A comment with its terminating NUL (type 0 for tables and rules alike).
    pub fn comment(text: &str) -> Udata {
        Udata::new().bytes(0, &[text.as_bytes(), &[0]].concat())
    }
}
