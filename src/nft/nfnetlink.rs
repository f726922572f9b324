//! A netfilter netlink socket (NETLINK_NETFILTER): requests, dumps and multicast notifications,
//! framed by netlink-packet-core and sent through netlink-sys. What a message means (nf_tables
//! attributes) is the caller's business; this layer only numbers requests and checks that every
//! reply answers the request it waits for.
//!
//! - [`Socket::request`] sends one message with `NLM_F_ACK` and returns the kernel's replies up
//!   to its acknowledgement; [`Socket::dump`] sends a dump request and returns every part of it,
//!   started again when a change of the ruleset interrupted it.
//! - Each request gets the next sequence number. A unicast reply must come from the kernel (port
//!   0), carry this socket's port id and the request's sequence number; anything else fails the
//!   request (a reply left over from an earlier exchange means the socket is out of step: open
//!   a new one).
//! - [`Socket::subscribe`] joins a multicast group (such as [`NFNLGRP_NFTABLES`]: every change
//!   of the nf_tables ruleset); [`Socket::recv`] returns the next notification. Notifications
//!   that arrive while a request waits for its replies are kept for `recv`, never lost. Their
//!   header names the port id of the socket whose request made the change, so a listener can
//!   tell its own changes from others'. When the kernel could not queue notifications (the
//!   receive buffer was full), `recv` fails with ENOBUFS: what was missed must be read again.
//!
//! A batch (NFNL_MSG_BATCH_BEGIN, the messages, NFNL_MSG_BATCH_END, in one datagram: what a
//! change of the ruleset needs) extends `exchange`: several messages, each with its own sequence
//! number, and `Replies` waiting for the acknowledgement of each.
//!
//! The numbers are kernel ABI (linux/netfilter/nfnetlink.h).

use anyhow::{Context, Result, bail};
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkBuffer, NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    NetlinkSerializable,
};
use netlink_sys::{Socket as NetlinkSocket, SocketAddr, protocols::NETLINK_NETFILTER};
use nix::errno::Errno;
use nix::sys::socket::{setsockopt, sockopt};
use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd};

/// The nf_tables subsystem of nfnetlink.
pub const NFNL_SUBSYS_NFTABLES: u8 = 10;
/// The multicast group of nf_tables change notifications.
pub const NFNLGRP_NFTABLES: u32 = 7;
/// The size of struct nfgenmsg, which starts every nfnetlink message's payload.
const NFGENMSG_LEN: usize = 4;
/// NFNL_MSG_BATCH_BEGIN and NFNL_MSG_BATCH_END, which frame a batch.
const NFNL_MSG_BATCH_BEGIN: u8 = 0x10;
const NFNL_MSG_BATCH_END: u8 = 0x11;
/// What the kernel's answer to one message of a batch may take of a receive buffer: an
/// acknowledgement is small, but each is a datagram of its own.
const ANSWER_SIZE: usize = 2048;
/// How often a dump that a concurrent change interrupted is started again.
const DUMP_ATTEMPTS: usize = 10;
/// Big enough for any datagram the kernel sends: a dump part fills at most 32 KiB.
const RECEIVE_BUFFER: usize = 1 << 16;

/// One nfnetlink message: its type within a subsystem, struct nfgenmsg, and its attributes as
/// they are on the wire (type-length-value, each padded to 4 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subsystem: u8,
    /// The message type within the subsystem (`NFT_MSG_*` for nf_tables).
    pub kind: u8,
    /// The protocol family (`NFPROTO_*`).
    pub family: u8,
    /// `res_id`: in nf_tables replies and notifications, the low 16 bits of the ruleset's
    /// generation; in a batch's begin message, the subsystem the batch is for.
    pub resource: u16,
    pub attributes: Vec<u8>,
}

impl Message {
    pub fn new(subsystem: u8, kind: u8, family: u8) -> Message {
        Message { subsystem, kind, family, resource: 0, attributes: Vec::new() }
    }

    /// Appends an attribute.
    pub fn with_attribute(mut self, kind: u16, value: &[u8]) -> Message {
        let len = u16::try_from(4 + value.len()).expect("a netlink attribute holds at most 64 KiB");
        self.attributes.extend(len.to_ne_bytes());
        self.attributes.extend(kind.to_ne_bytes());
        self.attributes.extend(value);
        self.attributes.resize(align(self.attributes.len()), 0);
        self
    }
}

