//! Wiring: the two listeners served through
//! [`runtime::serve::serve_http`] (bytes metered at the socket) until
//! the server's [`Shutdown`] fires.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::service::service_fn;
use runtime::Shutdown;
use runtime::serve::{Peer, serve_http, serve_http_paced};
use tokio::net::TcpListener;
use tracing::Instrument as _;

use crate::state::State;
use crate::{admin, public};

/// Serves both listeners until `shutdown` fires, then drains requests in
/// flight.
pub(crate) async fn run(st: Arc<State>, public: TcpListener, admin: TcpListener, shutdown: Shutdown) {
    if let (Ok(p), Ok(a)) = (public.local_addr(), admin.local_addr()) {
        tracing::info!(public = %p, admin = %a, objects = st.catalog.objects, root = ?st.files.as_ref().map(|f| f.root().to_path_buf()), "origin listening");
    }
    let (public_st, hang) = (st.clone(), shutdown.clone());
    let public = serve_http_paced(
        public,
        st.public_traffic.clone(),
        st.pacing.clone(),
        move |_: Peer| {
            let (st, hang) = (public_st.clone(), hang.clone());
            service_fn(move |req| {
                let (st, hang) = (st.clone(), hang.clone());
                let span = tracing::debug_span!("public", method = %req.method(), path = req.uri().path());
                async move { Ok::<_, Infallible>(public::handle(st, req, hang).instrument(span).await) }
            })
        },
        shutdown.clone(),
    );
    let shutdown_follow = shutdown.clone();
    let admin_st = st.clone();
    let admin = serve_http(
        admin,
        st.admin_traffic.clone(),
        move |_: Peer| {
            let st = admin_st.clone();
            service_fn(move |req| {
                let st = st.clone();
                let span = tracing::debug_span!("admin", method = %req.method(), path = req.uri().path());
                async move { Ok::<_, Infallible>(admin::handle(st, req).instrument(span).await) }
            })
        },
        shutdown,
    );
    let follow = crate::follow::run(st.clone(), shutdown_follow);
    tokio::join!(public, admin, follow);
    tracing::info!("origin stopped");
}
