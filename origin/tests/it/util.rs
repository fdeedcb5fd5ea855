//! Helpers: start an origin, a client, raw requests, digests.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use origin::{Config, Handle};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use world::ByteSize;
use world::config::{Catalog, CatalogRule, SizeModel};

pub const TOKEN: &str = "test-token";

/// A small catalog: 1000 objects around 4 KiB, with a rule for `/obj/`.
pub fn catalog() -> Catalog {
    Catalog {
        objects: 1000,
        groups: 10,
        size: SizeModel {
            median: ByteSize::kib(4),
            sigma: 1.0,
            min: ByteSize(64),
            max: ByteSize::kib(256),
            ..Default::default()
        },
        rules: vec![
            CatalogRule::default(),
            CatalogRule {
                prefix: "/obj/".into(),
                cache_control: "public, max-age=60".into(),
                content_type: "application/x-cdnlab".into(),
                tags: vec!["catalog".into()],
                headers: vec!["Vary: Accept-Encoding".into()],
            },
        ],
    }
}

pub fn config() -> Config {
    Config { catalog: catalog(), admin_token: Some(TOKEN.into()), ..Config::default() }
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

pub async fn start_with(config: Config) -> Handle {
    origin::spawn(config, any_port(), any_port()).await.expect("origin starts")
}

pub async fn start() -> Handle {
    start_with(config()).await
}

/// How long a test waits for an answer: far longer than anything takes on
/// an idle machine, so a loaded one does not fail a correct test (the
/// `tests` crate's `PATIENCE`; that crate depends on this one).
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(PATIENCE).build().expect("client")
}

/// `sha-256=:<base64>:` of a body, computed here independently.
pub fn digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body)))
}

pub fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// Sends `request_line` and headers as written (no client clean-up of the
/// path) with `Connection: close`; returns the whole response as text.
pub async fn raw(addr: SocketAddr, request_line: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("{request_line}\r\nHost: origin\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, s.read_to_end(&mut out)).await.expect("answer in time");
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of a raw response.
pub fn status_of(raw: &str) -> u16 {
    raw.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}