impl NetlinkSerializable for Message {
    fn message_type(&self) -> u16 {
        u16::from(self.subsystem) << 8 | u16::from(self.kind)
    }

    fn buffer_len(&self) -> usize {
        NFGENMSG_LEN + self.attributes.len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        buffer[0] = self.family;
        buffer[1] = 0; // NFNETLINK_V0
        buffer[2..4].copy_from_slice(&self.resource.to_be_bytes());
        buffer[NFGENMSG_LEN..].copy_from_slice(&self.attributes);
    }
}

impl NetlinkDeserializable for Message {
    type Error = std::io::Error;

    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> std::io::Result<Message> {
        let [family, _version, high, low, attributes @ ..] = payload else {
            return Err(std::io::Error::other(format!("a message of type {:#x} without its nfgenmsg", header.message_type)));
        };
        let [subsystem, kind] = header.message_type.to_be_bytes();
        Ok(Message { subsystem, kind, family: *family, resource: u16::from_be_bytes([*high, *low]), attributes: attributes.to_vec() })
    }
}

/// A change the kernel reported to a multicast group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The port id of the socket whose request made the change (0: the kernel itself).
    pub port: u32,
    pub message: Message,
}

/// A NETLINK_NETFILTER socket of this thread's network namespace. One request at a time: each
/// method waits for the end of its replies before it returns.
pub struct Socket {
    socket: NetlinkSocket,
    port: u32,
    sequence: u32,
    notifications: VecDeque<Notification>,
    buffer: Vec<u8>,
}

impl Socket {
    /// Opens a socket in this thread's network namespace, bound to a port id the kernel picks.
    pub fn open() -> Result<Socket> {
        let mut socket = NetlinkSocket::new(NETLINK_NETFILTER).context("cannot open a netfilter netlink socket")?;
        let port = socket.bind_auto().context("cannot bind a netfilter netlink socket")?.port_number();
        Ok(Socket { socket, port, sequence: 0, notifications: VecDeque::new(), buffer: Vec::with_capacity(RECEIVE_BUFFER) })
    }

    /// This socket's port id, as the kernel names it in replies and notifications.
    pub fn port(&self) -> u32 {
        self.port
    }

    /// Sends `message` with `NLM_F_ACK` and returns what the kernel answered before its
    /// acknowledgement (a `GET` request's object; nothing for most changes).
    pub fn request(&mut self, message: &Message) -> Result<Vec<Message>> {
        match self.exchange(message, NLM_F_ACK)? {
            Some(replies) => Ok(replies),
            None => bail!("{}: the kernel marked its reply interrupted", describe(message)),
        }
    }

    /// Sends `message` as a dump request and returns every part of the dump. A dump that a
    /// concurrent change interrupted (its parts may not fit together) is started again.
    pub fn dump(&mut self, message: &Message) -> Result<Vec<Message>> {
        for _ in 0..DUMP_ATTEMPTS {
            if let Some(parts) = self.exchange(message, NLM_F_DUMP)? {
                return Ok(parts);
            }
        }
        bail!("{}: the ruleset kept changing during the dump ({DUMP_ATTEMPTS} attempts)", describe(message))
    }

    /// Joins a multicast group: from now on, `recv` returns its notifications.
    pub fn subscribe(&mut self, group: u32) -> Result<()> {
        self.socket.add_membership(group).with_context(|| format!("cannot join the netfilter netlink multicast group {group}"))
    }

    /// Leaves a multicast group joined with `subscribe`.
    pub fn unsubscribe(&mut self, group: u32) -> Result<()> {
        self.socket.drop_membership(group).with_context(|| format!("cannot leave the netfilter netlink multicast group {group}"))
    }

    /// The next notification of the groups this socket joined, waiting for one if need be.
    pub fn recv(&mut self) -> Result<Notification> {
        loop {
            if let Some(notification) = self.notifications.pop_front() {
                return Ok(notification);
            }
            let sender = self.receive().context("cannot receive a netfilter netlink notification")?;
            if sender.multicast_groups() == 0 {
                bail!("a netfilter netlink reply arrived while no request waited for one: the socket is out of step");
            }
            queue_notifications(sender, &self.buffer, &mut self.notifications)?;
        }
    }

