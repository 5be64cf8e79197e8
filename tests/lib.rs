//! Shared pieces of the end-to-end harness live in `e2e/`; this library is intentionally empty.
