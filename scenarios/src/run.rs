//! `cdn run FILE`: start the scenario's world (child processes of this
//! binary, fresh data directories), drive its workload from every region,
//! fire its events, collect the edges' and origin's counters, write the
//! report, and exit non-zero when an expectation fails. With `[[arm]]`s
//! (or a `[sweep]`), once per arm, side by side ([`crate::arms`]).
//! `cdn run --check FILE` loads and checks everything without running.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::{Mutex, mpsc};
use world::World;

use crate::driver::{Driver, Sample};
use crate::report::{self, DriverCpu, EdgeDelta, Report};
use crate::scenario::{self, Scenario};
use crate::supervisor::Supervisor;
use crate::tally::{self, Tally};

/// Flags of `cdn run`.
#[derive(Debug, Parser)]
pub struct RunArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// Report directory (default: reports/<scenario>-<time>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar, no component logs.
    #[arg(long)]
    pub quiet: bool,
    /// Check the scenario, its world and every arm, report every problem,
    /// and exit without running anything.
    #[arg(long)]
    pub check: bool,
    /// Send every response at loopback speed: the servers do not pace by
    /// the network model (the run's world says `[network] pacing = false`),
    /// so latencies are loopback times.
    #[arg(long)]
    pub no_pacing: bool,
    /// A GeoIP2/GeoLite2 City database for GeoDNS, the origin and the
    /// edges (`--mmdb` on each, as `cdn up --mmdb`).
    #[arg(long, value_name = "FILE")]
    pub mmdb: Option<PathBuf>,
    #[command(flatten)]
    pub dashboard: crate::up::DashboardArgs,
}