    /// Sends one request with the next sequence number and collects its replies; `None` when a
    /// dump was interrupted by a change.
    fn exchange(&mut self, message: &Message, flags: u16) -> Result<Option<Vec<Message>>> {
        let what = describe(message);
        self.sequence = self.sequence.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message.clone()));
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        self.socket.send_to(&bytes, &SocketAddr::new(0, 0), 0).with_context(|| what.clone())?;

        let mut replies = Replies::new(self.sequence, self.port);
        loop {
            let sender = self.receive().with_context(|| what.clone())?;
            match replies.take(sender, &self.buffer, &mut self.notifications).with_context(|| what.clone())? {
                Progress::Waiting => {}
                Progress::Complete(parts) => return Ok(Some(parts)),
                Progress::Interrupted => return Ok(None),
            }
        }
    }

    /// Sends `messages` as one batch of nf_tables (NFNL_MSG_BATCH_BEGIN, the messages, each
    /// with its flags and `NLM_F_ACK`, NFNL_MSG_BATCH_END, in one datagram): the kernel applies
    /// all of them or none. Returns when the kernel acknowledged every message; otherwise the
    /// error names the first message it refused, by `name(index)`.
    ///
    /// The kernel handles a batch within the send, so its answers are all queued when the send
    /// returns: the buffers are made big enough for the batch and an answer to each message.
    pub fn batch(&mut self, batch: &[(&Message, u16)], name: impl Fn(usize) -> String) -> Result<()> {
        let first = self.sequence.wrapping_add(1);
        let mut bytes = Vec::new();
        let mut frame = |message: &Message, flags: u16, sequence: u32| {
            let mut header = NetlinkHeader::default();
            header.flags = NLM_F_REQUEST | flags;
            header.sequence_number = sequence;
            let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message.clone()));
            packet.finalize();
            let start = bytes.len();
            bytes.resize(start + packet.buffer_len(), 0);
            packet.serialize(&mut bytes[start..]);
            bytes.resize(align(bytes.len()), 0);
        };
        let mut begin = Message::new(0, NFNL_MSG_BATCH_BEGIN, 0);
        begin.resource = u16::from(NFNL_SUBSYS_NFTABLES);
        frame(&begin, 0, first);
        for (i, (message, flags)) in batch.iter().enumerate() {
            frame(message, flags | NLM_F_ACK, first.wrapping_add(1 + i as u32));
        }
        let end_sequence = first.wrapping_add(1 + batch.len() as u32);
        let mut end = Message::new(0, NFNL_MSG_BATCH_END, 0);
        end.resource = u16::from(NFNL_SUBSYS_NFTABLES);
        frame(&end, 0, end_sequence);
        self.sequence = end_sequence;

        let answers = ANSWER_SIZE * (batch.len() + 1) + RECEIVE_BUFFER;
        let socket = self.socket.as_fd();
        for (option, size) in [(true, bytes.len() + RECEIVE_BUFFER), (false, answers)] {
            let set = if option { setsockopt(&socket, sockopt::SndBufForce, &size) } else { setsockopt(&socket, sockopt::RcvBufForce, &size) };
            set.context("cannot size the netfilter netlink socket's buffers for a batch")?;
        }
        // A refusal need not echo the refused message (up to 64 KiB of set elements).
        self.socket.set_cap_ack(true).context("cannot set NETLINK_CAP_ACK")?;
        self.socket.send_to(&bytes, &SocketAddr::new(0, 0), 0).context("cannot send an nf_tables batch")?;

        let mut answered = vec![false; batch.len()];
        let mut refused: Option<(usize, anyhow::Error)> = None;
        while answered.iter().any(|a| !a) {
            self.buffer.clear();
            let sender = match self.socket.recv_from(&mut self.buffer, libc::MSG_DONTWAIT | libc::MSG_TRUNC) {
                Ok((size, _)) if size > self.buffer.capacity() => bail!("an answer of {size} bytes to an nf_tables batch did not fit the buffer"),
                Ok((_, sender)) => sender,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e).context("cannot receive the answers to an nf_tables batch"),
            };
            if sender.multicast_groups() != 0 {
                queue_notifications(sender, &self.buffer, &mut self.notifications)?;
                continue;
            }
            for NetlinkMessage { header, payload, .. } in messages(sender, &self.buffer)? {
                let refusal = match payload {
                    NetlinkPayload::Error(error) if error.code.is_some() => Some(kernel_error(error.raw_code())),
                    _ => None,
                };
                if header.port_number != self.port {
                    bail!("an answer for port {} while a batch of port {} waits for its answers", header.port_number, self.port);
                }
                if header.sequence_number == first || header.sequence_number == end_sequence {
                    // The batch's frame itself: no message of it was applied.
                    let error = refusal.unwrap_or_else(|| anyhow::anyhow!("an unexpected answer"));
                    return Err(error.context("the kernel refused the nf_tables batch as a whole"));
                }
                let index = header.sequence_number.wrapping_sub(first).wrapping_sub(1) as usize;
                let Some(done) = answered.get_mut(index) else {
                    bail!("an answer to request {} while a batch of requests {first} to {end_sequence} waits for its answers", header.sequence_number);
                };
                *done = true;
                if let Some(error) = refusal.filter(|_| refused.as_ref().is_none_or(|(i, _)| index < *i)) {
                    refused = Some((index, error));
                }
            }
        }
        match refused {
            Some((index, error)) => Err(error.context(format!("the kernel refused {}", name(index)))),
            None if answered.iter().all(|a| *a) => Ok(()),
            None => bail!("the kernel did not answer {} of the {} messages of an nf_tables batch", answered.iter().filter(|a| !**a).count(), batch.len()),
        }
    }

    /// Receives one datagram into `buffer`; returns who sent it.
    fn receive(&mut self) -> Result<SocketAddr> {
        self.buffer.clear();
        let (size, sender) = self.socket.recv_from(&mut self.buffer, libc::MSG_TRUNC)?;
        if size > self.buffer.len() {
            bail!("a datagram of {size} bytes did not fit the {RECEIVE_BUFFER}-byte buffer");
        }
        Ok(sender)
    }
}

