//! Prometheus metrics of a served app, exposed in the Prometheus text format at `/metrics` on
//! the admin listener (`--admin-listen`, see [`crate::admin`]).
//!
//! One explicit [`Registry`] per server (no process-wide recorder), kept across reloads, so
//! that counters do not restart when the app is replaced. Label values are bounded: a request
//! is counted under its handler's pattern (`GET /hello/:name`), never under its raw path.
//!
//! | metric | type | labels |
//! |--------|------|--------|
//! | `karman_http_requests_total` | counter | `route`, `status` |
//! | `karman_http_request_duration_seconds` | histogram | `route` |
//! | `karman_step_duration_seconds` | histogram | `component`, `outcome` |
//! | `karman_instantiation_duration_seconds` | histogram | `component` |
//! | `karman_instances_in_use` | gauge | — |
//! | `karman_instances_warm` | gauge | `component` |
//! | `karman_instances_refused_total` | counter | `reason` (`instances`, `memory`) |
//! | `karman_capability_calls_total` | counter | `capability`, `backend`, `outcome` |
//! | `karman_stream_messages_…`, `karman_schedule_…` | see [`karman_streams::StreamMetrics`] | `handler`, `schedule` |
//! | `karman_backend_up` | gauge | `backend` (1 connected, 0 connecting) |
//! | `karman_build_info` | gauge (always 1) | `version`, `wit` |
//!
//! ```
//! let metrics = karman::Metrics::new();
//! let hello = metrics.route("GET /hello/:name".into());
//! hello.observe(200, std::time::Duration::from_millis(3));
//! hello.observe(200, std::time::Duration::from_millis(2));
//! let text = metrics.render(&[("cache", true)]);
//! assert!(text.contains(r#"karman_http_requests_total{route="GET /hello/:name",status="200"} 2"#));
//! assert!(text.contains(r#"karman_backend_up{backend="cache"} 1"#));
//! ```

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use karman_runtime::ShardedHistogram;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the request-duration buckets, in seconds: 0.5 ms to about 33 s.
const DURATION_BUCKETS: [f64; 17] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
    30.0, 60.0,
];

/// What answered a request, as a metric label: a handler's method and pattern, `/ext/<plugin>`,
/// or one of the fixed names (`health`, `headless`, `static`, `websocket`, `unmatched`, …).
pub type RouteLabel = Arc<str>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: RouteLabel,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: RouteLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabels {
    backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    wit: &'static str,
}

/// The request metrics of one route (see [`Metrics::route`]); clones share them. Its series
/// appear in the exposition once a request is counted.
#[derive(Clone)]
pub struct RouteMetrics(Arc<RouteSeries>);

struct RouteSeries {
    route: RouteLabel,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, ShardedHistogram, fn() -> ShardedHistogram>,
    /// The counter of status 200 (the usual answer), looked up at its first request.
    answered_200: OnceLock<Counter>,
    duration: OnceLock<ShardedHistogram>,
}

impl std::fmt::Debug for RouteMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RouteMetrics").field(&self.0.route).finish()
    }
}

impl RouteMetrics {
    /// The route's label.
    pub fn label(&self) -> &RouteLabel {
        &self.0.route
    }

    /// Counts one answered request.
    pub fn observe(&self, status: u16, duration: Duration) {
        let series = &*self.0;
        let counter = |status| {
            series
                .requests
                .get_or_create(&RequestLabels {
                    route: series.route.clone(),
                    status,
                })
                .clone()
        };
        if status == 200 {
            series.answered_200.get_or_init(|| counter(200)).inc();
        } else {
            counter(status).inc();
        }
        series
            .duration
            .get_or_init(|| {
                series
                    .durations
                    .get_or_create(&RouteLabels {
                        route: series.route.clone(),
                    })
                    .clone()
            })
            .observe(duration.as_secs_f64());
    }
}

/// The metrics of one server.
pub struct Metrics {
    registry: Registry,
    runtime: karman_runtime::RuntimeMetrics,
    streams: karman_streams::StreamMetrics,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, ShardedHistogram, fn() -> ShardedHistogram>,
    backends: Family<BackendLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric registered, none observed yet.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("karman");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, ShardedHistogram>::new_with_constructor(
            (|| ShardedHistogram::new(&DURATION_BUCKETS)) as fn() -> ShardedHistogram,
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's head to its response head, by route",
            Unit::Seconds,
            durations.clone(),
        );
        let backends = Family::<BackendLabels, Gauge>::default();
        registry.register(
            "backend_up",
            "Whether each backend is connected (1) or still connecting (0)",
            backends.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                wit: karman_runtime::wit::PACKAGE,
            })
            .set(1);
        registry.register(
            "build_info",
            "The Karman version and the WIT package it serves (always 1)",
            build,
        );
        let runtime = karman_runtime::RuntimeMetrics::default();
        runtime.register(&mut registry);
        let streams = karman_streams::StreamMetrics::default();
        streams.register(&mut registry);
        Self {
            registry,
            runtime,
            streams,
            requests,
            durations,
            backends,
        }
    }

    /// Where the runtime counts steps and instantiations: given to every app this server
    /// loads (`RuntimeConfig::metrics`).
    pub fn runtime(&self) -> karman_runtime::RuntimeMetrics {
        self.runtime.clone()
    }

    /// Where stream handlers and schedules are counted: given to every app this server starts
    /// (`StreamsConfig::metrics`).
    pub fn streams(&self) -> karman_streams::StreamMetrics {
        self.streams.clone()
    }

    /// Where the requests of `route` are counted: made once per route, so that a request
    /// does not look its series up by label.
    pub fn route(&self, route: RouteLabel) -> RouteMetrics {
        RouteMetrics(Arc::new(RouteSeries {
            route,
            requests: self.requests.clone(),
            durations: self.durations.clone(),
            answered_200: OnceLock::new(),
            duration: OnceLock::new(),
        }))
    }

    /// The exposition, with each backend's state as given (`true`: connected).
    pub fn render(&self, backends: &[(&str, bool)]) -> String {
        for (backend, up) in backends {
            self.backends
                .get_or_create(&BackendLabels {
                    backend: (*backend).to_string(),
                })
                .set(i64::from(*up));
        }
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
