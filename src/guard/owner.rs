//! The guard's own netlink socket, which it keeps open for as long as it runs: the tables it
//! creates with NFT_TABLE_F_OWNER (`flags owner`) belong to it, so no other process may delete
//! or change them, `nft flush ruleset` leaves them, and the kernel removes them when the socket
//! closes. Everything the guard loads goes through it as one nf_tables batch of messages
//! rendered by `render_netlink`: one transaction, applied whole or not at all.
//!
//! It reads the tables back too. Closing a netfilter netlink socket waits until the kernel has
//! freed what the last transaction replaced (an RCU grace period: some 10 to 15 ms), so a
//! read-back on a socket of its own, closed after it, would take that long after every load.

use crate::nft::nfnetlink::Socket;
use crate::nft::{LoadedTable, read_table_on};
use crate::render_netlink::Change;
use crate::render_nft::Layer;
use anyhow::Result;

pub struct Owner {
    socket: Socket,
}

impl Owner {
    pub fn open() -> Result<Owner> {
        Ok(Owner { socket: Socket::open()? })
    }

    /// Applies `changes` as one transaction; an error names the change the kernel refused,
    /// and then nothing of the batch was applied.
    pub fn apply(&mut self, changes: &[Change]) -> Result<()> {
        let messages: Vec<_> = changes.iter().map(|c| (&c.message, c.flags)).collect();
        self.socket.batch(&messages, |i| changes[i].what.clone())
    }

    /// One of the tables as the kernel has it, or `None` when it is not loaded.
    pub fn read(&mut self, layer: Layer) -> Result<Option<LoadedTable>> {
        read_table_on(&mut self.socket, layer)
    }
}
