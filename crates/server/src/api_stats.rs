//! The API's request durations, measured by a middleware around every
//! route of the API address and rendered by `/metrics`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use loupe_ops::{Collect, Exposition, Histogram, Kind};

/// Durations of API answers by route template and status class. The
/// routes are a fixed set (templates, not paths), so the map stays small;
/// a read lock suffices once a route has been seen.
#[derive(Default)]
pub struct ApiStats {
    by_route: RwLock<HashMap<(String, &'static str), Arc<Histogram>>>,
}

fn class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl ApiStats {
    fn histogram(&self, route: &str, code: &'static str) -> Arc<Histogram> {
        let key = (route.to_string(), code);
        if let Some(h) = self
            .by_route
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return h.clone();
        }
        self.by_route
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert_with(|| Arc::new(Histogram::durations()))
            .clone()
    }
}

impl Collect for ApiStats {
    fn collect(&self, out: &mut Exposition) {
        out.family(
            "api_request_duration_seconds",
            "Time to answer requests on the API address, by route and status class.",
            Kind::Histogram,
        );
        let mut all: Vec<_> = self
            .by_route
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        for ((route, code), h) in all {
            out.histogram(&[("route", &route), ("code", code)], &h);
        }
    }
}

/// Times every request of the API address. Unmatched paths (the UI's
/// files and pages) count under one route, `/*`, so the label set stays
/// bounded whatever paths clients ask for.
pub async fn measure(State(stats): State<Arc<ApiStats>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "/*".to_string());
    let start = Instant::now();
    let resp = next.run(req).await;
    stats
        .histogram(&route, class(resp.status().as_u16()))
        .observe_duration(start.elapsed());
    resp
}
