//! The shop's knowledge: API keys, articles and answers, search, and replies grounded in them, on
//! both databases.

use crate::{
    staff::{call, staff_client},
    support::{read, wait_until, Backend, Options, Script, TestApp},
};
use frontdesk::server::identity::StaffRole;
use serde_json::{json, Value};

on_both_databases!(
    an_api_key_writes_knowledge_until_it_is_revoked,
    bad_knowledge_is_refused_with_a_reason_and_nothing_is_written,
    search_finds_the_passage_that_answers_and_never_staff_knowledge,
    the_offline_assistant_answers_from_the_shops_knowledge_and_cites_it,
    the_model_is_given_the_passages_as_numbered_sources_and_its_citations_are_kept,
    the_contexts_faq_becomes_answers_on_a_first_start,
    files_are_imported_as_articles_and_a_file_that_cannot_be_one_is_listed_with_its_reason,
    a_context_with_knowledge_tags_answers_only_from_knowledge_with_one_of_them,
    a_page_or_a_sitemap_is_imported_by_url_with_its_main_text_and_again_changes_nothing,
    an_import_by_url_never_fetches_from_a_private_or_local_address_unless_allowed,
    a_reply_that_could_not_answer_is_marked_for_staff_until_a_person_answers,
    a_strict_context_hands_off_without_the_model_when_nothing_answers,
    staff_see_every_passage_a_reply_was_given_and_which_it_cited,
    in_a_large_knowledge_base_the_words_every_passage_holds_do_not_bury_the_answer,
    with_an_embedding_model_passages_are_embedded_in_the_background_and_found_by_meaning,
    a_follow_up_question_is_searched_in_the_light_of_the_question_before_it,
);

const RETURNS: &str = "## Returns\n\nYou can return any item within 30 days of delivery for a full refund. \
    Print the prepaid label from your order page.\n\n## Exchanges\n\nExchanges ship within two days.";

/// An admin signed in, and a new API key of theirs.
pub async fn admin_and_key(app: &TestApp) -> (reqwest::Client, String) {
    let admin = staff_client(app, "admin@example.com", "Ada", StaffRole::Admin).await;
    let (status, created) =
        call(&admin, "POST", app.url("/api/v1/admin/api-keys"), Some(json!({"name": "Shop sync"}))).await;
    assert_eq!(status, 201, "{created}");
    (admin, created["key"].as_str().unwrap().to_string())
}

/// A request made with an API key, with a JSON body or none.
pub async fn with_key(app: &TestApp, key: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let request = reqwest::Client::new().request(method.parse().unwrap(), app.url(path)).bearer_auth(key);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    read(request.send().await.unwrap()).await
}

async fn put_returns(app: &TestApp, key: &str) {
    let body = json!({"title": "Returns and exchanges", "body": RETURNS, "url": "https://shop.example/returns"});
    let (status, item) = with_key(app, key, "PUT", "/api/v1/admin/knowledge/returns", Some(body)).await;
    assert_eq!(status, 201, "{item}");
}