/// For `poll` beside other descriptors, or a receive timeout.
impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

/// Where the replies to one request stand.
#[derive(Debug, PartialEq, Eq)]
enum Progress {
    Waiting,
    Complete(Vec<Message>),
    Interrupted,
}

/// The replies to the request numbered `sequence`, collected datagram by datagram.
struct Replies {
    sequence: u32,
    port: u32,
    parts: Vec<Message>,
    interrupted: bool,
}

impl Replies {
    fn new(sequence: u32, port: u32) -> Replies {
        Replies { sequence, port, parts: Vec::new(), interrupted: false }
    }

    /// Takes in one datagram: notifications (from a multicast group) go to `notifications`;
    /// replies must answer this request, from the kernel to this socket's port.
    fn take(&mut self, sender: SocketAddr, datagram: &[u8], notifications: &mut VecDeque<Notification>) -> Result<Progress> {
        if sender.multicast_groups() != 0 {
            queue_notifications(sender, datagram, notifications)?;
            return Ok(Progress::Waiting);
        }
        for NetlinkMessage { header, payload, .. } in messages(sender, datagram)? {
            if header.sequence_number != self.sequence || header.port_number != self.port {
                bail!(
                    "a reply to request {} for port {} while request {} of port {} waits for its replies",
                    header.sequence_number,
                    header.port_number,
                    self.sequence,
                    self.port
                );
            }
            self.interrupted |= header.flags & NLM_F_DUMP_INTR != 0;
            match payload {
                NetlinkPayload::InnerMessage(message) => self.parts.push(message),
                NetlinkPayload::Done(done) if done.code != 0 => return Err(kernel_error(done.code)),
                NetlinkPayload::Error(error) if error.code.is_some() => return Err(kernel_error(error.raw_code())),
                NetlinkPayload::Done(_) | NetlinkPayload::Error(_) if self.interrupted => return Ok(Progress::Interrupted),
                NetlinkPayload::Done(_) | NetlinkPayload::Error(_) => return Ok(Progress::Complete(std::mem::take(&mut self.parts))),
                NetlinkPayload::Noop => {}
                NetlinkPayload::Overrun(_) => bail!("the kernel reported an overrun"),
                _ => bail!("a netlink message of type {:#x} this program does not know", header.message_type),
            }
        }
        Ok(Progress::Waiting)
    }
}

/// Appends the notifications of a datagram from a multicast group to `queue`.
fn queue_notifications(sender: SocketAddr, datagram: &[u8], queue: &mut VecDeque<Notification>) -> Result<()> {
    for NetlinkMessage { header, payload, .. } in messages(sender, datagram)? {
        if let NetlinkPayload::InnerMessage(message) = payload {
            queue.push_back(Notification { port: header.port_number, message });
        }
    }
    Ok(())
}

