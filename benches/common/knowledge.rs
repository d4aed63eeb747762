//! A shop's knowledge for the benchmarks: an API key of the server's first admin, and articles of
//! made-up words loaded over HTTP by eight clients at once, as an integration would.

use serde_json::{json, Value};

/// Ten sections an article: a section is a passage.
pub const SECTIONS: usize = 10;
const LOADERS: usize = 8;

/// A deterministic stream of numbers (a linear congruential generator): the same corpus every run.
pub struct Numbers(pub u64);

impl Numbers {
    pub fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below
    }
}

/// Made-up words that no question of the benchmarks holds.
pub fn vocabulary() -> Vec<String> {
    let syllables = ["ka", "lo", "mi", "ter", "vun", "sa", "pri", "dol", "ek", "nor", "zu", "bra", "fen", "gal"];
    let mut words = Vec::new();
    for a in syllables {
        for b in syllables {
            for c in ["", "x", "rt", "mon"] {
                words.push(format!("{a}{b}{c}"));
            }
        }
    }
    words
}

pub fn sentence(numbers: &mut Numbers, words: &[String], count: usize) -> String {
    (0..count).map(|_| words[numbers.next(words.len())].as_str()).collect::<Vec<_>>().join(" ")
}

/// An API key of the server's first admin (`Server::start` sets its password).
pub async fn admin_key(base: &str) -> String {
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let signed_in = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "admin@frontdesk.local", "password": "bench-admin-password"}))
        .send()
        .await
        .unwrap();
    assert!(signed_in.status().is_success(), "the bench signs in");
    let created: Value = client
        .post(format!("{base}/api/v1/admin/api-keys"))
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["key"].as_str().unwrap().to_string()
}

pub async fn put(client: &reqwest::Client, base: &str, key: &str, id: &str, body: Value) {
    let response =
        client.put(format!("{base}/api/v1/admin/knowledge/{id}")).bearer_auth(key).json(&body).send().await.unwrap();
    assert!(response.status().is_success(), "{id}: {}", response.status());
}

/// Loads `articles` articles of [`SECTIONS`] sections of 60 made-up words; one section in ten also
/// holds `also` (a word the benchmark's questions use, so their searches find something).
pub async fn load(base: &str, key: &str, articles: usize, also: &str) {
    let words = vocabulary();
    let client = reqwest::Client::new();
    let mut loaders = Vec::new();
    for loader in 0..LOADERS {
        let (client, base, key, words, also) =
            (client.clone(), base.to_string(), key.to_string(), words.clone(), also.to_string());
        loaders.push(tokio::spawn(async move {
            let mut numbers = Numbers(loader as u64 + 1);
            for i in (loader..articles).step_by(LOADERS) {
                let mut body = String::new();
                for section in 0..SECTIONS {
                    let extra = if (i + section) % 10 == 0 { also.as_str() } else { "" };
                    body.push_str(&format!(
                        "## {}\n\n{} {extra}\n\n",
                        sentence(&mut numbers, &words, 3),
                        sentence(&mut numbers, &words, 60)
                    ));
                }
                let title = sentence(&mut numbers, &words, 4);
                put(&client, &base, &key, &format!("noise-{i}"), json!({"title": title, "body": body})).await;
            }
        }));
    }
    for loader in loaders {
        loader.await.unwrap();
    }
}
