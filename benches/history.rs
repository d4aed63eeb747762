//! Reading history with 100,000 messages: a page of messages (newest, and deep in the past) and the
//! chat list, through the chats domain, on SQLite (default) or BENCH_DATABASE_URL.
//!
//! `make bench` runs it after the time-to-first-token benchmark.

use std::time::{Duration, Instant};

use frontdesk::server::{app::Frontdesk, config::Config, identity::Caller};

const CHATS: i64 = 200;
const MESSAGES: i64 = 100_000;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let database_url = std::env::var("BENCH_DATABASE_URL")
            .unwrap_or_else(|_| format!("sqlite://{}/history.db", dir.path().display()));
        let app = Frontdesk::build(Config::for_database(database_url.clone())).await.expect("the app starts");
        let service = app.chats.clone();
        let db = &app.db.write;

        let (user_id,): (i64,) = sqlx::query_as(
            "INSERT INTO users (kind, display_name, created_at) VALUES ('visitor', 'Bench', 0) RETURNING id",
        )
        .fetch_one(db)
        .await
        .unwrap();
        let caller = Caller { user_id, network: None };
        let mut chats = Vec::new();
        for _ in 0..CHATS {
            chats.push(
                service
                    .create_chat(frontdesk::server::chat::Starter::Known(caller), None, None, None)
                    .await
                    .unwrap()
                    .id,
            );
        }
        let seeding = Instant::now();
        let per_chat = MESSAGES / CHATS;
        for chunk in chats.chunks(10) {
            let mut tx = db.begin().await.unwrap();
            for &chat in chunk {
                for i in 0..per_chat {
                    sqlx::query(
                        "INSERT INTO messages (chat_id, role, content, status, created_seq, created_at) \
                         VALUES ($1, $2, $3, 'complete', 0, $4)",
                    )
                    .bind(chat)
                    .bind(if i % 2 == 0 { "user" } else { "assistant" })
                    .bind(format!("message {i} of chat {chat}: some words to give the row a realistic size"))
                    .bind(i)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
            }
            tx.commit().await.unwrap();
        }
        println!(
            "History reads with {MESSAGES} messages in {CHATS} chats ({database_url}); seeded in {:?}",
            seeding.elapsed()
        );

        let target = chats[CHATS as usize / 2];
        let newest = service.list_messages(caller, target, None, None, Some(20)).await.unwrap();
        let deep_cursor = newest.messages[0].id - per_chat / 2;
        let time = |label: &'static str, samples: Vec<Duration>| {
            println!("{label:<40} median {:>8.3} ms", median(samples).as_secs_f64() * 1000.0);
        };
        let mut samples = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let page = service.list_messages(caller, target, None, None, Some(20)).await.unwrap();
            samples.push(t.elapsed());
            assert_eq!(page.messages.len(), 20);
        }
        time("newest page of 20", samples);
        let mut samples = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let page = service.list_messages(caller, target, Some(deep_cursor), None, Some(100)).await.unwrap();
            samples.push(t.elapsed());
            assert_eq!(page.messages.len(), 100);
        }
        time("page of 100, 250 messages back", samples);
        let mut samples = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let list = service.list_chats(caller).await.unwrap();
            samples.push(t.elapsed());
            assert_eq!(list.len(), 100);
        }
        time("chat list (100 newest of 200)", samples);
    });
}