/// The messages of one datagram, which must come from the kernel.
fn messages(sender: SocketAddr, datagram: &[u8]) -> Result<Vec<NetlinkMessage<Message>>> {
    if sender.port_number() != 0 {
        bail!("a netlink message from port {} instead of the kernel", sender.port_number());
    }
    let mut messages = Vec::new();
    let mut rest = datagram;
    while !rest.is_empty() {
        let malformed = |e| anyhow::anyhow!("a malformed netlink message: {e}");
        let length = NetlinkBuffer::new_checked(rest).map_err(malformed)?.length() as usize;
        messages.push(NetlinkMessage::<Message>::deserialize(&rest[..length]).map_err(malformed)?);
        rest = rest.get(align(length)..).unwrap_or_default();
    }
    Ok(messages)
}

/// The kernel's error code (a negative errno) as an error a user can act on.
fn kernel_error(code: i32) -> anyhow::Error {
    anyhow::Error::new(Refusal(Errno::from_raw(-code)))
}

/// The kernel's answer to a request it refused; what the guard tells kernels apart by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal(pub Errno);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hint = if self.0 == Errno::EPERM { " (are you root?)" } else { "" };
        write!(f, "{}{hint}", self.0)
    }
}

impl std::error::Error for Refusal {}

fn describe(message: &Message) -> String {
    format!("netfilter netlink request (subsystem {}, message {})", message.subsystem, message.kind)
}

