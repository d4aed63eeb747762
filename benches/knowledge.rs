//! The shop's knowledge, measured as a client sees it: the release server in its own process, on
//! SQLite (default) or PostgreSQL (`BENCH_POSTGRES_URL`), loaded over HTTP with an API key.
//!
//! - Retrieval: `GET /api/v1/admin/knowledge/search` at 50,000 passages (5,000 articles of ten
//!   sections), p50 and p95 of 400 questions of three to six words.
//! - Quality, on an evaluation set of a shop's own (ten articles, 20 questions with the article
//!   that answers each, ten questions they do not answer) among those 50,000 passages: hit@3 and
//!   MRR of the search, and, asked in a chat of the offline assistant, how often an answerable
//!   question is answered from its article and an unanswerable one gets "I could not find an
//!   answer" and the offer of a person instead of an invented answer.
//!
//! - The catalog: 10,000 products in Shopify's export layout (two variant rows each) imported in
//!   one request, then the same file again (nothing changes), timed as the client waits.
//! - Hybrid retrieval: the same 50,000 passages and questions on a server with an embedding model
//!   (the fake OpenAI server in a process of its own, 1,024 dimensions), once every passage has
//!   its vector: p50 and p95 of the search, hit@3 and MRR.
//!
//! `make bench` runs it on both databases.

mod common;

use std::time::{Duration, Instant};

use common::{
    knowledge::{admin_key, load, put, sentence, vocabulary, Numbers, SECTIONS},
    ms, percentile, report, Server,
};
use serde_json::{json, Value};

const ARTICLES: usize = 5_000;
const QUESTIONS: usize = 400;

/// The evaluation set: a shop's articles (id, title, body).
const SHOP: &[(&str, &str, &str)] = &[
    ("returns", "Returns and refunds", "## Returns\n\nYou can return any item within 30 days of delivery for a full refund. Print the prepaid return label from your order page and drop the parcel at any post office.\n\n## Refunds\n\nRefunds reach your card within five business days of the parcel arriving at our warehouse."),
    ("shipping", "Shipping and delivery", "## Delivery times\n\nOrders placed before 2 pm ship the same business day. Standard delivery takes two to four business days; express delivery arrives the next day.\n\n## Countries\n\nWe ship to every country of the European Union, Norway, Switzerland and the United Kingdom."),
    ("warranty", "Warranty", "Every lamp, chair and desk carries a two-year warranty against defects. Desk frames carry seven years. To claim, send a photo of the defect and your order number; we repair or replace the item."),
    ("payment", "Payment methods", "We accept Visa, Mastercard, American Express, PayPal and bank transfer. Your card is charged when the order ships, not when you place it. Invoices include VAT."),
    ("sizes", "Chair sizes", "The Nimbus chair fits people from 155 to 195 cm tall. Its seat is 50 cm wide and the backrest adjusts in height by 8 cm. The maximum load is 120 kg."),
    ("care", "Caring for bamboo desk tops", "Wipe the bamboo top with a damp cloth and dry it at once. Never use oil, wax or abrasive cleaners. Keep it out of direct sunlight to stop the colour fading."),
    ("hours", "Opening hours", "Our showroom in Utrecht opens Tuesday to Saturday from 10:00 to 18:00. Our support team answers chat and email every weekday from 8:00 to 20:00."),
    ("gift-cards", "Gift cards", "Gift cards come in values of 25, 50 and 100 euros and never expire. They can be spent on everything in the shop, including sale items, but cannot be exchanged for cash."),
    ("assembly", "Assembly service", "Our assembly service builds your desk or chair at home for 49 euros. Book it at checkout; the fitter brings every tool and takes the packaging away."),
    ("privacy", "Privacy", "We keep your address and order history for as long as your account exists and never sell personal data. Ask us to delete your account at any time."),
];

/// Questions and the article that answers each.
const ANSWERABLE: &[(&str, &str)] = &[
    ("How many days do I have to return something?", "returns"),
    ("When will I get my refund?", "returns"),
    ("Where do I get a return label?", "returns"),
    ("How long does delivery take?", "shipping"),
    ("Do you ship to Switzerland?", "shipping"),
    ("Is there express delivery?", "shipping"),
    ("What warranty does the lamp have?", "warranty"),
    ("My chair is broken, can you repair it?", "warranty"),
    ("Can I pay with PayPal?", "payment"),
    ("When is my card charged?", "payment"),
    ("Do you take American Express?", "payment"),
    ("What is the maximum load of the Nimbus chair?", "sizes"),
    ("I am 190 cm tall, will the chair fit me?", "sizes"),
    ("How do I clean the bamboo desk top?", "care"),
    ("Can I oil my bamboo desk?", "care"),
    ("When is the showroom open?", "hours"),
    ("What are your support hours?", "hours"),
    ("Do gift cards expire?", "gift-cards"),
    ("Can you assemble the desk for me?", "assembly"),
    ("How do I delete my account and personal data?", "privacy"),
];

