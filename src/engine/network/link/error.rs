//! The errors of the link layer: which operation failed, and why (typed), carried inside
//! [`io::Error`]s so callers keep matching on `kind()`.

use std::io;

/// A failed netlink operation: which one, and the kernel's errno when there is one.
///
/// Carried inside the [`io::Error`]s this module returns (same [`io::ErrorKind`] as the cause),
/// so callers can match on `kind()` (e.g. `AlreadyExists` for `EEXIST`), get the errno back
/// with [`netlink_errno`], or downcast to this type for the [`NetlinkFailure`].
#[derive(Debug, thiserror::Error)]
#[error("netlink: {op}: {cause}")]
pub struct NetlinkError {
    /// The operation, with its arguments (e.g. `create bridge br-0123 (mtu 1500)`).
    pub op: String,
    /// The errno the kernel (or the socket layer) answered, when known.
    pub errno: Option<i32>,
    /// What went wrong. Not a `source`: the message already says it, once.
    pub cause: NetlinkFailure,
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
            NetlinkFailure::PrefixTooLong | NetlinkFailure::MixedFamilies => {
                io::ErrorKind::InvalidInput
            }
            NetlinkFailure::ThreadPanicked => io::ErrorKind::Other,
        }
    }
}

pub(super) fn fail(op: &str, cause: NetlinkFailure) -> io::Error {
    let errno = match &cause {
        NetlinkFailure::Io(e) => e.raw_os_error(),
        _ => None,
    };
    io::Error::new(
        cause.kind(),
        NetlinkError {
            op: op.to_string(),
            errno,
            cause,
        },
    )
}

pub(super) fn nl_err(op: &str, cause: io::Error) -> io::Error {
    fail(op, NetlinkFailure::Io(cause))
}

/// The errno behind an error from this module (or a plain OS error), if any.
pub fn netlink_errno(err: &io::Error) -> Option<i32> {
    err.raw_os_error().or_else(|| {
        err.get_ref()
            .and_then(|e| e.downcast_ref::<NetlinkError>())
            .and_then(|e| e.errno)
    })
}
