//! One way to stop a server, used by every cdnlab server and everything
//! each runs (accept loops, connections, background tasks): a [`Stop`]
//! that fires and the [`Shutdown`]s that see it. A server's `serve` takes a
//! `Shutdown`; its `Handle` ([`crate::server::Handle`]) holds the `Stop`;
//! a binary makes one from its signals with `Shutdown::on(ctrl_c_or_term())`.
//!
//! A `Shutdown` also fires when every `Stop` of its channel is gone, so a
//! server whose handle is dropped stops rather than runs forever.

use std::future::Future;

use tokio::sync::watch;

/// Stops whatever holds a [`Shutdown`] of the same channel.
#[derive(Clone, Debug)]
pub struct Stop(watch::Sender<bool>);

/// Resolves once its server should stop. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

/// A new channel: `stop.stop()` fires every `Shutdown` cloned from `shutdown`.
pub fn channel() -> (Stop, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Stop(tx), Shutdown(rx))
}

impl Stop {
    /// Fires the channel's `Shutdown`s (idempotent).
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// A `Shutdown` that fires when `trigger` resolves (a signal, a test's
    /// oneshot). Spawns a task that waits for it.
    pub fn on(trigger: impl Future<Output = ()> + Send + 'static) -> Shutdown {
        let (stop, shutdown) = channel();
        tokio::spawn(async move {
            tokio::select! {
                _ = trigger => stop.stop(),
                _ = stop.0.closed() => {}
            }
        });
        shutdown
    }

    /// Resolves once the server should stop.
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|s| *s).await;
    }

    /// [`Shutdown::wait`] as an owned future (for `spawn` and `select!`).
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut s = self.clone();
        async move { s.wait().await }
    }

    /// Whether the server is stopping already.
    pub fn is_stopping(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }
}

/// When this environment variable is set, a server also stops when its
/// standard input closes: its parent (`cdn up`) is gone, so no orphan stays.
pub const EXIT_WITH_PARENT_ENV: &str = "CDNLAB_EXIT_WITH_PARENT";

/// Resolves on Ctrl-C, SIGTERM, or (with [`EXIT_WITH_PARENT_ENV`]) when
/// standard input closes.
pub async fn ctrl_c_or_term() {
    let parent_gone = async {
        if std::env::var_os(EXIT_WITH_PARENT_ENV).is_none() {
            return std::future::pending::<()>().await;
        }
        if stdin_closed().await.is_err() {
            std::future::pending::<()>().await
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = async {
            match signal(SignalKind::terminate()) {
                Ok(mut t) => {
                    t.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
            _ = parent_gone => {}
        }
    }
    #[cfg(not(unix))]
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = parent_gone => {}
        }
    }
}

/// Resolves when standard input reaches its end (or fails); `Err` when
/// it cannot be watched. The read runs on a plain thread of its own, not
/// tokio's blocking pool (`tokio::io::stdin`): a runtime waits for its
/// blocking tasks when it shuts down, and a read of a stdin that stays open
/// never ends, so a server stopped by a signal would linger until its
/// parent went (issue 19). A plain thread ends with the process.
async fn stdin_closed() -> Result<(), std::io::Error> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new().name("stdin-watch".into()).spawn(move || {
        use std::io::Read;
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 256];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = tx.send(());
    })?;
    let _ = rx.await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_fires_every_clone_and_a_dropped_channel_fires_too() {
        let (stop, shutdown) = channel();
        let mut a = shutdown.clone();
        assert!(!shutdown.is_stopping());
        stop.stop();
        a.wait().await;
        shutdown.stopped().await;
        assert!(shutdown.is_stopping());
        let (stop, mut orphan) = channel();
        drop(stop);
        orphan.wait().await;
        assert!(orphan.is_stopping());
    }

    #[tokio::test]
    async fn on_fires_when_its_trigger_resolves() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let s = Shutdown::on(async move {
            let _ = rx.await;
        });
        assert!(!s.is_stopping());
        tx.send(()).unwrap();
        s.stopped().await;
    }
}
