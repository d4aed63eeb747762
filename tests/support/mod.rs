//! Test harness: the real app on a real port, over a fresh SQLite file or a fresh PostgreSQL
//! database, with the assistant pointed at a local fake OpenAI server.
#![allow(dead_code)]

pub mod fake_openai;
pub mod process;
pub mod smtp;

use std::time::Duration;

use frontdesk::{
    model::{Event, EventKind, Message, MessageStatus},
    server::{app::Frontdesk, config::Config, http::router},
};
use futures::StreamExt;
use serde_json::{json, Value};

#[allow(unused_imports)]
pub use fake_openai::{FakeOpenAi, Script};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per database from `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            )*
        }
    };
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    drop_pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/frontdesk.db", dir.path().display());
                TestDb { url, _dir: Some(dir), drop_pg: None }
            }
            Backend::Postgres => {
                let admin = std::env::var("TEST_POSTGRES_URL").expect(
                    "TEST_POSTGRES_URL is not set: run `make test-rust` (it starts or finds a PostgreSQL) \
                     or export TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres",
                );
                let name = format!("fd_test_{}", rand::random::<u64>());
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.unwrap();
                sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str()).await.unwrap();
                let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap();
                TestDb { url: format!("{base}/{name}"), _dir: None, drop_pg: Some((admin, name)) }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.drop_pg.take() {
            // Dropped from a plain thread: the test's runtime may be shutting down.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await {
                        let _ = sqlx::Executor::execute(
                            &mut conn,
                            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                        )
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub jar: std::sync::Arc<reqwest::cookie::Jar>,
    pub state: Frontdesk,
    pub fake: Option<FakeOpenAi>,
    pub db: TestDb,
}

pub struct Options {
    pub fake: bool,
    pub configure: Box<dyn FnOnce(&mut Config) + Send>,
}

impl Default for Options {
    fn default() -> Self {
        Options { fake: true, configure: Box::new(|_| {}) }
    }
}

impl TestApp {
    /// The app with the fake OpenAI server as its assistant.
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, Options::default()).await
    }

    /// The app with the offline assistant (no key).
    pub async fn offline(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, Options { fake: false, ..Options::default() }).await
    }

    pub async fn spawn_with(backend: Backend, options: Options) -> TestApp {
        let db = TestDb::new(backend).await;
        let fake = if options.fake { Some(FakeOpenAi::start().await) } else { None };
        let mut config = Config::for_database(db.url.clone());
        config.offline_word_delay_ms = 0;
        config.openai_idle_timeout_secs = 2;
        config.openai_max_retries = 2;
        if let Some(fake) = &fake {
            config.openai_api_key = Some("test-key".into());
            config.openai_base_url = fake.base_url();
            config.openai_model = "fake-model".into();
        }
        (options.configure)(&mut config);
        TestApp::serve(config, fake, db).await
    }

    /// Starts a server on a database that already has data (a restart).
    pub async fn restart(self) -> TestApp {
        let TestApp { state, fake, db, client, jar, .. } = self;
        let config = (*state.config).clone();
        // The old server stops (on PostgreSQL it leaves the replicas' list: its replies are
        // nobody's now).
        state.replies.leave().await;
        drop(state);
        let mut app = TestApp::serve(config, fake, db).await;
        // The same browser comes back: its cookies outlive the server.
        app.client = client;
        app.jar = jar;
        app
    }

    /// Another replica: a second server (its own hub, connections and port) on the same database
    /// and assistant, for the same visitor.
    pub async fn replica(&self) -> TestApp {
        let config = (*self.state.config).clone();
        let db = TestDb { url: self.db.url.clone(), _dir: None, drop_pg: None };
        let mut app = TestApp::serve(config, self.fake.clone(), db).await;
        app.client = self.client.clone();
        app.jar = self.jar.clone();
        app
    }

    async fn serve(config: Config, fake: Option<FakeOpenAi>, db: TestDb) -> TestApp {
        let state = Frontdesk::build(config).await.expect("the app starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(state.clone());
        tokio::spawn(frontdesk::server::serve(listener, app, std::future::pending()));
        let (client, jar) = visitor();
        TestApp { base: format!("http://{addr}"), client, jar, state, fake, db }
    }

    pub fn fake(&self) -> &FakeOpenAi {
        self.fake.as_ref().expect("this app has a fake OpenAI server")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A second, unrelated visitor (their own cookie jar).
    pub fn another_visitor(&self) -> reqwest::Client {
        visitor().0
    }

    /// The user id of the visitor who owns `chat`.
    pub async fn owner_of(&self, chat: i64) -> i64 {
        let (owner,): (i64,) = sqlx::query_as("SELECT owner_id FROM chats WHERE id = $1")
            .bind(chat)
            .fetch_one(&self.state.db.read)
            .await
            .unwrap();
        owner
    }

    /// The Cookie header this visitor sends (for raw WebSocket connections).
    pub fn cookie_header(&self) -> String {
        use reqwest::cookie::CookieStore;
        self.jar
            .cookies(&self.base.parse().unwrap())
            .map(|v| v.to_str().unwrap().to_string())
            .expect("the visitor has a session cookie")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        read(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        read(self.client.post(self.url(path)).json(&body).send().await.unwrap()).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        read(self.client.put(self.url(path)).json(&body).send().await.unwrap()).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        read(self.client.patch(self.url(path)).json(&body).send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        read(self.client.delete(self.url(path)).send().await.unwrap()).await
    }

    /// Creates a chat and returns its id.
    pub async fn new_chat(&self) -> i64 {
        let (status, chat) = self.post("/api/v1/chats", json!({})).await;
        assert_eq!(status, 201, "{chat}");
        chat["id"].as_i64().unwrap()
    }

    /// Sends a message and waits for the reply to end.
    pub async fn send_and_wait(&self, chat: i64, content: &str) -> (Message, Message) {
        let (status, body) =
            self.post(&format!("/api/v1/chats/{chat}/messages?wait=true"), json!({"content": content})).await;
        assert_eq!(status, 201, "{body}");
        (
            serde_json::from_value(body["message"].clone()).unwrap(),
            serde_json::from_value(body["reply"].clone()).unwrap(),
        )
    }

    pub async fn messages(&self, chat: i64) -> Vec<Message> {
        let (status, page) = self.get(&format!("/api/v1/chats/{chat}/messages?limit=100")).await;
        assert_eq!(status, 200, "{page}");
        serde_json::from_value(page["messages"].clone()).unwrap()
    }

    /// Waits (on the event stream, not the clock) until a message has ended.
    pub async fn until_ended(&self, chat: i64, message_id: i64) -> Message {
        let mut events = self.events(chat, Some(0)).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let current = self.messages(chat).await.into_iter().find(|m| m.id == message_id).expect("message exists");
            if current.status != MessageStatus::Streaming {
                return current;
            }
            let event = tokio::time::timeout_at(deadline, events.next()).await.expect("the reply ended in time");
            assert!(event.is_some(), "the event stream ended early");
        }
    }

    /// Subscribes to a chat's SSE stream; `after` goes in Last-Event-ID.
    pub async fn events(&self, chat: i64, after: Option<i64>) -> futures::stream::BoxStream<'static, WireEvent> {
        sse_events(&self.client, &self.url(&format!("/api/v1/chats/{chat}/events")), after).await
    }
}

/// An event as it arrived on an event stream: its type and its raw `data` (checked to parse as the
/// typed [`Event`] on the way in), so tests can look at the exact JSON a client receives.
#[derive(Debug, Clone, PartialEq)]
pub struct WireEvent {
    pub seq: i64,
    pub kind: EventKind,
    pub data: Value,
}

pub fn visitor() -> (reqwest::Client, std::sync::Arc<reqwest::cookie::Jar>) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    (reqwest::Client::builder().cookie_provider(jar.clone()).build().unwrap(), jar)
}

pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, body)
}

/// A minimal SSE reader: yields parsed events in order.
pub async fn sse_events(
    client: &reqwest::Client,
    url: &str,
    after: Option<i64>,
) -> futures::stream::BoxStream<'static, WireEvent> {
    let mut request = client.get(url).header("accept", "text/event-stream");
    if let Some(after) = after {
        request = request.header("last-event-id", after.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes_stream();
    futures::stream::unfold((bytes, String::new()), |(mut bytes, mut buffer)| async move {
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut seq = None;
                let mut kind = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        seq = v.trim().parse::<i64>().ok();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        kind = v.trim().parse::<EventKind>().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if let (Some(seq), Some(kind)) = (seq, kind) {
                    // Every event on the wire is one of the typed events.
                    if let Err(error) = Event::from_parts(kind, &data) {
                        panic!("event {seq} ({kind}) does not parse as its type: {error}: {data}");
                    }
                    let event = WireEvent { seq, kind, data: serde_json::from_str(&data).unwrap() };
                    return Some((event, (bytes, buffer)));
                }
                continue;
            }
            match bytes.next().await {
                Some(Ok(chunk)) => buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    })
    .boxed()
}

/// Reads events until one matches, failing after a generous deadline.
pub async fn next_matching(
    events: &mut futures::stream::BoxStream<'static, WireEvent>,
    seen: &mut Vec<WireEvent>,
    mut matches: impl FnMut(&WireEvent) -> bool,
) -> WireEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let event = match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("the stream ended before the expected event; it carried {seen:#?}"),
            Err(_) => panic!("the expected event did not arrive in 20 s; the stream carried {seen:#?}"),
        };
        seen.push(event.clone());
        if matches(&event) {
            return event;
        }
    }
}

/// Waits until `condition` holds (checked every 10 ms, for up to 20 s); panics with `what` if it
/// never does.
pub async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until an asynchronous `condition` holds (checked every 10 ms, for up to 20 s); panics
/// with `what` if it never does.
pub async fn wait_until<F: std::future::Future<Output = bool>>(what: &str, mut condition: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
