//! A real HTTP server that speaks the OpenAI chat-completions protocol, scripted per request:
//! streamed chunks with usage, error statuses with Retry-After, a stream cut mid-reply, a stall;
//! and the embeddings protocol, with vectors of what words mean (a few words share a meaning:
//! package, parcel and shipment), and failures on demand.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use futures::StreamExt;

/// What the fake does with one request.
#[derive(Debug, Clone)]
pub enum Script {
    /// Streams these pieces (with a pause between them), then usage and [DONE].
    Stream { pieces: Vec<String>, pause: Duration },
    /// Answers with this status, an optional Retry-After (seconds), and an OpenAI error body.
    Status { code: u16, retry_after: Option<u32> },
    /// Streams these pieces, then breaks the connection.
    CutAfter { pieces: Vec<String> },
    /// Streams these pieces, then sends nothing more, ever.
    StallAfter { pieces: Vec<String> },
    /// Streams `first`, waits until `gate` holds true (the test's `watch::Sender` opens it), then
    /// streams `rest`, usage and [DONE].
    Held { first: Vec<String>, rest: Vec<String>, gate: tokio::sync::watch::Receiver<bool> },
}

impl Script {
    pub fn words(text: &str) -> Script {
        Script::Stream { pieces: split(text), pause: Duration::ZERO }
    }

    pub fn slow_words(text: &str, pause: Duration) -> Script {
        Script::Stream { pieces: split(text), pause }
    }
}

pub fn split(text: &str) -> Vec<String> {
    let mut pieces: Vec<String> = text.split_inclusive(' ').map(str::to_string).collect();
    if pieces.is_empty() {
        pieces.push(String::new());
    }
    pieces
}

#[derive(Default)]
struct Inner {
    scripts: VecDeque<Script>,
    default: Option<Script>,
    requests: Vec<serde_json::Value>,
    /// The inputs of each embeddings request, and how many of the next ones fail (503).
    embedded: Vec<Vec<String>>,
    embed_failures: usize,
}

#[derive(Clone, Default)]
pub struct FakeOpenAi {
    inner: Arc<Mutex<Inner>>,
    pub addr: Option<SocketAddr>,
}

impl FakeOpenAi {
    pub async fn start() -> FakeOpenAi {
        let mut fake = FakeOpenAi::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        fake.addr = Some(listener.local_addr().unwrap());
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/v1/embeddings", post(embeddings))
            .with_state(fake.clone());
        tokio::spawn(async move {
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app).await.unwrap()
        });
        fake
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr.expect("started"))
    }

    /// Queues scripts for the next requests; with none queued the fake answers "Hello from the fake model."
    pub fn push(&self, script: Script) {
        self.inner.lock().unwrap().scripts.push_back(script);
    }

    /// What to answer when no script is queued.
    pub fn set_default(&self, script: Script) {
        self.inner.lock().unwrap().default = Some(script);
    }

    /// The texts of each embeddings request so far.
    pub fn embedded(&self) -> Vec<Vec<String>> {
        self.inner.lock().unwrap().embedded.clone()
    }

    /// The next `count` embeddings requests fail with 503.
    pub fn fail_embeddings(&self, count: usize) {
        self.inner.lock().unwrap().embed_failures = count;
    }

    /// The JSON bodies received so far.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.inner.lock().unwrap().requests.clone()
    }
}

pub const DEFAULT_REPLY: &str = "Hello from the fake model.";