async fn an_api_key_writes_knowledge_until_it_is_revoked(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let (admin, key) = admin_and_key(&app).await;
    assert!(key.starts_with("fdk_"), "{key}");
    let agent = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let (status, _) = call(&agent, "POST", app.url("/api/v1/admin/api-keys"), Some(json!({"name": "x"}))).await;
    assert_eq!(status, 403, "agents create no keys");

    let article = json!({"title": "Shipping", "body": "We ship in two days.", "tags": ["Delivery"]});
    let (status, item) = with_key(&app, &key, "PUT", "/api/v1/admin/knowledge/shipping", Some(article.clone())).await;
    assert_eq!(status, 201, "{item}");
    assert_eq!(item["tags"], json!(["delivery"]), "tags are kept lowercase");
    assert_eq!(item["visibility"], "public");
    let (status, again) = with_key(&app, &key, "PUT", "/api/v1/admin/knowledge/shipping", Some(article)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["updated_at"], item["updated_at"], "the same body twice changes nothing");
    // Staff signed in read it too; the audit log names the key.
    let (status, page) = call(&agent, "GET", app.url("/api/v1/admin/knowledge?q=ship"), None).await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["items"].as_array().unwrap().iter().map(|i| i["external_id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"shipping") && ids.iter().all(|id| *id == "shipping" || id.starts_with("faq-")), "{page}");
    let (_, log) = call(&admin, "GET", app.url("/api/v1/admin/audit"), None).await;
    let written: Vec<&Value> =
        log["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "knowledge.created").collect();
    assert_eq!(written.len(), 1, "{log}");
    assert!(written[0]["detail"].as_str().unwrap().contains("API key"), "{log}");

    let (_, keys) = call(&admin, "GET", app.url("/api/v1/admin/api-keys"), None).await;
    let id = keys[0]["id"].as_i64().unwrap();
    assert!(keys[0].get("key").is_none(), "a key is shown once: {keys}");
    let (status, _) = call(&admin, "DELETE", app.url(&format!("/api/v1/admin/api-keys/{id}")), None).await;
    assert_eq!(status, 204);
    let (status, body) = with_key(&app, &key, "DELETE", "/api/v1/admin/knowledge/shipping", None).await;
    assert_eq!(status, 401, "a revoked key: {body}");
    assert_eq!(with_key(&app, "fdk_made-up", "GET", "/api/v1/admin/knowledge", None).await.0, 401);
    let (status, _) = read(reqwest::get(app.url("/api/v1/admin/knowledge")).await.unwrap()).await;
    assert_eq!(status, 401, "nobody");
    let (status, _) = call(&admin, "DELETE", app.url("/api/v1/admin/knowledge/shipping"), None).await;
    assert_eq!(status, 204, "staff signed in delete");
    assert_eq!(call(&admin, "GET", app.url("/api/v1/admin/knowledge/shipping"), None).await.0, 404);
}

async fn bad_knowledge_is_refused_with_a_reason_and_nothing_is_written(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let (_, key) = admin_and_key(&app).await;
    let too_long = "x".repeat(200_001);
    let cases = [
        ("ok-id", json!({"title": "  "}), 422, "title"),
        ("ok-id", json!({"title": "T", "url": "javascript:alert(1)"}), 422, "url"),
        ("ok-id", json!({"title": "T", "tags": ["no spaces"]}), 422, "tag"),
        ("ok-id", json!({"title": "T", "visibility": "everyone"}), 422, "visibility"),
        ("ok-id", json!({"title": "T", "colour": "red"}), 422, "colour"),
        ("ok-id", json!({"title": "T", "body": too_long}), 413, "body"),
        ("-starts-with-a-dash", json!({"title": "T"}), 422, "id"),
    ];
    for (id, body, want, names) in cases {
        let (status, answer) = with_key(&app, &key, "PUT", &format!("/api/v1/admin/knowledge/{id}"), Some(body)).await;
        assert_eq!(status, want, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(names), "the reason names {names}: {answer}");
    }
    for id in ["ok-id", "-starts-with-a-dash"] {
        let (status, _) = with_key(&app, &key, "GET", &format!("/api/v1/admin/knowledge/{id}"), None).await;
        assert_eq!(status, 404, "{id} was not written");
    }
    // An article with script in it is stored as text and never runs: the window shows only its
    // title and link, and its passage reaches the assistant as text.
    let body = json!({"title": "Sizes <script>alert(1)</script>", "body": "<script>alert(1)</script> S, M and L."});
    assert_eq!(with_key(&app, &key, "PUT", "/api/v1/admin/knowledge/sizes", Some(body)).await.0, 201);
}

async fn search_finds_the_passage_that_answers_and_never_staff_knowledge(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let (_, key) = admin_and_key(&app).await;
    put_returns(&app, &key).await;
    let internal = json!({"title": "Return fraud checklist", "body": "Returns over 500 EUR need a manager.", "visibility": "staff"});
    assert_eq!(with_key(&app, &key, "PUT", "/api/v1/admin/knowledge/fraud", Some(internal)).await.0, 201);

    let (status, found) =
        with_key(&app, &key, "GET", "/api/v1/admin/knowledge/search?q=How%20do%20I%20return%20my%20lamp%3F", None)
            .await;
    assert_eq!(status, 200, "{found}");
    let results = found["results"].as_array().unwrap();
    let ours = results.iter().find(|r| r["external_id"] == "returns").expect("the returns article is found");
    assert!(ours["passage"].as_str().unwrap().contains("within 30 days"), "{ours}");
    assert_eq!(ours["url"], "https://shop.example/returns");
    assert!(results.iter().all(|r| r["external_id"] != "fraud"), "staff knowledge is not the customer's: {found}");
    let best = results[0]["score"].as_f64().unwrap();
    assert!(results.iter().all(|r| r["score"].as_f64().unwrap() <= best), "best first: {found}");

    let (status, none) = with_key(&app, &key, "GET", "/api/v1/admin/knowledge/search?q=is%20it%3F", None).await;
    assert_eq!((status, none["results"].clone()), (200, json!([])), "a question of stop words finds nothing");
    let (status, _) = with_key(&app, &key, "GET", "/api/v1/admin/knowledge/search?q=x&context=nope", None).await;
    assert_eq!(status, 422, "an unknown context");
}

async fn the_offline_assistant_answers_from_the_shops_knowledge_and_cites_it(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let (_, key) = admin_and_key(&app).await;
    put_returns(&app, &key).await;
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "What is your return policy? Is there a refund?").await;
    assert!(reply.content.contains("within 30 days of delivery for a full refund"), "{}", reply.content);
    let cited =
        reply.sources.iter().find(|s| s.external_id.as_deref() == Some("returns")).expect("the article is cited");
    assert_eq!(cited.title.as_deref(), Some("Returns and exchanges"));
    assert_eq!(cited.url.as_deref(), Some("https://shop.example/returns"));

    let (_, unknown) = app.send_and_wait(chat, "What is the capital of Peru?").await;
    assert!(unknown.content.contains("could not find an answer"), "{}", unknown.content);
    assert!(unknown.content.contains("Ask for a person"), "{}", unknown.content);
    assert!(unknown.sources.is_empty(), "nothing unrelated is dressed up as an answer: {:?}", unknown.sources);
    // The history keeps the sources.
    let history = app.messages(chat).await;
    assert!(history.iter().any(|m| m.id == reply.id && !m.sources.is_empty()));
}

async fn the_model_is_given_the_passages_as_numbered_sources_and_its_citations_are_kept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = admin_and_key(&app).await;
    put_returns(&app, &key).await;
    app.fake().push(Script::words("You have 30 days to return it [1]."));
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "How long do I have to return an item?").await;
    let request = app.fake().requests().last().cloned().unwrap();
    let system = request["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(system.contains("by their number in square brackets"), "{system}");
    let numbered = system.find("[1] Returns and exchanges").expect("the article is source 1");
    assert!(system[numbered..].contains("within 30 days of delivery"), "{system}");
    assert_eq!(reply.sources.len(), 1, "{:?}", reply.sources);
    assert_eq!(reply.sources[0].external_id.as_deref(), Some("returns"));

    // A reply that cites nothing keeps no source for the customer.
    app.fake().push(Script::words("Happy to help."));
    let (_, plain) = app.send_and_wait(chat, "Thanks, and returns for exchanges?").await;
    assert!(plain.sources.is_empty(), "{:?}", plain.sources);
}

async fn the_contexts_faq_becomes_answers_on_a_first_start(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let admin = staff_client(&app, "admin@example.com", "Ada", StaffRole::Admin).await;
    let (status, page) = call(&admin, "GET", app.url("/api/v1/admin/knowledge?q=faq-support"), None).await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{page}");
    assert!(items.iter().all(|i| i["kind"] == "answer" && i["visibility"] == "assistant"), "{page}");
    // The offline assistant answers from them, and shows no title or link of an `assistant` answer.
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "How do I return a broken lamp?").await;
    assert!(reply.content.contains("30 days"), "{}", reply.content);
    assert!(!reply.sources.is_empty(), "the answer is cited");
    assert!(
        reply.sources.iter().all(|s| s.title.is_none() && s.url.is_none() && s.external_id.is_none()),
        "{:?}",
        reply.sources
    );
    // A restart does not seed again what was deleted, even all of it.
    let (_, all) = call(&admin, "GET", app.url("/api/v1/admin/knowledge?limit=200"), None).await;
    for item in all["items"].as_array().unwrap() {
        let path = format!("/api/v1/admin/knowledge/{}", item["external_id"].as_str().unwrap());
        assert_eq!(call(&admin, "DELETE", app.url(&path), None).await.0, 204);
    }
    let app = app.restart().await;
    let admin = staff_client(&app, "other-admin@example.com", "Bo", StaffRole::Admin).await;
    let (_, after) = call(&admin, "GET", app.url("/api/v1/admin/knowledge"), None).await;
    assert_eq!(after["items"], json!([]), "{after}");
}

