//! Child processes of `cdn up` and `cdn run`: started from this very binary
//! (`cdn edge …`, `cdn origin …`: the same code as the `edge` and `origin`
//! binaries), their output prefixed with their name, their readiness read
//! from the `cdnlab-ready` line, and all of them stopped together.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc};

/// A started child.
pub struct Proc {
    /// Display name (`edge seoul`).
    pub name: String,
    /// Addresses from its ready line, by role (`public`, `admin`, `dns`, …).
    pub addrs: HashMap<String, SocketAddr>,
    /// Its arguments (to start it again).
    pub args: Vec<String>,
    child: Child,
}

/// Why a child ended, sent to the supervisor.
#[derive(Debug)]
pub struct Exited {
    /// Its name.
    pub name: String,
    /// Its last lines of output (for the report).
    pub tail: Vec<String>,
}

/// The children of one `cdn up`.
pub struct Supervisor {
    procs: Vec<Proc>,
    exited_tx: mpsc::UnboundedSender<Exited>,
    /// Reports of children that ended.
    pub exited: mpsc::UnboundedReceiver<Exited>,
    quiet: bool,
    env: Vec<(String, String)>,
    /// Children killed on purpose or found dead, by name: their arguments,
    /// to start them again.
    killed: HashMap<String, Vec<String>>,
}

impl Supervisor {
    /// A supervisor; `quiet` hides the children's log lines.
    pub fn new(quiet: bool) -> Self {
        let (exited_tx, exited) = mpsc::unbounded_channel();
        Supervisor { procs: Vec::new(), exited_tx, exited, quiet, env: Vec::new(), killed: HashMap::new() }
    }

    /// Sets an environment variable for every child started from now on.
    pub fn env(&mut self, key: &str, value: &str) {
        self.env.push((key.into(), value.into()));
    }

