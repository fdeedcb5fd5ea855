//! What a purge asks for, checked and normalised ([`api::purge`]: the
//! `cdn` CLI checks a purge exactly as the edge does).

pub use api::purge::*;