/// Runs `cdn run`; the exit code says whether every expectation held.
pub async fn main(args: RunArgs) -> anyhow::Result<std::process::ExitCode> {
    args.dashboard.check()?;
    let mut loaded = scenario::load(&args.file)?;
    if args.no_pacing {
        loaded.world.network.pacing = false;
        loaded.arms.iter_mut().for_each(|a| a.world.network.pacing = false);
    }
    if args.check {
        let what = match loaded.arms.len() {
            0 => String::new(),
            n => format!(", {n} arms ({})", loaded.arms.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")),
        };
        println!(
            "{}: ok (world `{}`, {} edges{what})",
            args.file.display(),
            loaded.world.name,
            loaded.world.edges.len()
        );
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let out = args.out.clone().unwrap_or_else(|| {
        let t = world::clock::file_stamp(std::time::SystemTime::now());
        PathBuf::from("reports").join(format!("{}-{t}", loaded.scenario.name))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let ok = if loaded.arms.is_empty() {
        let dashboard = args.dashboard.listen(&loaded.world);
        let r =
            run_once(&loaded.scenario, &loaded.world, &out, args.quiet, dashboard, args.mmdb.as_deref(), None).await?;
        println!("{}", r.summary());
        println!("report: {}", out.join("report.md").display());
        r.passed()
    } else {
        let mut rows: Vec<crate::arms::Row> = Vec::new();
        let n = loaded.arms.len();
        for (i, a) in loaded.arms.iter().enumerate() {
            let dir = out.join(format!("{:02}-{}", i + 1, a.name));
            eprintln!("arm {}/{n}: {}", i + 1, a.name);
            let dashboard = args.dashboard.listen(&a.world);
            let r = run_once(&a.scenario, &a.world, &dir, args.quiet, dashboard, args.mmdb.as_deref(), Some(&a.name))
                .await?;
            println!("{}", r.summary());
            rows.push((a.name.clone(), a.x, r));
        }
        let md = crate::arms::compare(&loaded, &rows, &out)?;
        println!("{md}");
        println!("comparison: {}", out.join("arms.md").display());
        rows.iter().all(|(_, _, r)| r.passed())
    };
    Ok(if ok { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::from(1) })
}

/// One run of a scenario in `world`; the report is written to `out`. With
/// `dashboard`, the live page is served there while it runs; with `mmdb`,
/// every component locates peers by that GeoIP database.
pub async fn run_once(
    s: &Scenario,
    w: &World,
    out: &Path,
    quiet: bool,
    dashboard: Option<std::net::SocketAddr>,
    mmdb: Option<&Path>,
    arm: Option<&str>,
) -> anyhow::Result<Report> {
    // Fresh caches for every run: data directories inside the report directory.
    let mut w = w.clone();
    if w.admin_token().is_none() {
        // The world has no token: the run's components share a fresh one,
        // so its events can purge, bump and inject faults (never open APIs).
        let token = runtime::auth::generate_token().context("cannot generate an admin token")?;
        if dashboard.is_some() {
            eprintln!(
                "cdn run: the world has no admin token; this run's is {token} (the dashboard's controls ask for it)"
            );
        }
        w.admin_token = Some(token);
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let out = std::path::absolute(out)?;
    w.edge_defaults.data_dir = out.join("data").join("{edge}").display().to_string();
    w.edges.iter_mut().for_each(|e| e.data_dir = None);
    let _ = std::fs::remove_dir_all(out.join("data"));
    let world_file = out.join("world.toml");
    std::fs::write(&world_file, toml::to_string(&w).context("cannot write the world")?)?;
    let w = Arc::new(w);

    let mut sup = Supervisor::new(quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let anchor = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    sup.env(world::clock::ANCHOR_ENV, &anchor.to_string());
    let (origin, host) = (s.origin.url.as_deref(), s.origin.host.as_deref());
    // `bus = true`: a nats-server of the run's own (a free loopback port,
    // its data beside the edges'), dropped after the components stop.
    let (nats, bus, mut flags) = match s.bus {
        false => (None, None, crate::up::EdgeFlags::default()),
        true => {
            let nats = crate::up::start_bus_at(&w, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await?;
            let url = nats.url();
            let b = bus::Bus::connect(&url, &w.name, "cdn-run", &bus::ConnectOptions::default())
                .await
                .with_context(|| format!("cannot connect to the run's control bus {url}"))?;
            let on = vec!["--bus".to_string(), url];
            (Some(nats), Some(b), crate::up::EdgeFlags { always: on.clone(), geodns: on, ..Default::default() })
        }
    };
    if let Some(p) = mmdb {
        flags.mmdb(p)?;
    }
    if let Err(e) = crate::up::start_world(&w, Some(&world_file), origin, host, &flags, &mut sup).await {
        sup.stop_all(Duration::from_secs(5)).await;
        return Err(e);
    }
    let sup = Arc::new(Mutex::new(sup));
    let result = drive(s, w.clone(), Running { sup: sup.clone(), bus }, &out, quiet, dashboard, arm).await;
    sup.lock().await.stop_all(Duration::from_secs(10)).await;
    drop(nats);
    let _ = std::fs::remove_dir_all(out.join("data"));
    result
}

/// The world a run drives: its processes, and its control bus if it has one.
struct Running {
    sup: Arc<Mutex<Supervisor>>,
    bus: Option<bus::Bus>,
}

async fn drive(
    s: &Scenario,
    w: Arc<World>,
    running: Running,
    out: &Path,
    quiet: bool,
    dashboard: Option<std::net::SocketAddr>,
    arm: Option<&str>,
) -> anyhow::Result<Report> {
    let Running { sup, bus } = running;
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build()?;
    let edges = Arc::new(Tally::new(&w, tally::read_all(&http, &w).await));
    // PoP nodes' work as owners, before the run (report::nodes).
    let nodes_before = crate::tally::node_counts(&http, &w).await;
    let driver = Arc::new(Driver::new(w.clone(), s.workload.sources_per_region)?);
    let plan: Vec<crate::workload::Planned> = crate::workload::plan(s, &w).collect();
    // a trace workload is compared with the offline model of its requests
    let paths: Vec<String> =
        if s.workload.trace.is_some() { plan.iter().map(|p| p.path.clone()).collect() } else { Vec::new() };
    let total = plan.len() as u64;
    let end = plan.last().map_or(Duration::ZERO, |p| p.at) + Duration::from_millis(1);
    // The warm-up ends at a time, or at the time of its last request.
    let warm_end: Option<Duration> = match s.warmup {
        None => None,
        Some(scenario::Warmup::Time(d)) => Some(d.0),
        Some(scenario::Warmup::Requests(n)) => plan.get(n as usize).map(|p| p.at),
    };
    let warm_requests = warm_end.map_or(0, |t| plan.iter().filter(|p| p.at < t).count() as u64);
    let unique_objects = {
        let after = plan.iter().filter(|p| warm_end.is_none_or(|t| p.at >= t));
        after.map(|p| p.path.as_str()).collect::<std::collections::HashSet<_>>().len() as u64
    };
    let start = Instant::now() + Duration::from_millis(300);
    let cpu0 = process_cpu();

    // Events.
    let ctx = Arc::new(crate::events::Ctx {
        world: w.clone(),
        http: http.clone(),
        sup,
        versions: driver.versions.clone(),
        start,
        announce: quiet,
        journal: Default::default(),
        origin_url: s.origin.url.clone(),
        tally: Some(edges.clone()),
        bus: bus.clone(),
    });
    // The live page, fed with every sample the clients record.
    let feed = dashboard.map(|_| {
        let start_unix_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
                + start.saturating_duration_since(Instant::now()).as_millis() as u64;
        Arc::new(crate::dashboard::RunFeed::new(
            s,
            &w,
            total,
            end.as_secs_f64(),
            warm_end,
            start_unix_ms,
            driver.live.clone(),
        ))
    });
    let _dashboard = match dashboard {
        Some(addr) => {
            let d = crate::dashboard::start(addr, ctx.clone(), feed.clone()).await?;
            eprintln!("dashboard: {}", d.url());
            Some(d)
        }
        None => None,
    };
    let events = tokio::spawn(crate::events::run(ctx, s.events.clone(), end));

    // Origin requests per second; edge counters every second, so that an
    // edge that stops answering keeps what it counted before (an edge the
    // run kills is read once more just before: `events::kill_edge`).
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let poll_http = http.clone();
    // your own origin has no counters: the edges' origin requests stand in
    // Every origin site's requests (a replicated origin's replicas answer
    // fills too); none for your own origin (counted by the edges).
    let origin_admins: Vec<std::net::SocketAddr> = match (&s.origin.url, w.is_replicated()) {
        (Some(_), _) => Vec::new(),
        (None, true) => w.origin_sites().into_iter().map(|site| site.admin).collect(),
        (None, false) => vec![w.origin.admin],
    };
    let poll_world = w.clone();
    let poll_edges = edges.clone();
    // On a bus the edges' rounds are their own task: a round lasts until
    // every edge has been heard (about one publishing interval).
    let bus_rounds = bus.clone().map(|b| {
        let (edges, w, http, mut stop) = (edges.clone(), w.clone(), http.clone(), stop_rx.clone());
        tokio::spawn(async move {
            loop {
                let began = Instant::now();
                let epochs = edges.epochs();
                tokio::select! {
                    r = tally::read_all_on_bus(&http, &w, &b, crate::stats::BUS_WAIT) => edges.add_read(&epochs, r),
                    _ = stop.changed() => break,
                }
                tokio::select! {
                    _ = tokio::time::sleep_until((began + bus::stats::INTERVAL).into()) => {}
                    _ = stop.changed() => break,
                }
            }
        })
    });
    let on_bus = bus_rounds.is_some();
    let poller = tokio::spawn(async move {
        let edges = poll_edges;
        let mut per_second = Vec::new();
        let origin_count = |edges: &Tally| edges.totals().iter().map(|d| d.origin_requests).sum::<u64>();
        let mut site_last = vec![0u64; origin_admins.len()];
        let mut last = match origin_admins.is_empty() {
            false => sites_requests(&poll_http, &origin_admins, &mut site_last).await,
            true => origin_count(&edges),
        };
        let mut warm: Option<(Vec<EdgeDelta>, report::nodes::NodeCounts)> = None;
        tokio::time::sleep_until((start + Duration::from_secs(1)).into()).await;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop_rx.changed() => break,
            }
            if !on_bus {
                let epochs = edges.epochs();
                edges.add(&epochs, tally::read_all(&poll_http, &poll_world).await);
            }
            let now = match origin_admins.is_empty() {
                false => sites_requests(&poll_http, &origin_admins, &mut site_last).await,
                true => origin_count(&edges),
            };
            per_second.push(now.saturating_sub(last));
            last = now;
            if warm.is_none() && warm_end.is_some_and(|t| Instant::now() >= start + t) {
                warm = Some((edges.totals(), crate::tally::node_counts(&poll_http, &poll_world).await));
            }
        }
        (per_second, warm)
    });

    // Progress: the rate over the last second, beside the planned one.
    let planned_rate =
        if s.workload.rate > 0.0 { format!(" (planned {:.0}/s)", s.workload.rate) } else { String::new() };
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(total) };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let live = driver.live.clone();
    let bar2 = bar.clone();
    let progress = tokio::spawn(async move {
        let mut window: std::collections::VecDeque<(Instant, u64)> = std::collections::VecDeque::new();
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let done = live.done.load(Ordering::Relaxed);
            let hits = live.hits.load(Ordering::Relaxed);
            let now = Instant::now();
            window.push_back((now, done));
            while window.front().is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_secs(1)) {
                window.pop_front();
            }
            let rate = match window.front() {
                Some((t, d)) if now > *t => (done - d) as f64 / now.duration_since(*t).as_secs_f64(),
                _ => 0.0,
            };
            bar2.set_position(done);
            bar2.set_message(format!(
                "{rate:.0}/s now{planned_rate}  hit {:.3} err {} corrupt {}",
                hits as f64 / done.max(1) as f64,
                live.errors.load(Ordering::Relaxed),
                live.corrupt.load(Ordering::Relaxed)
            ));
            if done >= total {
                break;
            }
        }
    });

    let (tx, mut rx) = mpsc::unbounded_channel::<Sample>();
    let collector = tokio::spawn(async move {
        let mut v = Vec::with_capacity(total as usize);
        while let Some(s) = rx.recv().await {
            if let Some(f) = &feed {
                f.sample(&s);
            }
            v.push(s);
        }
        v
    });
    let t_run = Instant::now();
    driver.clone().run(plan.into_iter(), start, s.workload.concurrency, tx).await;
    let duration_s = t_run.elapsed().as_secs_f64().max(end.as_secs_f64()) - 0.3;
    let cpu = process_cpu() - cpu0;
    let samples = collector.await.unwrap_or_default();
    progress.abort();
    bar.finish_and_clear();
    let _ = stop_tx.send(true);
    let (origin_per_second, warm) = poller.await.context("edge poller")?;
    if let Some(r) = bus_rounds {
        let _ = r.await;
    }
    let event_rows = events.await.unwrap_or_default();
    // The last reading: on a bus, what each edge publishes after the end.
    let epochs = edges.epochs();
    match &bus {
        Some(b) => edges.add_read(&epochs, tally::read_all_on_bus(&http, &w, b, crate::stats::BUS_WAIT).await),
        None => edges.add(&epochs, tally::read_all(&http, &w).await),
    }
    let totals = edges.totals();
    let deltas: Vec<EdgeDelta> = match &warm {
        Some((at, _)) => totals.iter().zip(at).map(|(now, then)| now.since(then)).collect(),
        None => totals,
    };
    let nodes_after = crate::tally::node_counts(&http, &w).await;
    let (node_counts, node_notes) =
        report::nodes::since(&w, warm.as_ref().map_or(&nodes_before, |(_, n)| n), &nodes_after);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let report = report::build(report::Inputs {
        scenario: s,
        world: &w,
        samples: &samples,
        edges: &deltas,
        origin_per_second: &origin_per_second,
        events: event_rows,
        duration_s,
        warmup: warm_end.map(|t| report::WarmupRow { until_s: t.as_secs_f64(), requests: warm_requests }),
        driver: DriverCpu { cpu_s: cpu, share: cpu / (duration_s.max(1e-9) * cores) },
        unique_objects,
        node_counts: &node_counts,
    });
    let mut report = report;
    report.arm = arm.map(str::to_string);
    report.notes.extend(node_notes);
    report.notes.extend(edges.notes());
    report.notes.extend(edges.sources_note());
    if s.workload.trace.is_some() {
        report.trace = Some(crate::trace_compare::compare(&w, &paths, &samples, &edges.last()));
        // expectations on the comparison are judged now that it exists
        report.expectations = report::check_expectations(s, &report);
    }
    let last = edges.last();
    report.shadow = crate::shadow::of(w.edges.iter().map(|e| e.name.as_str()).zip(last.iter().map(Option::as_ref)));
    report.write(out, &samples, &w)?;
    Ok(report)
}

/// The requests every origin site has answered: each one's `/stats`, or
/// the last count read of a site that does not answer (a killed one).
async fn sites_requests(http: &reqwest::Client, admins: &[std::net::SocketAddr], last: &mut [u64]) -> u64 {
    for (a, l) in admins.iter().zip(last.iter_mut()) {
        if let Some(n) = origin_requests(http, *a).await {
            *l = n;
        }
    }
    last.iter().sum()
}

async fn origin_requests(http: &reqwest::Client, admin: std::net::SocketAddr) -> Option<u64> {
    let v: serde_json::Value = http.get(format!("http://{admin}/stats")).send().await.ok()?.json().await.ok()?;
    v.get("requests")?.as_u64()
}

/// CPU seconds (user + system) this process has used.
fn process_cpu() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let Some(rest) = stat.rsplit(')').next() else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // fields after the command: state is index 0; utime 11, stime 12
    (ticks(11) + ticks(12)) / 100.0
}