    /// Starts `cdn <args…>` as a child called `name`, and waits (up to
    /// `timeout`) for its ready line.
    pub async fn start(&mut self, name: &str, args: &[String], timeout: Duration) -> anyhow::Result<&Proc> {
        let exe = std::env::current_exe().context("cannot find the cdn executable")?;
        let mut child = Command::new(exe)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(runtime::shutdown::EXIT_WITH_PARENT_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let stdout = child.stdout.take().context("child stdout")?;
        let stderr = child.stderr.take().context("child stderr")?;
        let tail = Arc::new(Mutex::new(Vec::<String>::new()));
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<String>();
        // stdout: the ready line, then anything else, prefixed
        let (label, quiet, t1) = (name.to_string(), self.quiet, tail.clone());
        let out_task = tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("cdnlab-ready ") {
                    let _ = ready_tx.send(line);
                } else {
                    remember(&t1, &line).await;
                    if !quiet {
                        println!("{label:>14} | {line}");
                    }
                }
            }
        });
        let (label, quiet, t2, exited_tx) = (name.to_string(), self.quiet, tail.clone(), self.exited_tx.clone());
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                remember(&t2, &line).await;
                if !quiet {
                    eprintln!("{label:>14} | {line}");
                }
            }
            let _ = out_task.await;
            let tail = t2.lock().await.clone();
            let _ = exited_tx.send(Exited { name: label, tail });
        });
        let line = tokio::select! {
            l = ready_rx.recv() => l,
            _ = tokio::time::sleep(timeout) => {
                let _ = child.start_kill();
                bail!("{name} did not become ready within {timeout:?}");
            }
        };
        let Some(line) = line else {
            let status = child.wait().await.ok();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let tail = tail.lock().await.join("\n    ");
            bail!(
                "{name} exited before it was ready ({}):\n    {tail}",
                status.map_or("unknown status".into(), |s| s.to_string())
            );
        };
        let addrs = line
            .split_whitespace()
            .skip(3)
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect();
        self.procs.push(Proc { name: name.into(), addrs, args: args.to_vec(), child });
        self.procs.last().context("child list is empty")
    }

    /// Sets the arguments a running child is started again with by
    /// [`Supervisor::restart`] (its first start's without a flag meant
    /// for that start only, such as an edge's `--fresh`).
    pub fn restart_with(&mut self, name: &str, args: Vec<String>) {
        if let Some(p) = self.procs.iter_mut().find(|p| p.name == name) {
            p.args = args;
        }
    }

    /// The children, in start order.
    pub fn procs(&self) -> &[Proc] {
        &self.procs
    }

    /// Process ids of the children still running.
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().filter_map(|p| p.child.id()).collect()
    }

    /// Stops a child by name (SIGTERM, then SIGKILL after `grace`).
    pub async fn stop_one(&mut self, name: &str, grace: Duration) -> bool {
        let Some(i) = self.procs.iter().position(|p| p.name == name) else { return false };
        let mut p = self.procs.remove(i);
        stop(&mut p.child, grace).await;
        true
    }

    /// Kills a child at once (SIGKILL, like a crash); returns its arguments
    /// (remembered for [`Supervisor::restart`]).
    pub async fn kill_one(&mut self, name: &str) -> Option<Vec<String>> {
        let i = self.procs.iter().position(|p| p.name == name)?;
        let mut p = self.procs.remove(i);
        let _ = p.child.start_kill();
        let _ = p.child.wait().await;
        self.killed.insert(p.name, p.args.clone());
        Some(p.args)
    }

    /// Takes a child that ended on its own (crashed, or killed from
    /// outside) off the list of running ones and remembers its arguments,
    /// so [`Supervisor::restart`] can start it again; false if no such
    /// child is running or it has not ended.
    pub async fn reap(&mut self, name: &str) -> bool {
        let Some(i) = self.procs.iter().position(|p| p.name == name) else { return false };
        // its output closed: it has ended, or is about to
        if tokio::time::timeout(Duration::from_secs(2), self.procs[i].child.wait()).await.is_err() {
            return false;
        }
        let p = self.procs.remove(i);
        self.killed.insert(p.name, p.args);
        true
    }

    /// Whether `name` was killed by [`Supervisor::kill_one`] and not restarted.
    pub fn was_killed(&self, name: &str) -> bool {
        self.killed.contains_key(name)
    }

    /// Starts a child killed by [`Supervisor::kill_one`] again, with the
    /// same arguments, and waits for its ready line.
    pub async fn restart(&mut self, name: &str, timeout: Duration) -> anyhow::Result<&Proc> {
        let Some(args) = self.killed.remove(name) else {
            if self.procs.iter().any(|p| p.name == name) {
                bail!("{name} is running");
            }
            bail!("{name} was not killed here: nothing to restart");
        };
        let started = self.start(name, &args, timeout).await.map(|_| ());
        match started {
            Ok(()) => self.procs.last().context("child list is empty"),
            Err(e) => {
                self.killed.insert(name.to_string(), args);
                Err(e)
            }
        }
    }

    /// Takes the receiver of [`Supervisor::exited`] (for a loop that must
    /// not hold the supervisor while it waits); leaves a closed one.
    pub fn take_exited(&mut self) -> mpsc::UnboundedReceiver<Exited> {
        let (_tx, closed) = mpsc::unbounded_channel();
        std::mem::replace(&mut self.exited, closed)
    }

    /// Stops every child, newest first: SIGTERM, then SIGKILL after `grace`.
    pub async fn stop_all(&mut self, grace: Duration) {
        while let Some(mut p) = self.procs.pop() {
            stop(&mut p.child, grace).await;
        }
    }
}

async fn stop(child: &mut Child, grace: Duration) {
    if let Some(pid) = child.id() {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

async fn remember(tail: &Mutex<Vec<String>>, line: &str) {
    let mut t = tail.lock().await;
    if t.len() >= 20 {
        t.remove(0);
    }
    t.push(line.to_string());
}

/// Waits until `GET http://addr/healthz` answers 200 (up to `timeout`).
pub async fn wait_healthy(addr: SocketAddr, timeout: Duration) -> anyhow::Result<()> {
    let c = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(1)).build()?;
    let url = format!("http://{addr}/healthz");
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(r) = c.get(&url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{url} did not answer 200 within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
