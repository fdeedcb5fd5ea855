//! geodns end to end, in-process: real sockets on loopback, stand-in edges
//! answering `/healthz`, queries over UDP and TCP from region addresses.

// Helpers outside #[test] functions panic on purpose too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod health;
mod http;
mod robust;
mod routing;
mod support;
