//! Integration tests: an origin started in-process on 127.0.0.1:0, driven
//! over real HTTP with reqwest (and raw TCP where a client would tidy the
//! request up first).

// Helpers outside #[test] functions panic on setup failures too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod catalog;
mod cli;
mod faults;
mod files;
mod util;
