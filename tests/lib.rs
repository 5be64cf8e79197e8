//! The end-to-end tests of Firebreak live in `e2e/` (one test binary). This library is empty: the
//! crate exists so that `cargo test --workspace` builds and runs them.
