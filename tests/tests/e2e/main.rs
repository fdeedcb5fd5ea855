//! End-to-end tests: real origin and edges (and the scripted origin where a
//! test needs exact control of origin responses), in this process, on
//! ephemeral loopback ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bus;
mod clients;
mod cluster;
mod cost;
mod disk_bodies;
mod foundation;
mod keying;
mod pacing;
mod pool;
mod purge;
mod replica;
mod semantics;
mod shadow;
mod shield;
mod smuggling;
mod streaming;
mod wire;
