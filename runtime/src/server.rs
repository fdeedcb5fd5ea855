//! The one shape of a cdnlab server process, for edge, origin, geodns and
//! what comes next:
//!
//! ```text
//! Server::bind(config) ─► Bound (sockets bound, config checked, state opened; addresses known)
//!        │                   ├─► bound.serve(shutdown).await     the binary: until a signal
//!        │                   └─► bound.spawn() ─► Handle          tests: in a task
//!        ▼
//! ready line on stdout ([`ready_line`]) between bind and serve
//! ```
//!
//! A server's own `Handle` wraps [`Handle`] (which stops it on `shutdown`
//! or when dropped) and adds its addresses and what tests may ask of it.

use std::future::Future;
use std::net::SocketAddr;

use tokio::task::JoinHandle;

use crate::shutdown::{Shutdown, Stop, channel};

/// A server running in a task of this process.
#[derive(Debug)]
pub struct Handle<E> {
    stop: Stop,
    task: Option<JoinHandle<Result<(), E>>>,
}

impl<E: Send + 'static> Handle<E> {
    /// Runs `serve` in a task with a [`Shutdown`] this handle fires.
    pub fn spawn<F>(serve: impl FnOnce(Shutdown) -> F) -> Handle<E>
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let (stop, shutdown) = channel();
        Handle { stop, task: Some(tokio::spawn(serve(shutdown))) }
    }

    /// Asks the server to stop; returns at once.
    pub fn stop(&self) {
        self.stop.stop();
    }

    /// Stops the server and waits until it has stopped (requests in flight
    /// drained, state flushed). A panic in the server is resumed here.
    pub async fn shutdown(mut self) -> Result<(), E> {
        self.stop.stop();
        match self.task.take() {
            Some(t) => match t.await {
                Ok(r) => r,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Ok(()),
            },
            None => Ok(()),
        }
    }
}

impl<E> Drop for Handle<E> {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// The fixed line a server prints on stdout once it listens, which `cdn up`
/// and the end-to-end tests wait for:
/// `cdnlab-ready <component> <name> <role>=<addr> …`.
pub fn ready_line(component: &str, name: &str, addrs: &[(&str, SocketAddr)]) -> String {
    let mut s = format!("cdnlab-ready {component} {name}");
    for (role, a) in addrs {
        s.push_str(&format!(" {role}={a}"));
    }
    s
}

/// The address of `role` in a [`ready_line`] (`admin` in
/// `cdnlab-ready edge seoul public=… admin=127.1.0.1:9080`); `None` for
/// another line or a role it does not name.
pub fn ready_addr(line: &str, role: &str) -> Option<SocketAddr> {
    let rest = line.trim_end().strip_prefix("cdnlab-ready ")?;
    rest.split(' ').find_map(|w| w.strip_prefix(role)?.strip_prefix('=')?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_line_gives_back_its_addresses() {
        let (p, a) = ("127.1.0.1:8080".parse().unwrap(), "127.1.0.1:9080".parse().unwrap());
        let line = ready_line("edge", "seoul", &[("public", p), ("admin", a)]);
        assert_eq!(ready_addr(&line, "public"), Some(p));
        assert_eq!(ready_addr(&format!("{line}\n"), "admin"), Some(a));
        assert_eq!(ready_addr(&line, "dns"), None);
        assert_eq!(ready_addr("edge starting public=127.1.0.1:8080", "public"), None);
    }
}