/// A multipart/form-data body of `parts` (name, file name, content): its content type and bytes.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "frontdesk-test-boundary";
    let mut body = Vec::new();
    for (name, file, content) in parts {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes());
        if let Some(file) = file {
            body.extend_from_slice(format!("; filename=\"{file}\"").as_bytes());
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn files_are_imported_as_articles_and_a_file_that_cannot_be_one_is_listed_with_its_reason(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let (admin, key) = admin_and_key(&app).await;
    let page =
        b"<html><head><script>alert(1)</script></head><body><h1>Gift cards</h1><p>They never expire.</p></body></html>";
    let parts: [(&str, Option<&str>, &[u8]); 5] = [
        ("visibility", None, b"assistant"),
        ("files", Some("returns-policy.md"), b"# Returns\n\nReturn it within 30 days."),
        ("files", Some("gift_cards.html"), page),
        ("files", Some("logo.png"), b"\x89PNG"),
        ("files", Some("latin1.txt"), b"caf\xe9"),
    ];
    let (content_type, body) = multipart(&parts);
    let import = |content_type: String, body: Vec<u8>| {
        let url = app.url("/api/v1/admin/knowledge/import");
        let key = key.clone();
        async move {
            let request = reqwest::Client::new().post(url).bearer_auth(key).header("content-type", content_type);
            read(request.body(body).send().await.unwrap()).await
        }
    };
    let (status, report) = import(content_type.clone(), body.clone()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["created"].as_i64(), report["updated"].as_i64()), (Some(2), Some(0)), "{report}");
    let rejected: Vec<&str> =
        report["rejected"].as_array().unwrap().iter().map(|r| r["file"].as_str().unwrap()).collect();
    assert_eq!(rejected, ["logo.png", "latin1.txt"], "{report}");
    let (_, returns) = call(&admin, "GET", app.url("/api/v1/admin/knowledge/returns-policy"), None).await;
    assert_eq!(
        (returns["title"].as_str(), returns["visibility"].as_str()),
        (Some("Returns"), Some("assistant")),
        "{returns}"
    );
    let (_, gift) = call(&admin, "GET", app.url("/api/v1/admin/knowledge/gift-cards"), None).await;
    let text = gift["body"].as_str().unwrap();
    assert!(text.contains("They never expire.") && !text.contains("alert") && !text.contains("<p>"), "{gift}");

    // The same files again change nothing.
    let (status, again) = import(content_type, body).await;
    assert_eq!((status, again["unchanged"].as_i64()), (200, Some(2)), "{again}");
    // No file, or a body that is not a form: a reason, nothing written.
    let (content_type, body) = multipart(&[("visibility", None, b"public")]);
    let (status, answer) = import(content_type, body).await;
    assert_eq!(status, 422, "{answer}");
    let (status, answer) = import("text/plain".into(), b"hello".to_vec()).await;
    assert_eq!(status, 400, "{answer}");
}