/// Questions the shop's articles do not answer.
const UNANSWERABLE: &[&str] = &[
    "What is the capital of Peru?",
    "Can you recommend a good pizza recipe?",
    "Who won the football match yesterday?",
    "How tall is Mount Everest?",
    "What is the weather like tomorrow?",
    "Do you sell electric bicycles?",
    "Can I pay with bitcoin or ethereum?",
    "Is there a student discount?",
    "Do you have a store in Tokyo?",
    "Can I rent a desk monthly?",
];

async fn search(client: &reqwest::Client, base: &str, key: &str, q: &str) -> Vec<Value> {
    let found: Value = client
        .get(format!("{base}/api/v1/admin/knowledge/search"))
        .query(&[("q", q)])
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    found["results"].as_array().cloned().unwrap_or_default()
}

/// Loads the noise (5,000 articles of ten sections each, by eight clients at once) and the shop's
/// evaluation articles.
async fn load_all(label: &str, client: &reqwest::Client, base: &str, key: &str) {
    let started = Instant::now();
    load(base, key, ARTICLES, "").await;
    let loaded = started.elapsed();
    for (id, title, body) in SHOP {
        put(client, base, key, id, json!({"title": title, "body": body, "url": format!("https://shop.example/{id}")}))
            .await;
    }
    println!(
        "{label}: {} passages loaded over HTTP in {:.1} s ({:.0} articles/s)",
        ARTICLES * SECTIONS,
        loaded.as_secs_f64(),
        ARTICLES as f64 / loaded.as_secs_f64()
    );
}

/// p50 and p95 of 400 searches: questions of three to six words, a third of them from the shop's
/// words.
async fn latency(client: &reqwest::Client, base: &str, key: &str) -> (f64, f64) {
    let words = vocabulary();
    let mut numbers = Numbers(99);
    let mut samples = Vec::with_capacity(QUESTIONS);
    for i in 0..QUESTIONS {
        let q = if i % 3 == 0 {
            ANSWERABLE[numbers.next(ANSWERABLE.len())].0.to_string()
        } else {
            let count = 3 + numbers.next(4);
            sentence(&mut numbers, &words, count)
        };
        let started = Instant::now();
        let found = search(client, base, key, &q).await;
        samples.push(started.elapsed());
        assert!(found.len() <= 5);
    }
    samples.sort();
    (ms(percentile(&samples, 50.0)), ms(percentile(&samples, 95.0)))
}

/// hit@3 and MRR of the search over the evaluation questions.
async fn quality(label: &str, client: &reqwest::Client, base: &str, key: &str) {
    let (mut hits, mut reciprocal) = (0usize, 0.0f64);
    for (q, want) in ANSWERABLE {
        let found = search(client, base, key, q).await;
        let mut articles: Vec<&str> = Vec::new();
        for hit in &found {
            let id = hit["external_id"].as_str().unwrap_or_default();
            if !articles.contains(&id) {
                articles.push(id);
            }
        }
        match articles.iter().position(|id| id == want) {
            Some(rank) => {
                hits += usize::from(rank < 3);
                reciprocal += 1.0 / (rank as f64 + 1.0);
            }
            None => println!("{label}: not found for {q:?} (found {articles:?})"),
        }
    }
    let n = ANSWERABLE.len() as f64;
    println!("{label}: hit@3 {:.2}, MRR {:.2} over {} questions", hits as f64 / n, reciprocal / n, ANSWERABLE.len());
}