/// Netlink's alignment of messages and attributes: 4 bytes.
pub fn align(len: usize) -> usize {
    (len + 3) & !3
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{DoneMessage, ErrorMessage};

    const PORT: u32 = 4242;
    const KERNEL: u32 = 0;

    /// A datagram of messages framed as the kernel frames them.
    fn datagram(messages: &[(u32, u32, u16, NetlinkPayload<Message>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (sequence, port, flags, payload) in messages {
            let mut header = NetlinkHeader::default();
            header.sequence_number = *sequence;
            header.port_number = *port;
            header.flags = *flags;
            let mut packet = NetlinkMessage::new(header, payload.clone());
            packet.finalize();
            let start = out.len();
            out.resize(start + packet.buffer_len(), 0);
            packet.serialize(&mut out[start..]);
            out.resize(align(out.len()), 0);
        }
        out
    }

    fn table(name: &str) -> NetlinkPayload<Message> {
        NetlinkPayload::InnerMessage(Message::new(NFNL_SUBSYS_NFTABLES, 0, 1).with_attribute(1, name.as_bytes()))
    }

    fn done() -> NetlinkPayload<Message> {
        NetlinkPayload::Done(DoneMessage::default())
    }

    fn ack() -> NetlinkPayload<Message> {
        NetlinkPayload::Error(ErrorMessage::default())
    }

    fn take(replies: &mut Replies, sender: SocketAddr, datagram: &[u8]) -> Result<Progress> {
        replies.take(sender, datagram, &mut VecDeque::new())
    }

    #[test]
    fn a_dump_collects_its_parts_across_datagrams_up_to_done() {
        let mut replies = Replies::new(7, PORT);
        let kernel = SocketAddr::new(KERNEL, 0);
        assert_eq!(take(&mut replies, kernel, &datagram(&[(7, PORT, 2, table("a")), (7, PORT, 2, table("b"))])).unwrap(), Progress::Waiting);
        let Progress::Complete(parts) = take(&mut replies, kernel, &datagram(&[(7, PORT, 2, table("c")), (7, PORT, 2, done())])).unwrap() else {
            panic!("done ends the dump");
        };
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], Message::new(NFNL_SUBSYS_NFTABLES, 0, 1).with_attribute(1, b"c"));
    }

    #[test]
    fn a_reply_to_another_request_or_for_another_port_fails_the_request() {
        let kernel = SocketAddr::new(KERNEL, 0);
        for (sequence, port) in [(6, PORT), (8, PORT), (7, PORT + 1), (7, 0)] {
            let mut replies = Replies::new(7, PORT);
            let error = take(&mut replies, kernel, &datagram(&[(sequence, port, 0, table("t")), (sequence, port, 0, ack())])).unwrap_err();
            assert!(error.to_string().contains(&format!("a reply to request {sequence} for port {port}")), "{error}");
        }
        let mut replies = Replies::new(7, PORT);
        let late = datagram(&[(7, PORT, 0, table("t")), (8, PORT, 0, ack())]);
        assert!(take(&mut replies, kernel, &late).is_err(), "every message of a datagram is checked, not only the first");
    }

    #[test]
    fn a_datagram_from_another_process_is_refused() {
        let mut replies = Replies::new(7, PORT);
        let error = take(&mut replies, SocketAddr::new(999, 0), &datagram(&[(7, PORT, 0, ack())])).unwrap_err();
        assert!(error.to_string().contains("port 999 instead of the kernel"), "{error}");
    }

    #[test]
    fn notifications_that_arrive_during_a_request_are_kept_and_not_taken_for_replies() {
        let mut replies = Replies::new(7, PORT);
        let mut notifications = VecDeque::new();
        let group = SocketAddr::new(KERNEL, 1 << (NFNLGRP_NFTABLES - 1));
        let change = datagram(&[(31, 555, 0, table("changed"))]);
        assert_eq!(replies.take(group, &change, &mut notifications).unwrap(), Progress::Waiting);
        assert_eq!(notifications.len(), 1);
        assert_eq!(notifications[0].port, 555, "a notification names the port that made the change");
        let answer = datagram(&[(7, PORT, 0, table("t")), (7, PORT, 0, ack())]);
        assert!(matches!(replies.take(SocketAddr::new(KERNEL, 0), &answer, &mut notifications).unwrap(), Progress::Complete(p) if p.len() == 1));
    }

    #[test]
    fn an_interrupted_dump_and_kernel_errors_are_reported() {
        let kernel = SocketAddr::new(KERNEL, 0);
        let mut replies = Replies::new(1, PORT);
        let interrupted = datagram(&[(1, PORT, 2 | NLM_F_DUMP_INTR, table("a")), (1, PORT, 2, done())]);
        assert_eq!(take(&mut replies, kernel, &interrupted).unwrap(), Progress::Interrupted);

        let mut error = ErrorMessage::default();
        error.code = std::num::NonZeroI32::new(-libc::EPERM);
        let mut replies = Replies::new(1, PORT);
        let refused = take(&mut replies, kernel, &datagram(&[(1, PORT, 0, NetlinkPayload::Error(error))])).unwrap_err();
        assert!(refused.to_string().contains("are you root?"), "{refused}");
    }

    #[test]
    fn a_truncated_or_malformed_datagram_is_an_error_not_a_panic() {
        let first = datagram(&[(1, PORT, 0, table("abc"))]).len();
        let whole = datagram(&[(1, PORT, 0, table("abc")), (1, PORT, 0, ack())]);
        for cut in (1..whole.len()).filter(|cut| *cut != first) {
            assert!(take(&mut Replies::new(1, PORT), SocketAddr::new(KERNEL, 0), &whole[..cut]).is_err(), "{cut} bytes");
        }
        assert_eq!(take(&mut Replies::new(1, PORT), SocketAddr::new(KERNEL, 0), &whole[..first]).unwrap(), Progress::Waiting);
        let mut short = datagram(&[(1, PORT, 0, table("abc"))]);
        short[0] = 17; // a message too short for its nfgenmsg
        short.truncate(20);
        assert!(take(&mut Replies::new(1, PORT), SocketAddr::new(KERNEL, 0), &short).is_err());
    }

    #[test]
    fn a_request_is_framed_with_its_nfgenmsg_and_padded_attributes() {
        let message = Message::new(NFNL_SUBSYS_NFTABLES, 7, 1).with_attribute(1, b"vpn\0").with_attribute(2, b"a");
        assert_eq!(message.attributes, [8, 0, 1, 0, b'v', b'p', b'n', 0, 5, 0, 2, 0, b'a', 0, 0, 0]);
        let framed = datagram(&[(3, 0, NLM_F_REQUEST | NLM_F_DUMP, NetlinkPayload::InnerMessage(message.clone()))]);
        assert_eq!(&framed[4..6], &((10u16 << 8) | 7).to_ne_bytes(), "the type is subsystem << 8 | message");
        assert_eq!(&framed[16..20], &[1, 0, 0, 0], "family, version 0, resource id");
        let parsed = NetlinkMessage::<Message>::deserialize(&framed).unwrap();
        assert_eq!(parsed.payload, NetlinkPayload::InnerMessage(message));
    }
}
