//! A local `nats-server` with JetStream, as a child process: what `cdn up
//! --bus` starts (data in the world's data directory) and what the bus
//! tests run against. cdnlab does not embed a broker: it runs the real one
//! (Debian 12: `apt-get install nats-server`, version 2.9.10).
//!
//! The child is started through `setpriv --pdeathsig TERM` where that
//! exists (util-linux), so it stops with its parent even when the parent
//! is killed; it is also killed when its [`NatsServer`] is dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The program looked for on `PATH`.
pub const PROGRAM: &str = "nats-server";
/// How to install it, for the error message.
pub const INSTALL_HINT: &str = "install it with `apt-get install nats-server` (Debian 12 ships 2.9.10), or join a running bus with --bus nats://HOST:PORT";

/// Why a local nats-server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// `nats-server` is not on `PATH`.
    #[error("`nats-server` is not installed (not found on PATH): {INSTALL_HINT}")]
    NotInstalled,
    /// It could not be started, or exited before it was ready.
    #[error("nats-server did not start: {0}")]
    Failed(String),
    /// It did not say it was ready in time.
    #[error("nats-server did not become ready within {0:?}; its last lines:\n    {1}")]
    Timeout(Duration, String),
}

/// Where and how to run it.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Client address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// JetStream's storage directory (created if missing).
    pub store_dir: PathBuf,
    /// The server's name (shown by clients; JetStream keeps it in its state).
    pub name: String,
    /// How long to wait for the ready line.
    pub ready_within: Duration,
    /// Require this token or user and password of clients (written to a
    /// configuration file only its owner can read, never on the command line).
    pub auth: Option<crate::auth::Auth>,
    /// Serve TLS with this certificate and key (PEM files): clients then
    /// need the CA that signed it (`CDNLAB_BUS_CA`).
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl ServerConfig {
    /// A server for tests: a free port on 127.0.0.1, storage in `dir`.
    pub fn ephemeral(dir: &Path) -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            store_dir: dir.to_path_buf(),
            name: "cdnlab-test".into(),
            ready_within: Duration::from_secs(20),
            auth: None,
            tls: None,
        }
    }
}

/// A running local nats-server.
pub struct NatsServer {
    child: Child,
    addr: SocketAddr,
    config: ServerConfig,
}

/// The full path of `program` on `PATH`, if it is there.
pub fn find_program(program: &str) -> Option<PathBuf> {
    find_in(&std::env::var_os("PATH")?, program)
}

fn find_in(path: &std::ffi::OsStr, program: &str) -> Option<PathBuf> {
    std::env::split_paths(path).map(|d| d.join(program)).find(|p| p.is_file())
}

/// `nats-server` on the search path `path`, or why not.
fn locate(path: Option<&std::ffi::OsStr>) -> Result<PathBuf, ServerError> {
    path.and_then(|p| find_in(p, PROGRAM)).ok_or(ServerError::NotInstalled)
}

/// Whether `nats-server` is installed.
pub fn installed() -> bool {
    find_program(PROGRAM).is_some()
}

/// Writes `text` to `path`, readable and writable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<String, ServerError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let fail = |e: std::io::Error| ServerError::Failed(format!("{}: {e}", path.display()));
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(fail)?;
    f.write_all(text.as_bytes()).map_err(fail)?;
    Ok(path.display().to_string())
}

/// The client address in a `Listening for client connections on HOST:PORT` line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once("Listening for client connections on ")?;
    rest.trim().parse().ok()
}

