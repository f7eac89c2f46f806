//! A recording [`Transport`] for unit tests: every datagram sent is kept (split into its netlink
//! messages) for the test to assert on, and each message is answered by a script (a closure), so
//! clients run their real request/answer logic without a socket or root.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use super::Transport;

/// `NLM_F_ACK`: the sender wants the kernel's ACK or errno for this message.
pub const NLM_F_ACK: u16 = 0x4;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_MULTI: u16 = 0x2;
const HEADER_LEN: usize = 16;

/// One netlink message a client sent, as the kernel would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    /// The whole message, header included (for parsers that want it all).
    pub bytes: Vec<u8>,
}

impl Sent {
    /// What follows the 16-byte header.
    pub fn payload(&self) -> &[u8] {
        &self.bytes[HEADER_LEN..]
    }
}

/// Splits a datagram into its messages (`NLMSG_ALIGN`ed, as the kernel walks them).
pub fn split(datagram: &[u8]) -> Vec<Sent> {
    let mut out = Vec::new();
    let mut off = 0;
    while datagram.len().saturating_sub(off) >= HEADER_LEN {
        let word = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&datagram[off + at..off + at + 4]);
            u32::from_ne_bytes(b)
        };
        let len = (word(0) as usize).clamp(HEADER_LEN, datagram.len() - off);
        out.push(Sent {
            ty: (word(4) & 0xffff) as u16,
            flags: (word(4) >> 16) as u16,
            seq: word(8),
            bytes: datagram[off..off + len].to_vec(),
        });
        off += (len + 3) & !3;
    }
    out
}

/// A netlink message of type `ty` carrying `payload` (padded to 4 bytes).
pub fn message(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = HEADER_LEN + payload.len();
    let mut m = Vec::with_capacity((len + 3) & !3);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(payload);
    m.resize((len + 3) & !3, 0);
    m
}

/// The kernel's answer to `sent`: an ACK (`errno` 0) or a refusal with `errno` (positive), in
/// the capped form (`NETLINK_CAP_ACK`: only the request's header echoed).
pub fn error_reply(sent: &Sent, errno: i32) -> Vec<u8> {
    let mut payload = (-errno).to_ne_bytes().to_vec();
    payload.extend_from_slice(&sent.bytes[..HEADER_LEN]);
    message(NLMSG_ERROR, 0, sent.seq, &payload)
}

/// One answer of a dump (`NLM_F_MULTI`), `payload` after the header.
pub fn dump_reply(sent: &Sent, ty: u16, payload: &[u8]) -> Vec<u8> {
    message(ty, NLM_F_MULTI, sent.seq, payload)
}

/// The end of a dump.
pub fn done_reply(sent: &Sent) -> Vec<u8> {
    message(NLMSG_DONE, NLM_F_MULTI, sent.seq, &0i32.to_ne_bytes())
}

/// The script: the messages (whole, header included) answering one message sent.
pub type Script = Box<dyn FnMut(&Sent) -> Vec<Vec<u8>> + Send>;

/// What a [`FakeTransport`] recorded; cloned handles see the same record, so a test keeps one
/// while the client owns the transport.
#[derive(Debug, Clone, Default)]
pub struct Record(Arc<Mutex<Vec<Vec<u8>>>>);

impl Record {
    /// Every datagram sent, in order.
    pub fn datagrams(&self) -> Vec<Vec<u8>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every message sent, in order, across datagrams.
    pub fn sent(&self) -> Vec<Sent> {
        self.datagrams().iter().flat_map(|d| split(d)).collect()
    }
}

/// The recording fake. Answers to one datagram are delivered as one datagram; reading with
/// nothing queued fails with `WouldBlock`, as a timed-out or non-blocking socket does.
pub struct FakeTransport {
    record: Record,
    queued: VecDeque<Vec<u8>>,
    script: Script,
}

impl fmt::Debug for FakeTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeTransport")
            .field("record", &self.record)
            .field("queued", &self.queued.len())
            .finish()
    }
}

impl FakeTransport {
    /// A fake answering each message with what `script` returns; the [`Record`] sees what was
    /// sent.
    pub fn new(script: impl FnMut(&Sent) -> Vec<Vec<u8>> + Send + 'static) -> (Self, Record) {
        let record = Record::default();
        let fake = FakeTransport {
            record: record.clone(),
            queued: VecDeque::new(),
            script: Box::new(script),
        };
        (fake, record)
    }
}

/// The default kernel of the scripts: ACKs whatever asks for an ACK, says nothing otherwise.
pub fn ack_all(sent: &Sent) -> Vec<Vec<u8>> {
    if sent.flags & NLM_F_ACK != 0 {
        vec![error_reply(sent, 0)]
    } else {
        Vec::new()
    }
}

impl Transport for FakeTransport {
    fn send(&mut self, datagram: &[u8]) -> io::Result<usize> {
        self.record
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(datagram.to_vec());
        let answer: Vec<u8> = split(datagram)
            .iter()
            .flat_map(|m| (self.script)(m))
            .flatten()
            .collect();
        if !answer.is_empty() {
            self.queued.push_back(answer);
        }
        Ok(datagram.len())
    }

    fn recv(&mut self) -> io::Result<Vec<u8>> {
        self.queued
            .pop_front()
            .ok_or_else(|| io::ErrorKind::WouldBlock.into())
    }

    fn set_non_blocking(&mut self, _non_blocking: bool) -> io::Result<()> {
        Ok(())
    }
}
