//! Cache keys: each step's key hashes its parent's key with everything that decides its
//! result — the instruction as expanded, the environment and settings a RUN sees, the content
//! (never the mtime) of the files a COPY reads — so a key names one result, and a change
//! anywhere above a step changes the keys of every step from there on.

use sha2::{Digest, Sha256};

/// A step's cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(pub [u8; 32]);

impl Key {
    /// The key of a stage's start: `what` names the base (`scratch`, an image id).
    pub fn base(what: &str) -> Key {
        Key::root().then(&["FROM", what])
    }

    fn root() -> Key {
        Key(Sha256::digest(b"compose-build-cache-v1").into())
    }

    /// The key of the step after this one that `parts` describe. Parts are length-prefixed,
    /// so no two lists hash alike by moving a boundary.
    pub fn then<S: AsRef<[u8]>>(&self, parts: &[S]) -> Key {
        let mut h = Sha256::new();
        h.update(self.0);
        for p in parts {
            let p = p.as_ref();
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        Key(h.finalize().into())
    }

    pub fn hex(&self) -> String {
        crate::engine::fsutil::hex(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_chain_and_separate_parts() {
        let a = Key::base("scratch");
        assert_eq!(a, Key::base("scratch"));
        assert_ne!(a, Key::base("sha256:1"));
        assert_ne!(a.then(&["ab", "c"]), a.then(&["a", "bc"]));
        assert_eq!(a.then(&["x"]).then(&["y"]), a.then(&["x"]).then(&["y"]));
        assert_ne!(a.then(&["x"]).then(&["y"]), a.then(&["y"]).then(&["x"]));
        assert_eq!(a.hex().len(), 64);
    }
}
