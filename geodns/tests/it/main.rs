//! geodns end to end, in-process: real sockets on loopback, stand-in edges
//! answering `/healthz`, queries over UDP and TCP from region addresses.

mod cli;
mod health;
mod http;
mod robust;
mod routing;
mod support;