impl NatsServer {
    /// Starts it and waits until it accepts clients.
    pub async fn start(config: ServerConfig) -> Result<NatsServer, ServerError> {
        let program = locate(std::env::var_os("PATH").as_deref())?;
        std::fs::create_dir_all(&config.store_dir)
            .map_err(|e| ServerError::Failed(format!("{}: {e}", config.store_dir.display())))?;
        let port = if config.listen.port() == 0 { "-1".to_string() } else { config.listen.port().to_string() };
        let mut args: Vec<String> = vec![
            "--jetstream".into(),
            "--store_dir".into(),
            config.store_dir.display().to_string(),
            "--addr".into(),
            config.listen.ip().to_string(),
            "--port".into(),
            port,
            "--server_name".into(),
            config.name.clone(),
        ];
        let mut conf = config.auth.as_ref().and_then(|a| a.server_block()).unwrap_or_default();
        if let Some((cert, key)) = &config.tls {
            let q = |p: &Path| serde_json::to_string(&p.display().to_string()).unwrap_or_default();
            conf.push_str(&format!("tls {{\n  cert_file: {}\n  key_file: {}\n}}\n", q(cert), q(key)));
        }
        if !conf.is_empty() {
            args.extend(["--config".into(), write_private(&config.store_dir.join("server.conf"), &conf)?]);
        }
        let mut cmd = match find_program("setpriv") {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "TERM", "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let mut child = cmd
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ServerError::Failed(format!("{}: {e}", program.display())))?;
        let stderr = child.stderr.take().ok_or_else(|| ServerError::Failed("no stderr".into()))?;
        let mut lines = BufReader::new(stderr).lines();
        let mut tail: Vec<String> = Vec::new();
        let mut addr = None;
        let ready = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(a) = listening_addr(&line) {
                    addr = Some(a);
                }
                let is_ready = line.contains("Server is ready");
                tail.push(line);
                if tail.len() > 20 {
                    tail.remove(0);
                }
                if is_ready {
                    return true;
                }
            }
            false
        };
        let outcome = tokio::time::timeout(config.ready_within, ready).await;
        let (ok, tail) = match outcome {
            Ok(ok) => (ok, tail.join("\n    ")),
            Err(_) => {
                let _ = child.start_kill();
                return Err(ServerError::Timeout(config.ready_within, tail.join("\n    ")));
            }
        };
        let Some(addr) = addr.filter(|_| ok) else {
            let _ = child.start_kill();
            let status = child.wait().await.map(|s| s.to_string()).unwrap_or_default();
            return Err(ServerError::Failed(format!("it exited ({status}); its last lines:\n    {tail}")));
        };
        // Keep reading its output (a full pipe would block it); at debug level.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "cdnlab::nats_server", "{line}");
            }
        });
        tracing::info!(addr = %addr, store = %config.store_dir.display(), "nats-server ready");
        Ok(NatsServer { child, addr, config })
    }

    /// The client address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `nats://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills it at once (SIGKILL: the bus going away) and waits for it.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// Starts it again on the same address and storage (after [`Self::kill`]).
    pub async fn restart(&mut self) -> Result<(), ServerError> {
        self.kill().await;
        let config = ServerConfig { listen: self.addr, ..self.config.clone() };
        let mut started = None;
        // The port may linger for a moment after the kill.
        for _ in 0..50 {
            match NatsServer::start(config.clone()).await {
                Ok(s) => {
                    started = Some(s);
                    break;
                }
                Err(ServerError::Failed(why)) if why.contains("address already in use") => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        }
        let s = started.ok_or_else(|| ServerError::Failed(format!("{} stayed in use", self.addr)))?;
        *self = s;
        Ok(())
    }

    /// Stops it cleanly (SIGTERM, SIGKILL after `grace`).
    pub async fn stop(mut self, grace: Duration) {
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
        }
        if tokio::time::timeout(grace, self.child.wait()).await.is_err() {
            self.kill().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_gives_the_address() {
        let l = "[1234] 2026/12/06 10:00:00.000000 [INF] Listening for client connections on 127.0.0.1:42111";
        assert_eq!(listening_addr(l), Some("127.0.0.1:42111".parse().unwrap()));
        assert_eq!(listening_addr("[INF] Server is ready"), None);
    }

    #[test]
    fn a_missing_program_says_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let msg = locate(Some(dir.path().as_os_str())).unwrap_err().to_string();
        assert!(msg.contains("not installed") && msg.contains("apt-get install nats-server"), "{msg}");
        assert!(matches!(locate(None), Err(ServerError::NotInstalled)));
        std::fs::write(dir.path().join(PROGRAM), "").unwrap();
        assert_eq!(locate(Some(dir.path().as_os_str())).unwrap(), dir.path().join(PROGRAM));
    }
}
