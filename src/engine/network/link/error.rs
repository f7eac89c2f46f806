//! The errors of the link layer: which operation failed, and why (typed). Callers get a
//! [`NetlinkError`] (not an `io::Error` wrapping one), so the layers above carry it as a typed
//! source; [`NetlinkError::kind`] and [`netlink_errno`] still answer "which errno" questions.

use std::io;

use super::names::InvalidIfname;

/// What every fallible operation of the link layer returns.
pub type NetlinkResult<T> = Result<T, NetlinkError>;

/// A failed netlink operation: which one, and the kernel's errno when there is one.
///
/// Callers match on [`NetlinkError::kind`] (e.g. `AlreadyExists` for `EEXIST`), get the errno
/// back with [`netlink_errno`], or look at the [`NetlinkError::cause`]. Boxed: the errors of
/// every layer above carry it as a source, and an error that stays one pointer wide keeps
/// their `Result`s small.
#[derive(Debug, thiserror::Error)]
#[error("netlink: {}: {}", .0.op, .0.cause)]
pub struct NetlinkError(Box<Failed>);

#[derive(Debug)]
struct Failed {
    /// The operation, with its arguments (e.g. `create bridge br-0123 (mtu 1500)`).
    op: String,
    /// The errno the kernel (or the socket layer) answered, when known.
    errno: Option<i32>,
    /// What went wrong. Not a `source`: the message already says it, once.
    cause: NetlinkFailure,
}

/// Why a netlink operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkFailure {
    /// The kernel's errno, a socket error, or an argument refused before sending.
    #[error("{0}")]
    Io(io::Error),
    /// The socket took only part of a request.
    #[error("short send ({sent} of {len})")]
    ShortSend { sent: usize, len: usize },
    /// An answer whose header gives an impossible length.
    #[error("bad message length {0}")]
    BadLength(usize),
    /// An answer this client cannot parse.
    #[error("cannot parse reply: {0}")]
    Unparsable(String),
    /// A link lookup answered without a link.
    #[error("no link in the answer")]
    NoLink,
    /// A link just created cannot be found by name.
    #[error("{name} vanished after creation")]
    Vanished { name: String },
    /// An interface name the kernel would refuse, caught before sending.
    #[error("{0}")]
    InvalidIfname(InvalidIfname),
    /// A prefix longer than its address family allows.
    #[error("prefix length too long")]
    PrefixTooLong,
    /// A route whose destination and gateway are of different families.
    #[error("mixed address families")]
    MixedFamilies,
    /// The helper thread of a namespace operation panicked.
    #[error("thread panicked")]
    ThreadPanicked,
}

impl NetlinkFailure {
    fn kind(&self) -> io::ErrorKind {
        match self {
            NetlinkFailure::Io(e) => e.kind(),
            NetlinkFailure::ShortSend { .. }
            | NetlinkFailure::BadLength(_)
            | NetlinkFailure::Unparsable(_)
            | NetlinkFailure::NoLink => io::ErrorKind::InvalidData,
            NetlinkFailure::Vanished { .. } => io::ErrorKind::NotFound,
            NetlinkFailure::InvalidIfname(_)
            | NetlinkFailure::PrefixTooLong
            | NetlinkFailure::MixedFamilies => io::ErrorKind::InvalidInput,
            NetlinkFailure::ThreadPanicked => io::ErrorKind::Other,
        }
    }
}

impl NetlinkError {
    /// The [`io::ErrorKind`] of the cause (the errno's, or the closest one for a failure of
    /// this client), for callers that tolerate e.g. `AlreadyExists`.
    pub fn kind(&self) -> io::ErrorKind {
        self.0.cause.kind()
    }

    /// What went wrong.
    pub fn cause(&self) -> &NetlinkFailure {
        &self.0.cause
    }
}

pub(super) fn fail(op: &str, cause: NetlinkFailure) -> NetlinkError {
    let errno = match &cause {
        NetlinkFailure::Io(e) => e.raw_os_error(),
        _ => None,
    };
    NetlinkError(Box::new(Failed {
        op: op.to_string(),
        errno,
        cause,
    }))
}

pub(super) fn nl_err(op: &str, cause: io::Error) -> NetlinkError {
    fail(op, NetlinkFailure::Io(cause))
}

/// The errno the kernel answered to a failed operation, if any.
pub fn netlink_errno(err: &NetlinkError) -> Option<i32> {
    err.0.errno
}
