//! The live dashboard: a web page served by `cdn up` and `cdn run` that
//! shows the world working (map, per-node numbers, GeoDNS, purges, charts,
//! the scenario's progress) and drives it (purge, bump, kill and restart an
//! edge, origin outage).
//!
//! | file | holds |
//! | --- | --- |
//! | [`model`] | nodes (role, region, PoP, health), links, what a tick carries |
//! | [`poll`] | one round of reading the admin APIs (the same ones `cdn stats` reads) |
//! | [`hub`] | the state, its history, and the broadcast of each round |
//! | [`sse`] | `GET /api/stream`: server-sent events, `init` then one `tick` a second |
//! | [`controls`] | `POST /api/…`: the controls, behind the world's admin token |
//! | [`feed`] | what `cdn run` adds: the scenario, progress, the clients' latency |
//! | [`purges`] | purges sent by others (`cdn purge`, scripts), read from the edges |
//! | `assets/` | the page: hand-written HTML, CSS and JS, compiled into the binary |
//!
//! One poller per dashboard reads every component once a second and
//! broadcasts the result to every open page; pages never poll. Controls call
//! the functions scenario events use ([`crate::events`]), which call the
//! same code as `cdn purge`.

pub mod controls;
pub mod feed;
pub mod hub;
pub mod model;
pub mod poll;
pub mod prom_text;
pub mod purges;
pub mod sse;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hyper_util::service::TowerToHyperService;

pub use feed::RunFeed;
pub use hub::Hub;

use crate::events::Ctx;

/// The page and its assets, compiled in.
const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// How often the components are read (and pages updated).
pub const INTERVAL: Duration = Duration::from_secs(1);

/// A running dashboard; dropping it stops it.
pub struct Dashboard {
    /// Where it listens.
    pub addr: SocketAddr,
    _server: runtime::Handle<std::convert::Infallible>,
}

impl Dashboard {
    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// Binds `listen` and starts serving the page and polling the world of
/// `ctx` (with `run`'s feed during `cdn run`).
pub async fn start(listen: SocketAddr, ctx: Arc<Ctx>, run: Option<Arc<RunFeed>>) -> anyhow::Result<Dashboard> {
    let listener = runtime::net::bind("dashboard", listen).await?;
    let addr = listener.local_addr()?;
    let hub = Arc::new(Hub::new(ctx.world.clone(), ctx, run));
    let http = poll::client()?;
    let poller = {
        let hub = hub.clone();
        async move {
            let mut tick = tokio::time::interval(INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let origin_url = hub.ctx.origin_url.as_deref();
                let r = poll::round(&http, &hub.world, hub.run.is_none(), &hub.purge_cursors(), origin_url).await;
                hub.apply(r);
            }
        }
    };
    let router = router(hub);
    let server = runtime::Handle::spawn(|shutdown| async move {
        let serve = runtime::serve::serve_http(
            listener,
            Arc::new(runtime::metered::Traffic::default()),
            move |_| TowerToHyperService::new(router.clone()),
            shutdown.clone(),
        );
        // The page is served while the poller runs; both end at shutdown.
        let polling = async {
            tokio::select! {
                () = poller => {}
                () = shutdown.stopped() => {}
            }
        };
        tokio::join!(serve, polling);
        Ok(())
    });
    Ok(Dashboard { addr, _server: server })
}

/// The routes.
pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/", get(|| asset(INDEX_HTML, "text/html; charset=utf-8")))
        .route("/app.js", get(|| asset(APP_JS, "text/javascript; charset=utf-8")))
        .route("/app.css", get(|| asset(APP_CSS, "text/css; charset=utf-8")))
        .route("/api/stream", get(sse::stream))
        .route("/api/auth", post(controls::auth))
        .route("/api/purge", post(controls::purge))
        .route("/api/bump", post(controls::bump))
        .route("/api/edges/{name}/kill", post(controls::kill))
        .route("/api/edges/{name}/restart", post(controls::restart))
        .route("/api/origin/outage", post(controls::outage_start).delete(controls::outage_stop))
        .fallback(|| async { controls::error(axum::http::StatusCode::NOT_FOUND, "no such page".into()) })
        .with_state(hub)
}

async fn asset(body: &'static str, content_type: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            // Everything comes from here: no inline script, nothing from elsewhere.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        body,
    )
}
