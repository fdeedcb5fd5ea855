//! The HTTP side: `/resolve?ip=…` (the decision as JSON), `/r/{path}` (302
//! to the chosen edge, for `curl -L`), `/edges` (the health table),
//! `/stats` (answers by client region and edge, JSON), `/metrics`
//! (Prometheus) and `/healthz`.
//!
//! A request's client is the connection's source address, or the address
//! in `X-Forwarded-For` when the connection comes from a proxy the world
//! trusts (`geodns.trusted_proxies`): the header is read right to left,
//! skipping trusted proxies, and the first other address is the client.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ipnet::IpNet;
use runtime::serve::Peer;
use serde::Deserialize;

use crate::dns::Dns;
use crate::metrics::HttpRoute;

/// What the HTTP handlers share.
pub struct App {
    /// The chooser and the counters the DNS side uses too.
    pub dns: Arc<Dns>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted: Vec<IpNet>,
}

/// The router; each request must carry its connection's [`Peer`] as an
/// extension (see [`service`]).
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/resolve", get(resolve))
        .route("/r/{*path}", get(redirect).head(redirect))
        .route("/edges", get(edges))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .with_state(app)
}

/// The per-connection service for [`runtime::serve::serve_http`].
pub fn service(
    router: Router,
    peer: Peer,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send,
> + Send
+ 'static {
    hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(peer);
        let router = router.clone();
        async move { tower::ServiceExt::oneshot(router, req.map(axum::body::Body::new)).await }
    })
}

/// The client of a request: `X-Forwarded-For` from trusted peers only.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> (IpAddr, &'static str) {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return (peer, "source");
    }
    let hops = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
    let mut client = (peer, "source");
    for hop in hops.rev().map(str::trim) {
        let Some(ip) = parse_hop(hop) else { break };
        client = (ip, "xff");
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// An `X-Forwarded-For` element: `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`.
fn parse_hop(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip().to_canonical())
}

#[derive(Deserialize)]
struct ResolveQuery {
    ip: Option<String>,
}

fn json_error(status: StatusCode, msg: String) -> Response {
    (status, axum::Json(serde_json::json!({ "error": msg }))).into_response()
}

async fn resolve(
    State(app): State<Arc<App>>,
    peer: Option<axum::Extension<Peer>>,
    headers: HeaderMap,
    Query(q): Query<ResolveQuery>,
) -> Response {
    app.dns.metrics.http(HttpRoute::Resolve);
    let (ip, by) = match q.ip.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => match s.parse::<IpAddr>() {
            Ok(ip) => (ip.to_canonical(), "query"),
            Err(_) => return json_error(StatusCode::BAD_REQUEST, format!("`{s}` is not an IP address")),
        },
        _ => match peer {
            Some(p) => client_ip(p.remote.ip(), &headers, &app.trusted),
            None => return json_error(StatusCode::BAD_REQUEST, "give ?ip=ADDRESS".into()),
        },
    };
    axum::Json(app.dns.chooser.decide(ip, by)).into_response()
}

async fn redirect(
    State(app): State<Arc<App>>,
    peer: Option<axum::Extension<Peer>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    app.dns.metrics.http(HttpRoute::Redirect);
    // The path as sent (still percent-encoded), not the decoded one.
    let path = uri.path().strip_prefix("/r/").unwrap_or_default();
    let Some(axum::Extension(peer)) = peer else {
        return json_error(StatusCode::INTERNAL_SERVER_ERROR, "no connection information".into());
    };
    let (ip, _) = client_ip(peer.remote.ip(), &headers, &app.trusted);
    let chooser = &app.dns.chooser;
    let route = chooser.route(ip);
    let routes = chooser.routes();
    let (addr, who) = match route.edge.and_then(|e| routes.edges.get(e)) {
        Some(edge) => (edge.listen, format!("edge-{}", edge.name)),
        None => (routes.world().origin.listen, "origin".to_string()),
    };
    let mut location = format!("http://{addr}/{path}");
    if let Some(q) = uri.query() {
        location.push('?');
        location.push_str(q);
    }
    let Ok(loc) = HeaderValue::from_str(&location) else {
        return json_error(StatusCode::BAD_REQUEST, "path cannot be redirected".into());
    };
    let mut resp = (StatusCode::FOUND, format!("{who} for {ip}: {location}\n")).into_response();
    let h = resp.headers_mut();
    h.insert(header::LOCATION, loc);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&who) {
        h.insert("x-cdnlab-target", v);
    }
    resp
}

async fn edges(State(app): State<Arc<App>>) -> Response {
    app.dns.metrics.http(HttpRoute::Edges);
    let h = &app.dns.chooser.health;
    let r = app.dns.chooser.routes();
    axum::Json(serde_json::json!({
        "health": h.mode(),
        "edges": h.table(&r.edges, &r.present, r.world().edges.len()),
    }))
    .into_response()
}

/// `/stats`: `{"answers_by_region": {"tokyo": {"tokyo": 41, "seoul": 3}, "other": {…}}}`:
/// A/AAAA answers so far by the client's region (`other`: located in no
/// region) and the edge answered (`origin` when none was healthy).
async fn stats(State(app): State<Arc<App>>) -> Response {
    app.dns.metrics.http(HttpRoute::Stats);
    axum::Json(serde_json::json!({ "answers_by_region": app.dns.metrics.by_region(&app.dns.chooser) })).into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    app.dns.metrics.http(HttpRoute::Metrics);
    let body = app.dns.metrics.render(&app.dns.chooser);
    ([(header::CONTENT_TYPE, runtime::prom::CONTENT_TYPE)], body).into_response()
}

async fn healthz(State(app): State<Arc<App>>) -> &'static str {
    app.dns.metrics.http(HttpRoute::Healthz);
    "ok\n"
}

async fn not_found(State(app): State<Arc<App>>, uri: Uri) -> Response {
    app.dns.metrics.http(HttpRoute::Other);
    json_error(
        StatusCode::NOT_FOUND,
        format!("no route {}; try /resolve?ip=…, /r/PATH, /edges or /metrics", uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[&str]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for x in v {
            m.append("x-forwarded-for", HeaderValue::from_str(x).unwrap());
        }
        m
    }

    #[test]
    fn forwarded_for_only_from_trusted_peers() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let tokyo: IpAddr = "127.2.0.9".parse().unwrap();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        // Untrusted peer: its own address, whatever the header says.
        assert_eq!(client_ip(tokyo, &h(&["127.1.0.5"]), &trusted), (tokyo, "source"));
        // Trusted peer: the rightmost untrusted hop.
        let (ip, by) = client_ip(lo, &h(&["127.3.0.7, 127.1.0.5"]), &trusted);
        assert_eq!((ip.to_string().as_str(), by), ("127.1.0.5", "xff"));
        let (ip, _) = client_ip(lo, &h(&["127.3.0.7", "127.1.0.5, 127.0.0.1"]), &trusted);
        assert_eq!(ip.to_string(), "127.1.0.5");
        let (ip, _) = client_ip(lo, &h(&["[2001:db8:2::1]:443"]), &trusted);
        assert_eq!(ip.to_string(), "2001:db8:2::1");
        // Garbage stops the walk; no header: the peer.
        assert_eq!(client_ip(lo, &h(&["nonsense"]), &trusted), (lo, "source"));
        assert_eq!(client_ip(lo, &HeaderMap::new(), &trusted), (lo, "source"));
    }
}
