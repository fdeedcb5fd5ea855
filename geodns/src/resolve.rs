//! `cdn resolve IP`: asks the running geodns (`/resolve` on the world's
//! geodns HTTP address) and prints its decision; when none answers, decides
//! offline from the world (demo GeoIP database, health unknown) and says so.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use world::World;

use crate::choice::{Chooser, Routes};
use crate::health::{Health, Mode};
use geoip::GeoIp;

/// How long to wait for the running geodns.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// Prints the routing decision for `ip` (JSON with `json`).
pub async fn resolve_command(world: &World, ip: IpAddr, json: bool) -> anyhow::Result<()> {
    let (mut v, note) = decision(world, ip).await?;
    if let (Some(n), Some(obj)) = (note, v.as_object_mut()) {
        obj.insert("note".into(), Value::String(n));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", human(&v));
    }
    Ok(())
}

/// The running geodns's decision for `ip`, or, when none answers, the
/// offline one with a note saying so.
pub async fn decision(world: &World, ip: IpAddr) -> anyhow::Result<(Value, Option<String>)> {
    let addr = world.geodns.http;
    let path = format!("/resolve?ip={ip}");
    match runtime::http_get::get(addr, &path, ASK_TIMEOUT).await {
        Ok((s, body)) if s.is_success() => Ok((serde_json::from_slice::<Value>(&body)?, None)),
        Ok((s, body)) => anyhow::bail!("geodns at {addr} answered {s}: {}", String::from_utf8_lossy(&body).trim()),
        Err(e) => Ok((
            offline(world, ip)?,
            Some(format!("geodns at {addr} did not answer ({e}): offline decision from the world")),
        )),
    }
}

/// The decision without a running geodns: the demo database generated from
/// the world, no health information.
pub fn offline(world: &World, ip: IpAddr) -> anyhow::Result<Value> {
    let geoip = GeoIp::from_bytes(geoip::build::build(world)?, "generated from the world")?;
    let routes = Routes::new(world);
    let health = Arc::new(Health::new(routes.capacity, Mode::Check, 1, 1));
    let chooser = Chooser::new(geoip, routes, health);
    Ok(serde_json::to_value(chooser.decide(ip, "query"))?)
}

/// The decision as a few lines for people.
pub fn human(v: &Value) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
    let mut out = String::new();
    let target = match v.get("edge").and_then(Value::as_str) {
        Some(e) => format!("edge {e} ({})", s("region")),
        None => format!("origin ({}) — no edge is healthy", s("region")),
    };
    let rtt = v.get("rtt_ms").and_then(Value::as_f64).unwrap_or(f64::NAN);
    out.push_str(&format!("{} → {target} at {}, modelled RTT {rtt} ms\n", s("ip"), s("address")));
    out.push_str(&format!("  why:     {}\n", s("why")));
    if let Some(g) = v.get("geoip").filter(|g| !g.is_null()) {
        let f = |k: &str| g.get(k).map(|x| x.to_string().trim_matches('"').to_string());
        out.push_str(&format!(
            "  geoip:   {} {} ({}, {}), network /{}\n",
            f("city").unwrap_or_default(),
            f("country").unwrap_or_default(),
            f("lat").unwrap_or_default(),
            f("lon").unwrap_or_default(),
            v.get("geoip_prefix").and_then(Value::as_u64).unwrap_or(0)
        ));
    } else {
        out.push_str("  geoip:   no record\n");
    }
    out.push_str(&format!("  health:  {}\n", s("health")));
    if let Some(r) = v.get("ranking").and_then(Value::as_array) {
        let parts: Vec<String> = r
            .iter()
            .map(|e| {
                let g = |k: &str| e.get(k).map(|x| x.to_string().trim_matches('"').to_string()).unwrap_or_default();
                format!("{} {} ms {}", g("edge"), g("rtt_ms"), g("state"))
            })
            .collect();
        out.push_str(&format!("  ranking: {}\n", parts.join(" · ")));
    }
    if let Some(n) = v.get("note").and_then(Value::as_str) {
        out.push_str(&format!("  note:    {n}\n"));
    }
    out
}
