//! What an operator watches, served at `GET /metrics` in the Prometheus (OpenMetrics) text format:
//! requests and their latency by route, time to first token and reply duration, replies being
//! written, open live connections by kind, upstream errors by kind, tokens used, and how late
//! events arrive from other replicas. One set per process.

use std::sync::OnceLock;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
    },
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route's pattern (`/api/v1/chats/{id}`), never the raw path.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub first_token: Histogram,
    reply_duration: Family<KindLabel, Histogram, fn() -> Histogram>,
    pub replies_streaming: Gauge,
    connections: Family<KindLabel, Gauge>,
    upstream_errors: Family<KindLabel, Counter>,
    tokens: Family<KindLabel, Counter>,
    pub bus_lag: Histogram,
    /// Passages this process gave a vector (with an embedding model).
    pub passages_embedded: Counter,
}

/// 1 ms to about 65 s, doubling.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("frontdesk");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(seconds);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request (to its headers)",
            latency.clone(),
        );
        let first_token = seconds();
        registry.register(
            "time_to_first_token_seconds",
            "From a reply's start to its first text being published",
            first_token.clone(),
        );
        let reply_duration = Family::<KindLabel, Histogram, fn() -> Histogram>::new_with_constructor(seconds);
        registry.register("reply_duration_seconds", "A reply's whole time, by how it ended", reply_duration.clone());
        let replies_streaming = Gauge::default();
        registry.register("replies_streaming", "Replies this process is writing now", replies_streaming.clone());
        let connections = Family::<KindLabel, Gauge>::default();
        registry.register(
            "open_connections",
            "Live connections open now: sse, chat_ws, staff_ws, panel_ws",
            connections.clone(),
        );
        let upstream_errors = Family::<KindLabel, Counter>::default();
        registry.register("upstream_errors", "Errors from the model's server, by kind", upstream_errors.clone());
        let tokens = Family::<KindLabel, Counter>::default();
        registry.register("tokens", "Tokens used: prompt, completion or estimated", tokens.clone());
        let bus_lag = seconds();
        registry.register(
            "event_bus_lag_seconds",
            "From another replica publishing events to this one receiving them",
            bus_lag.clone(),
        );
        let passages_embedded = Counter::default();
        registry.register(
            "passages_embedded",
            "Passages of the shop's knowledge this process gave a vector (OPENAI_EMBEDDING_MODEL)",
            passages_embedded.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            first_token,
            reply_duration,
            replies_streaming,
            connections,
            upstream_errors,
            tokens,
            bus_lag,
            passages_embedded,
        }
    }

    /// Counts an answered request and its latency.
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let (method, route) = (method.to_string(), route.to_string());
        self.latency.get_or_create(&RouteLabels { method: method.clone(), route: route.clone() }).observe(seconds);
        self.requests.get_or_create(&RequestLabels { method, route, status }).inc();
    }

    /// A reply ended (`complete`, `stopped`, `failed`, `interrupted`) after `seconds`.
    pub fn reply_ended(&self, outcome: &'static str, seconds: f64) {
        self.reply_duration.get_or_create(&KindLabel { kind: outcome }).observe(seconds);
    }

    pub fn upstream_error(&self, kind: &'static str) {
        self.upstream_errors.get_or_create(&KindLabel { kind }).inc();
    }

    /// Tokens of `kind`: `prompt` and `completion` as the upstream reported them, or `estimated`
    /// when it did not.
    pub fn tokens_used(&self, kind: &'static str, tokens: i64) {
        self.tokens.get_or_create(&KindLabel { kind }).inc_by(tokens.max(0) as u64);
    }

    /// One more open live connection of `kind`, until the guard is dropped.
    pub fn connection(&self, kind: &'static str) -> ConnectionGuard {
        let gauge = self.connections.get_or_create(&KindLabel { kind }).clone();
        gauge.inc();
        ConnectionGuard(gauge)
    }

    /// The text a scrape gets.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "could not render the metrics");
        }
        text
    }
}

/// An open live connection, counted until dropped.
pub struct ConnectionGuard(Gauge);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// This process's metrics.
pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_names_every_metric_with_its_labels() {
        let metrics = Metrics::new();
        metrics.request("GET", "/api/v1/chats/{id}", 200, 0.002);
        metrics.tokens_used("completion", 5);
        let _open = metrics.connection("sse");
        let text = metrics.render();
        assert!(
            text.contains(r#"frontdesk_http_requests_total{method="GET",route="/api/v1/chats/{id}",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"frontdesk_tokens_total{kind="completion"} 5"#), "{text}");
        assert!(text.contains(r#"frontdesk_open_connections{kind="sse"} 1"#), "{text}");
        assert!(text.contains("# TYPE frontdesk_time_to_first_token_seconds histogram"), "{text}");
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }
}
