//! The guard's open control connections, read without ever waiting for one.
//!
//! The guard has one thread: while it waited for a client's request, it restored nothing. So a
//! connection is accepted non-blocking and joins the guard's poll; each wakeup reads what has
//! arrived, and a request is handled once its line is complete. A client that sends nothing,
//! or half a line, keeps its connection until its deadline and delays nobody: not the
//! restoration of a flushed ruleset, not the legacy read-back, not other clients. The number
//! of connections waiting at once is bounded, as is a request's length.

use super::control::{self, Request};
use anyhow::{Result, anyhow, bail};
use nix::poll::{PollFd, PollFlags};
use std::io::{ErrorKind, Read};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

/// How long a client may take to send its request (`ask` sends it at once).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections waiting for their request at once; more are answered that the guard is busy.
const MOST_WAITING: usize = 32;
/// The longest request: a start names two paths.
const LONGEST_REQUEST: usize = 64 * 1024;

/// Connections accepted whose request is not complete yet.
#[derive(Default)]
pub struct Connections {
    waiting: Vec<Waiting>,
}

struct Waiting {
    stream: UnixStream,
    received: Vec<u8>,
    deadline: Instant,
}

/// A connection and what it asked, or why it cannot be served.
pub type Received = (UnixStream, Result<Request>);

impl Connections {
    /// What to poll: each waiting connection, in order, for input.
    pub fn poll_fds(&self) -> impl Iterator<Item = PollFd<'_>> {
        self.waiting.iter().map(|w| PollFd::new(w.stream.as_fd(), PollFlags::POLLIN))
    }

    /// How long until the first deadline, `None` with no connection waiting.
    pub fn until_deadline(&self) -> Option<Duration> {
        self.waiting.iter().map(|w| w.deadline.saturating_duration_since(Instant::now())).min()
    }

    /// Accepts the connections waiting at `listener`. Those that cannot wait (not root, too
    /// many) come back at once with their error, to be answered.
    pub fn accept(&mut self, listener: &UnixListener) -> Vec<Received> {
        let mut refused = Vec::new();
        // At most as many as may wait: a flood of connections leaves the rest in the backlog
        // for the next round, after the notices.
        for _ in 0..MOST_WAITING {
            let Ok((stream, _)) = listener.accept() else { break };
            match self.admit(&stream) {
                Ok(()) => self.waiting.push(Waiting { stream, received: Vec::new(), deadline: Instant::now() + REQUEST_TIMEOUT }),
                Err(e) => refused.push((stream, Err(e))),
            }
        }
        refused
    }

    /// Whether a new connection may wait for its request.
    fn admit(&self, stream: &UnixStream) -> Result<()> {
        stream.set_nonblocking(true)?;
        control::check_peer(stream)?;
        if self.waiting.len() >= MOST_WAITING {
            bail!("{MOST_WAITING} connections already wait for their request to arrive; try again");
        }
        Ok(())
    }

    /// Reads the connections `readable` says have input (in the order of `poll_fds`, as they
    /// were polled); returns the complete requests, and the connections that failed or passed
    /// their deadline with their error.
    pub fn receive(&mut self, readable: &[bool]) -> Vec<Received> {
        let now = Instant::now();
        let mut done = Vec::new();
        let ready = readable.iter().copied().chain(std::iter::repeat(false));
        for (mut waiting, ready) in std::mem::take(&mut self.waiting).into_iter().zip(ready) {
            match if ready { waiting.read() } else { Ok(None) } {
                Ok(None) if now < waiting.deadline => self.waiting.push(waiting),
                Ok(None) => done.push((waiting.stream, Err(anyhow!("no request within {} s", REQUEST_TIMEOUT.as_secs())))),
                Ok(Some(request)) => done.push((waiting.stream, Ok(request))),
                Err(e) => done.push((waiting.stream, Err(e.context("cannot read a request")))),
            }
        }
        done
    }
}

impl Waiting {
    /// Reads what has arrived: the request once its line is complete.
    fn read(&mut self) -> Result<Option<Request>> {
        let mut buffer = [0u8; 4096];
        loop {
            match self.stream.read(&mut buffer) {
                // A last line without its newline is a request too.
                Ok(0) if !self.received.is_empty() => return control::parse(&self.received).map(Some),
                Ok(0) => bail!("the client closed the connection without a request"),
                Ok(n) => self.received.extend_from_slice(&buffer[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            if let Some(end) = self.received.iter().position(|b| *b == b'\n') {
                return control::parse(&self.received[..end]).map(Some);
            }
            if self.received.len() > LONGEST_REQUEST {
                bail!("a request longer than {LONGEST_REQUEST} bytes");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn waiting(stream: UnixStream, deadline: Instant) -> Waiting {
        stream.set_nonblocking(true).unwrap();
        Waiting { stream, received: Vec::new(), deadline }
    }

    #[test]
    fn a_request_is_read_as_it_arrives_without_waiting_for_it() {
        let (mut client, guard_end) = UnixStream::pair().unwrap();
        let mut w = waiting(guard_end, Instant::now() + REQUEST_TIMEOUT);
        assert!(w.read().unwrap().is_none(), "nothing sent yet");
        client.write_all(b"{\"command\": ").unwrap();
        assert!(w.read().unwrap().is_none(), "half a line");
        client.write_all(b"\"status\"}\n").unwrap();
        assert_eq!(w.read().unwrap(), Some(Request::Status));
    }

    #[test]
    fn a_closed_connection_ends_its_request_or_fails() {
        let (mut client, guard_end) = UnixStream::pair().unwrap();
        client.write_all(b"{\"command\": \"flush\"}").unwrap();
        drop(client);
        assert_eq!(waiting(guard_end, Instant::now()).read().unwrap(), Some(Request::Flush), "a last line without its newline");
        let (client, guard_end) = UnixStream::pair().unwrap();
        drop(client);
        assert!(waiting(guard_end, Instant::now()).read().is_err(), "closed without a request");
    }

    #[test]
    fn an_endless_request_is_refused() {
        let (client, guard_end) = UnixStream::pair().unwrap();
        let mut w = waiting(guard_end, Instant::now() + REQUEST_TIMEOUT);
        let sending = std::thread::spawn(move || {
            let _ = (&client).write_all(&vec![b'x'; LONGEST_REQUEST + 4096]);
        });
        let refused = std::iter::repeat_with(|| w.read()).find(|r| !matches!(r, Ok(None))).unwrap();
        assert!(refused.unwrap_err().to_string().contains("longer than"));
        drop(w);
        sending.join().unwrap();
    }

    #[test]
    fn a_connection_past_its_deadline_is_dropped_and_the_others_wait() {
        let (_silent, late) = UnixStream::pair().unwrap();
        let (_patient, early) = UnixStream::pair().unwrap();
        let mut connections = Connections::default();
        connections.waiting.push(waiting(late, Instant::now()));
        connections.waiting.push(waiting(early, Instant::now() + REQUEST_TIMEOUT));
        assert_eq!(connections.until_deadline(), Some(Duration::ZERO));
        let done = connections.receive(&[false, false]);
        assert_eq!(done.len(), 1);
        assert!(done[0].1.as_ref().unwrap_err().to_string().contains("no request within"));
        assert_eq!(connections.waiting.len(), 1);
        assert!(connections.until_deadline().is_some_and(|d| d > Duration::from_secs(4)));
    }
}
