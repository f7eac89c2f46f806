//! See the list in `tests/security.rs`.