async fn a_context_with_knowledge_tags_answers_only_from_knowledge_with_one_of_them(backend: Backend) {
    let (file, options) = one_context(false, "id = \"billing\"\nknowledge_tags = [\"Billing_EU\"]");
    let app = TestApp::spawn_with(backend, options).await;
    let (_, key) = admin_and_key(&app).await;
    for (id, tags) in
        [("eu-invoices", json!(["billing_eu"])), ("us-invoices", json!(["billing-eu"])), ("any-invoices", json!([]))]
    {
        let body = json!({"title": format!("Invoices {id}"), "body": "Invoices are emailed when an order ships.", "tags": tags});
        assert_eq!(with_key(&app, &key, "PUT", &format!("/api/v1/admin/knowledge/{id}"), Some(body)).await.0, 201);
    }
    let (status, found) = with_key(
        &app,
        &key,
        "GET",
        "/api/v1/admin/knowledge/search?q=when%20are%20invoices%20emailed&context=billing",
        None,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let ids: Vec<&str> =
        found["results"].as_array().unwrap().iter().map(|r| r["external_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["eu-invoices"], "only the tag, in any case, and `_` is not a wildcard: {found}");
    let _ = std::fs::remove_file(file);
}

/// A contexts file of one context (`fields`: its id and what the test is about), and the options
/// of an app that reads it (with the fake model, or the offline assistant).
fn one_context(fake: bool, fields: &str) -> (std::path::PathBuf, Options) {
    let file = std::env::temp_dir().join(format!("frontdesk-contexts-{}.toml", rand_suffix()));
    let toml = format!(
        "[[context]]\n{fields}\nlabel = \"Desk\"\ndescription = \"d\"\ngreeting = \"Hi\"\nsystem_prompt = \"Help.\"\n"
    );
    std::fs::write(&file, toml).unwrap();
    let path = file.clone();
    let configure = move |c: &mut frontdesk::server::config::Config| c.contexts_file = Some(path);
    (file, Options { fake, configure: Box::new(configure) })
}

fn rand_suffix() -> String {
    format!(
        "{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    )
}

/// A shop's help site on a port of its own: two help pages (each inside the site's navigation
/// and footer), a sitemap listing them and a page that is gone, and a PDF.
async fn help_site() -> String {
    use axum::{response::Html, routing::get, Router};
    fn page(title: &str, text: &str) -> Html<String> {
        Html(format!(
            "<html><head><title>{title} | Northwind Help</title><script>track()</script></head><body>\
             <nav><a href='/'>Home</a> <a href='/cart'>Cart</a> Sign in to see your orders</nav>\
             <main><article><h1>{title}</h1><p>{text}</p><h2>Questions</h2>\
             <p>Write to us and we answer within a day, on every working day of the week.</p></article></main>\
             <footer>Copyright Northwind. Newsletter sign-up. Cookie settings.</footer></body></html>"
        ))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sitemap = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
         <url><loc>{base}/help/returns</loc></url><url><loc>{base}/help/warranty</loc></url>\
         <url><loc>{base}/help/gone</loc></url></urlset>"
    );
    let app = Router::new()
        .route(
            "/help/returns",
            get(|| async {
                page("Returns", "Send any item back within 60 days of delivery for a full refund; the label is free.")
            }),
        )
        .route(
            "/help/warranty",
            get(|| async {
                page("Warranty", "Every lamp has a five-year warranty that covers the LED module and the switch.")
            }),
        )
        .route("/help/manual.pdf", get(|| async { ([("content-type", "application/pdf")], "%PDF-1.4") }))
        .route("/sitemap.xml", get(move || async move { ([("content-type", "application/xml")], sitemap) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn import_url(app: &TestApp, key: &str, url: &str) -> (u16, Value) {
    with_key(app, key, "POST", "/api/v1/admin/knowledge/import", Some(json!({"url": url}))).await
}

async fn a_page_or_a_sitemap_is_imported_by_url_with_its_main_text_and_again_changes_nothing(backend: Backend) {
    let configure = Box::new(|config: &mut frontdesk::server::config::Config| config.import_private_urls = true);
    let app = TestApp::spawn_with(backend, Options { fake: false, configure }).await;
    let (admin, key) = admin_and_key(&app).await;
    let site = help_site().await;
    let (status, report) = import_url(&app, &key, &format!("{site}/help/returns")).await;
    assert_eq!((status, report["created"].as_i64()), (200, Some(1)), "{report}");
    let (_, page) = call(&admin, "GET", app.url("/api/v1/admin/knowledge?q=returns"), None).await;
    let item = &page["items"][0];
    assert!(item["title"].as_str().unwrap().starts_with("Returns"), "{item}");
    assert_eq!(item["url"], format!("{site}/help/returns"));
    let body = item["body"].as_str().unwrap();
    assert!(body.contains("within 60 days of delivery"), "the main text is kept: {body}");
    for chrome in ["Sign in to see your orders", "Newsletter", "track()"] {
        assert!(!body.contains(chrome), "the site's navigation, footer and scripts are not: {body}");
    }

    // The sitemap: its pages (the one already there unchanged), the gone one listed with why.
    let (status, report) = import_url(&app, &key, &format!("{site}/sitemap.xml")).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["created"].as_i64(), report["unchanged"].as_i64()), (Some(1), Some(1)), "{report}");
    assert_eq!(report["rejected"][0]["file"], format!("{site}/help/gone"), "{report}");
    assert!(report["rejected"][0]["reason"].as_str().unwrap().contains("404"), "{report}");
    let (status, report) = import_url(&app, &key, &format!("{site}/help/manual.pdf")).await;
    assert_eq!((status, report["created"].as_i64()), (200, Some(0)), "{report}");
    assert!(report["rejected"][0]["reason"].as_str().unwrap().contains("not a web page"), "{report}");

    // The assistant answers from the imported page and cites it by its address.
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "Does the lamp have a warranty?").await;
    assert!(reply.content.contains("five-year warranty"), "{}", reply.content);
    assert!(
        reply.sources.iter().any(|s| s.url.as_deref() == Some(&format!("{site}/help/warranty"))),
        "{:?}",
        reply.sources
    );
}

async fn an_import_by_url_never_fetches_from_a_private_or_local_address_unless_allowed(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let (_, key) = admin_and_key(&app).await;
    let site = help_site().await;
    let port = site.rsplit(':').next().unwrap().to_string();
    // Addresses the server may not reach: listed with the reason, nothing fetched.
    for url in [
        format!("{site}/help/returns"),
        format!("http://localhost:{port}/help/returns"),
        format!("http://[::1]:{port}/help/returns"),
        format!("http://[::ffff:127.0.0.1]:{port}/help/returns"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/".to_string(),
        "http://0/".to_string(),
    ] {
        let (status, report) = import_url(&app, &key, &url).await;
        assert_eq!((status, report["created"].as_i64()), (200, Some(0)), "{url}: {report}");
        let reason = report["rejected"][0]["reason"].as_str().unwrap();
        assert!(reason.contains("private or local address"), "{url}: {reason}");
    }
    // What is no http(s) address at all is refused outright.
    for url in ["file:///etc/passwd", "gopher://shop.example/", "not a url", "http://"] {
        let (status, body) = import_url(&app, &key, url).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("http or https"), "{url}: {body}");
    }
    let (_, page) = with_key(&app, &key, "GET", "/api/v1/admin/knowledge?q=returns", None).await;
    assert_eq!(page["items"], json!([]), "nothing was fetched or written");
}

async fn a_reply_that_could_not_answer_is_marked_for_staff_until_a_person_answers(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let (_, key) = admin_and_key(&app).await;
    put_returns(&app, &key).await;
    let chat = app.new_chat().await;
    let (_, answered) = app.send_and_wait(chat, "Can I return an item for a refund?").await;
    assert!(!answered.unanswered, "{}", answered.content);
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let unanswered = |staff: reqwest::Client| {
        let url = app.url("/api/v1/admin/inquiries?status=all&unanswered=true");
        async move {
            let (status, page) = call(&staff, "GET", url, None).await;
            assert_eq!(status, 200, "{page}");
            page["inquiries"].as_array().unwrap().iter().map(|i| i["chat"]["id"].as_i64().unwrap()).collect::<Vec<_>>()
        }
    };
    assert!(unanswered(staff.clone()).await.is_empty());

    let (_, reply) = app.send_and_wait(chat, "What is the capital of Peru?").await;
    assert!(reply.unanswered, "{}", reply.content);
    assert!(app.messages(chat).await.last().unwrap().unanswered, "it is kept");
    assert_eq!(unanswered(staff.clone()).await, [chat]);
    let (_, inquiry) = call(&staff, "GET", app.url(&format!("/api/v1/admin/inquiries/{chat}")), None).await;
    assert_eq!(inquiry["unanswered"], true, "{inquiry}");
    // A person answers: the mark goes.
    let (status, _) = call(
        &staff,
        "POST",
        app.url(&format!("/api/v1/admin/inquiries/{chat}/messages")),
        Some(json!({"content": "Lima. Anything about your order?"})),
    )
    .await;
    assert_eq!(status, 201);
    assert!(unanswered(staff).await.is_empty());
}

async fn a_strict_context_hands_off_without_the_model_when_nothing_answers(backend: Backend) {
    let (file, options) = one_context(true, "id = \"support\"\nstrict = true");
    let app = TestApp::spawn_with(backend, options).await;
    let (_, key) = admin_and_key(&app).await;
    put_returns(&app, &key).await;
    let chat = app.new_chat().await;
    let (_, handed_off) = app.send_and_wait(chat, "What is the capital of Peru?").await;
    assert!(handed_off.content.contains("Ask for a person"), "{}", handed_off.content);
    assert!(handed_off.unanswered);
    assert!(app.fake().requests().is_empty(), "the model was not asked");

    app.fake().push(Script::words("Within 30 days [1]."));
    let (_, reply) = app.send_and_wait(chat, "How long do I have to return an item?").await;
    assert_eq!(reply.content, "Within 30 days [1].");
    let system = app.fake().requests()[0]["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(system.contains("Answer only from the shop's sources"), "the strict rule: {system}");
    let _ = std::fs::remove_file(file);
}

async fn staff_see_every_passage_a_reply_was_given_and_which_it_cited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = admin_and_key(&app).await;
    put_returns(&app, &key).await;
    let staff_only = json!({"title": "Refund approvals", "body": "Refunds over 500 euros need a manager to approve the return.", "visibility": "staff"});
    assert_eq!(with_key(&app, &key, "PUT", "/api/v1/admin/knowledge/refund-approvals", Some(staff_only)).await.0, 201);
    app.fake().push(Script::words("You can return it within 30 days [1]."));
    let chat = app.new_chat().await;
    let (question, reply) = app.send_and_wait(chat, "Can I return it for a refund?").await;
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let path = format!("/api/v1/admin/inquiries/{chat}/messages/{}/sources", reply.id);
    let (status, given) = call(&staff, "GET", app.url(&path), None).await;
    assert_eq!(status, 200, "{given}");
    let given = given.as_array().unwrap();
    assert!(!given.is_empty());
    assert_eq!(given[0]["cited"], true, "the reply cites [1]: {given:?}");
    assert!(given[1..].iter().all(|g| g["cited"] == false), "{given:?}");
    let returns = given.iter().find(|g| g["external_id"] == "returns").expect("the article was given");
    assert!(returns["passage"].as_str().unwrap().contains("30 days"), "with its passage: {returns}");
    assert_eq!(returns["url"], "https://shop.example/returns");
    assert!(
        given.iter().all(|g| g["external_id"] != "refund-approvals"),
        "staff knowledge is never given to the customer's assistant"
    );
    // The customer's question had no sources; a visitor reads none; a message of another chat is not found.
    let question_path = format!("/api/v1/admin/inquiries/{chat}/messages/{}/sources", question.id);
    assert_eq!(call(&staff, "GET", app.url(&question_path), None).await.1, json!([]));
    let (status, _) = app.get(&path).await;
    assert!([401, 403].contains(&status), "{status}");
    let other = app.new_chat().await;
    let (status, _) =
        call(&staff, "GET", app.url(&format!("/api/v1/admin/inquiries/{other}/messages/{}/sources", reply.id)), None)
            .await;
    assert_eq!(status, 404);
}

async fn in_a_large_knowledge_base_the_words_every_passage_holds_do_not_bury_the_answer(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let (_, key) = admin_and_key(&app).await;
    put_returns(&app, &key).await;
    // 2,100 passages that all hold "order", "ships" and "parcel": common words of this shop.
    let body: String = (0..2_100).map(|i| format!("## Order {i}\n\nYour order {i} ships in a parcel.\n\n")).collect();
    let orders = json!({"title": "Order updates", "body": body});
    let (status, written) = with_key(&app, &key, "PUT", "/api/v1/admin/knowledge/orders", Some(orders)).await;
    assert_eq!(status, 201, "{written}");
    let search = |q: &str| format!("/api/v1/admin/knowledge/search?q={}", q.replace(' ', "%20"));

    // Matched on the word that is not everywhere; the common ones only rank.
    let (status, found) = with_key(&app, &key, "GET", &search("How do I return my order parcel"), None).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["results"][0]["external_id"], "returns", "{found}");
    assert!(found["results"][0]["passage"].as_str().unwrap().contains("within 30 days"), "{found}");
    // The one passage that holds a rare word comes first among thousands that hold the others.
    let (_, found) = with_key(&app, &key, "GET", &search("order 1234 parcel"), None).await;
    assert_eq!(found["results"][0]["passage"], "Your order 1234 ships in a parcel.", "{found}");
    // A question of common words alone finds the passages that hold them together.
    let (_, found) = with_key(&app, &key, "GET", &search("parcel ships"), None).await;
    let results = found["results"].as_array().unwrap();
    assert_eq!(results.len(), 5, "{found}");
    assert!(results.iter().all(|r| r["external_id"] == "orders"), "{found}");
}

/// How many passages have a vector.
async fn embedded_passages(app: &TestApp) -> (i64, i64) {
    let db = &app.state.db.read;
    let (vectors,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM knowledge_embeddings").fetch_one(db).await.unwrap();
    let (passages,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM knowledge_passages").fetch_one(db).await.unwrap();
    (vectors, passages)
}

async fn with_an_embedding_model_passages_are_embedded_in_the_background_and_found_by_meaning(backend: Backend) {
    let options = Options {
        configure: Box::new(|config| config.openai_embedding_model = Some("fake-embedding".into())),
        ..Default::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    // The embedding service fails once: the batch is tried again.
    app.fake().fail_embeddings(1);
    let (_, key) = admin_and_key(&app).await;
    let shipping = json!({"title": "Delivery", "body": "Parcels travel by post and arrive within three days.",
        "url": "https://shop.example/delivery"});
    assert_eq!(with_key(&app, &key, "PUT", "/api/v1/admin/knowledge/delivery", Some(shipping)).await.0, 201);
    put_returns(&app, &key).await;
    wait_until("every passage to have its vector", || async {
        let (vectors, passages) = embedded_passages(&app).await;
        vectors == passages
    })
    .await;
    let batches = app.fake().embedded();
    assert!(batches.len() >= 2, "a failed batch is tried again: {batches:?}");
    assert!(batches.iter().any(|batch| batch.len() > 1), "passages go in batches: {batches:?}");

    // "package" is in no passage: full text alone finds nothing, the vectors find the parcels.
    let (status, found) =
        with_key(&app, &key, "GET", "/api/v1/admin/knowledge/search?q=Where%20is%20my%20package%3F", None).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["results"][0]["external_id"], "delivery", "{found}");
    // Both rankings find the returns article for a question in its words: it scores in both.
    let (_, found) =
        with_key(&app, &key, "GET", "/api/v1/admin/knowledge/search?q=return%20for%20a%20refund", None).await;
    let returns = found["results"].as_array().unwrap().iter().find(|r| r["external_id"] == "returns").expect("found");
    assert!(returns["score"].as_f64().unwrap() > 1.0 / 61.0, "fused from both rankings: {found}");

    // The model is given the passage found by meaning.
    let chat = app.new_chat().await;
    app.send_and_wait(chat, "Where is my package?").await;
    let requests = app.fake().requests();
    let system = requests.last().unwrap()["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(system.contains("Parcels travel by post"), "{system}");

    // After a restart nothing is embedded again: what was done is in the database.
    let before = app.fake().embedded().len();
    let app = app.restart().await;
    let (_, found) =
        with_key(&app, &key, "GET", "/api/v1/admin/knowledge/search?q=Where%20is%20my%20package%3F", None).await;
    assert_eq!(found["results"][0]["external_id"], "delivery", "{found}");
    let since: Vec<Vec<String>> = app.fake().embedded().split_off(before);
    assert!(since.iter().all(|batch| batch.len() == 1 && batch[0].contains("package")), "only the question: {since:?}");
}

async fn a_follow_up_question_is_searched_in_the_light_of_the_question_before_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = admin_and_key(&app).await;
    put_returns(&app, &key).await;
    let follow_up = "And how long do I have?";
    let (_, alone) = with_key(
        &app,
        &key,
        "GET",
        &format!("/api/v1/admin/knowledge/search?q={}", follow_up.replace(' ', "%20")),
        None,
    )
    .await;
    assert_eq!(alone["results"], json!([]), "on its own the follow-up finds nothing");

    let chat = app.new_chat().await;
    app.send_and_wait(chat, "What is your returns policy?").await;
    app.send_and_wait(chat, follow_up).await;
    let requests = app.fake().requests();
    let system = requests.last().unwrap()["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(system.contains("within 30 days"), "the returns passage is given for the follow-up: {system}");
}