fn chunk(content: Option<&str>, usage: bool) -> Bytes {
    let mut value = serde_json::json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "fake-model",
        "choices": [],
    });
    if let Some(text) = content {
        value["choices"] = serde_json::json!([{ "index": 0, "delta": { "role": "assistant", "content": text }, "finish_reason": null }]);
    }
    if usage {
        value["usage"] = serde_json::json!({ "prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18 });
    }
    Bytes::from(format!("data: {value}\n\n"))
}

async fn completions(State(fake): State<FakeOpenAi>, Json(body): Json<serde_json::Value>) -> Response {
    let script = {
        let mut inner = fake.inner.lock().unwrap();
        inner.requests.push(body);
        let fallback = inner.default.clone().unwrap_or_else(|| Script::words(DEFAULT_REPLY));
        inner.scripts.pop_front().unwrap_or(fallback)
    };
    let sse = |stream: futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>>| {
        Response::builder().header(header::CONTENT_TYPE, "text/event-stream").body(Body::from_stream(stream)).unwrap()
    };
    match script {
        Script::Status { code, retry_after } => {
            let mut response = (
                StatusCode::from_u16(code).unwrap(),
                Json(serde_json::json!({"error": {"message": format!("fake error {code}"), "type": "fake", "param": null, "code": null}})),
            )
                .into_response();
            if let Some(secs) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, secs.to_string().parse().unwrap());
            }
            response
        }
        Script::Stream { pieces, pause } => {
            let body = futures::stream::iter(pieces.into_iter().enumerate())
                .then(move |(i, piece)| async move {
                    if i > 0 && !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                    Ok::<_, std::io::Error>(chunk(Some(&piece), false))
                })
                .chain(futures::stream::iter([Ok(chunk(None, true)), Ok(Bytes::from_static(b"data: [DONE]\n\n"))]));
            sse(body.boxed())
        }
        Script::CutAfter { pieces } => {
            let body = futures::stream::iter(pieces.into_iter().map(|p| Ok(chunk(Some(&p), false)))).chain(
                futures::stream::once(async {
                    // Let the pieces reach the client before the connection breaks.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err(std::io::Error::other("cut"))
                }),
            );
            sse(body.boxed())
        }
        Script::Held { first, rest, mut gate } => {
            let opened = futures::stream::once(async move {
                let _ = gate.wait_for(|open| *open).await;
                futures::stream::iter(rest.into_iter().map(|p| Ok(chunk(Some(&p), false))))
            })
            .flatten();
            let body = futures::stream::iter(first.into_iter().map(|p| Ok(chunk(Some(&p), false))))
                .chain(opened)
                .chain(futures::stream::iter([Ok(chunk(None, true)), Ok(Bytes::from_static(b"data: [DONE]\n\n"))]));
            sse(body.boxed())
        }
        Script::StallAfter { pieces } => {
            let body = futures::stream::iter(pieces.into_iter().map(|p| Ok(chunk(Some(&p), false))))
                .chain(futures::stream::pending());
            sse(body.boxed())
        }
    }
}

/// Dimensions of the fake's vectors.
pub const EMBEDDING_DIMENSIONS: usize = 1024;

/// What a word means to the fake: a few words share one meaning.
fn meaning(word: &str) -> &str {
    match word {
        "package" | "packages" | "parcel" | "parcels" | "shipment" | "shipments" => "parcel",
        other => other,
    }
}

/// A text's vector: a count per meaning of its words, each meaning in a slot of its own hash.
pub fn fake_embedding(text: &str) -> Vec<f32> {
    let mut vector = vec![0f32; EMBEDDING_DIMENSIONS];
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 2) {
        let word = word.to_lowercase();
        let hash =
            meaning(&word).bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
        vector[(hash % EMBEDDING_DIMENSIONS as u64) as usize] += 1.0;
    }
    vector
}

async fn embeddings(State(fake): State<FakeOpenAi>, Json(body): Json<serde_json::Value>) -> Response {
    let texts: Vec<String> = match &body["input"] {
        serde_json::Value::String(text) => vec![text.clone()],
        serde_json::Value::Array(items) => items.iter().filter_map(|t| t.as_str().map(str::to_string)).collect(),
        _ => return (StatusCode::BAD_REQUEST, "input must be text").into_response(),
    };
    {
        let mut inner = fake.inner.lock().unwrap();
        inner.embedded.push(texts.clone());
        if inner.embed_failures > 0 {
            inner.embed_failures -= 1;
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"error": {"message": "fake outage", "type": "fake", "param": null, "code": null}})),
            )
                .into_response();
        }
    }
    let data: Vec<serde_json::Value> = texts
        .iter()
        .enumerate()
        .map(|(index, text)| serde_json::json!({"object": "embedding", "index": index, "embedding": fake_embedding(text)}))
        .collect();
    Json(serde_json::json!({"object": "list", "model": body["model"], "data": data,
        "usage": {"prompt_tokens": 8, "total_tokens": 8}}))
    .into_response()
}