async fn run(label: &str, database_url: Option<&str>) {
    let server = Server::start(database_url, &[("FRONTDESK_OFFLINE_WORD_DELAY_MS", "0"), ("OPENAI_API_KEY", "")]).await;
    let base = server.base.clone();
    let key = admin_key(&base).await;
    let client = reqwest::Client::new();
    load_all(label, &client, &base, &key).await;
    let (p50, p95) = latency(&client, &base, &key).await;
    println!("{label}: search over HTTP at {} passages: p50 {p50:.2} ms, p95 {p95:.2} ms", ARTICLES * SECTIONS);
    report(&format!("{label}: retrieval p95 at 50,000 passages (full text)"), p95, "ms", 10.0, true);
    quality(label, &client, &base, &key).await;

    // Quality of the answers: the offline assistant, in a chat, as a customer asks.
    let customer = common::visitor();
    let (chat, _) = common::new_chat(&customer, &base).await;
    let ask = |q: &'static str| {
        let (customer, base) = (customer.clone(), base.clone());
        async move {
            let sent: Value = customer
                .post(format!("{base}/api/v1/chats/{chat}/messages?wait=true"))
                .json(&json!({"content": q}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            sent["reply"].clone()
        }
    };
    let mut answered = 0;
    for (q, want) in ANSWERABLE {
        let reply = ask(q).await;
        let cites = reply["sources"].as_array().is_some_and(|s| s.iter().any(|s| s["external_id"] == *want));
        answered += usize::from(cites);
    }
    let mut handed_over = 0;
    for q in UNANSWERABLE {
        let reply = ask(q).await;
        let says_so = reply["content"].as_str().unwrap_or_default().contains("could not find an answer");
        if !says_so {
            println!("{label}: answered the unanswerable {q:?}: {}", reply["content"]);
        }
        handed_over += usize::from(says_so);
    }
    println!(
        "{label}: the offline assistant answered {answered}/{} answerable questions from their article, \
         and said it did not know (offering a person) for {handed_over}/{} unanswerable ones",
        ANSWERABLE.len(),
        UNANSWERABLE.len()
    );

    import_catalog(label, &client, &base, &key).await;
    drop(server);
}

/// How many passages the server gave a vector, from its metrics.
async fn embedded(client: &reqwest::Client, base: &str) -> u64 {
    let text = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find(|line| line.starts_with("frontdesk_passages_embedded_total "))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

async fn run_hybrid(label: &str, database_url: Option<&str>) {
    let upstream = common::Upstream::start().await;
    let server = Server::start(
        database_url,
        &[
            ("OPENAI_API_KEY", "bench"),
            ("OPENAI_BASE_URL", upstream.base_url.as_str()),
            ("OPENAI_EMBEDDING_MODEL", "fake-embedding"),
        ],
    )
    .await;
    let base = server.base.clone();
    let key = admin_key(&base).await;
    let client = reqwest::Client::new();
    load_all(label, &client, &base, &key).await;
    let started = Instant::now();
    let wanted = (ARTICLES * SECTIONS) as u64;
    while embedded(&client, &base).await < wanted {
        assert!(started.elapsed() < Duration::from_secs(900), "the passages were not all embedded in 15 minutes");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("{label}: {wanted} passages embedded in the background in {:.1} s", started.elapsed().as_secs_f64());
    let (p50, p95) = latency(&client, &base, &key).await;
    println!("{label}: hybrid search over HTTP at {wanted} passages: p50 {p50:.2} ms, p95 {p95:.2} ms");
    report(&format!("{label}: retrieval p95 at 50,000 passages (hybrid)"), p95, "ms", 25.0, true);
    quality(&format!("{label} (hybrid)"), &client, &base, &key).await;
    drop(server);
    drop(upstream);
}

const PRODUCTS: usize = 10_000;

/// A Shopify product export of `PRODUCTS` products, two variant rows each.
fn shopify_export() -> String {
    let mut csv = String::from(
        "Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Option1 Name,Option1 Value,Variant SKU,\
         Variant Inventory Tracker,Variant Inventory Qty,Variant Price,Image Src,Status\n",
    );
    let words = vocabulary();
    let mut numbers = Numbers(7);
    for i in 0..PRODUCTS {
        let description = sentence(&mut numbers, &words, 40);
        let title = sentence(&mut numbers, &words, 3);
        csv.push_str(&format!(
            "item-{i},{title},\"<p>{description}</p><ul><li>Made to last.</li></ul>\",Northwind,Goods,\"a, b\",true,\
             Size,S,SKU-{i}-S,shopify,{},{}.00,https://cdn.example/{i}.jpg,active\n\
             item-{i},,,,,,,,M,SKU-{i}-M,shopify,3,{}.50,,\n",
            i % 4,
            10 + i % 90,
            12 + i % 90
        ));
    }
    csv
}

async fn import_catalog(label: &str, client: &reqwest::Client, base: &str, key: &str) {
    let csv = shopify_export();
    let mut timings = Vec::new();
    for pass in ["first", "again"] {
        let started = Instant::now();
        let report: Value = client
            .post(format!("{base}/api/v1/admin/products/import?currency=EUR"))
            .bearer_auth(key)
            .header("content-type", "text/csv")
            .body(csv.clone())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let took = started.elapsed();
        let counted = report["created"].as_u64().unwrap_or(0) + report["unchanged"].as_u64().unwrap_or(0);
        assert_eq!(counted, PRODUCTS as u64, "{pass}: {report}");
        println!(
            "{label}: {PRODUCTS} products ({} MiB of Shopify CSV) imported ({pass}) in {:.2} s",
            csv.len() >> 20,
            took.as_secs_f64()
        );
        timings.push(took);
    }
    report(
        &format!("{label}: 10,000 products imported (Shopify CSV, one request)"),
        timings[0].as_secs_f64(),
        "s",
        10.0,
        true,
    );
}

fn main() {
    common::serve_upstream_if_asked(4, Duration::ZERO);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        match common::postgres_database().await {
            Some((url, admin, name)) => {
                run("PostgreSQL", Some(&url)).await;
                common::drop_postgres_database(&admin, &name).await;
                if let Some((url, admin, name)) = common::postgres_database().await {
                    run_hybrid("PostgreSQL", Some(&url)).await;
                    common::drop_postgres_database(&admin, &name).await;
                }
            }
            None => {
                run("SQLite", None).await;
                run_hybrid("SQLite", None).await;
            }
        }
    });
}
