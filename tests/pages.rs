//! Server-rendered pages, in a test process of their own with one runtime, as in production.
//! (With several test apps on several runtimes rendering at once in one process, a render
//! occasionally never finished; a single server never stalled: 70 rounds of 24 concurrent page
//! loads against the release build, with and without CPU load.) Each case runs on SQLite, then on
//! PostgreSQL.

mod support;

use std::time::Duration;

use frontdesk::server::identity::StaffRole;
use serde_json::json;
use support::{Backend, TestApp};

const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// One test, so one runtime: the cases run one after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_rendered_pages_on_both_databases() {
    for backend in BACKENDS {
        the_chat_page_is_rendered_on_the_server_with_the_history(backend).await;
        staff_pages_answer_401_to_nobody_and_403_to_a_visitor_with_the_sign_in_form(backend).await;
        pages_render_many_at_once_on_every_worker_thread(backend).await;
        every_page_allows_only_its_own_nonced_scripts_and_only_the_widget_may_be_framed(backend).await;
        the_shops_pages_load_the_customers_bundle_and_only_the_panel_loads_the_panels(backend).await;
    }
}

async fn the_shops_pages_load_the_customers_bundle_and_only_the_panel_loads_the_panels(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (path, bundle) in [
        ("/", "frontdesk"),
        ("/products/2", "frontdesk"),
        ("/widget", "frontdesk"),
        ("/no-such-page", "frontdesk"),
        ("/administrator", "frontdesk"),
        ("/admin", "frontdesk_panel"),
        ("/admin/login?next=/admin", "frontdesk_panel"),
        ("/admin/inquiries/1", "frontdesk_panel"),
    ] {
        let html = app.client.get(app.url(path)).send().await.unwrap().text().await.unwrap();
        for file in [format!("/pkg/{bundle}.js"), format!("/pkg/{bundle}.wasm")] {
            assert!(html.contains(&file), "{path} loads {file}");
        }
        assert_eq!(html.contains("_panel."), bundle == "frontdesk_panel", "{path} loads one bundle: {bundle}");
    }
}

async fn every_page_allows_only_its_own_nonced_scripts_and_only_the_widget_may_be_framed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut nonces = Vec::new();
    for path in ["/", "/products/2", "/widget", "/admin", "/admin/login", "/no-such-page"] {
        let response = app.client.get(app.url(path)).header("accept", "text/html").send().await.unwrap();
        let headers = response.headers().clone();
        let html = response.text().await.unwrap();
        let policy = headers["content-security-policy"].to_str().unwrap().to_string();
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: the policy has a nonce: {policy}"))
            .to_string();
        assert!(!policy.contains("'unsafe-inline'") && !policy.contains(" 'unsafe-eval'"), "{path}: {policy}");
        // Every script the page carries is allowed by the policy: it has this request's nonce.
        let scripts = html.matches("<script").count();
        assert!(scripts > 0, "{path} hydrates with scripts");
        assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "{path}: every script has the nonce");
        let framing = if path == "/widget" { "frame-ancestors *" } else { "frame-ancestors 'none'" };
        assert!(policy.ends_with(framing), "{path}: {policy}");
        assert_eq!(headers.get("x-frame-options").map(|v| v.to_str().unwrap()), (path != "/widget").then_some("DENY"));
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["cache-control"], "no-store", "{path} is personal");
        nonces.push(nonce);
    }
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 6, "a new nonce for every response");
}

async fn staff_pages_answer_401_to_nobody_and_403_to_a_visitor_with_the_sign_in_form(backend: Backend) {
    {
        let app = TestApp::spawn(backend).await;
        let chat = app.new_chat().await;
        app.state
            .accounts
            .create_staff("agent@example.com", "Alice", StaffRole::Agent, "a-long-enough-password")
            .await
            .unwrap();
        let staff = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let login = staff
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": "agent@example.com", "password": "a-long-enough-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        let nobody = reqwest::Client::new();
        // The panel's pages: the sign-in form, with the status that says why.
        for (who, client, expected) in [("nobody", &nobody, 401), ("visitor", &app.client, 403), ("staff", &staff, 200)]
        {
            for path in ["/admin".to_string(), format!("/admin/inquiries/{chat}")] {
                let (status, page) = tokio::time::timeout(Duration::from_secs(20), async {
                    let response = client.get(app.url(&path)).header("accept", "text/html").send().await.unwrap();
                    (response.status().as_u16(), response.text().await.unwrap())
                })
                .await
                .unwrap_or_else(|_| panic!("{backend:?}: {who} opening {path} answered in time"));
                assert_eq!(status, expected, "{who} opening {path}");
                assert_eq!(page.contains("signin-email"), expected != 200, "{who} sees the sign-in form on {path}");
            }
        }
        // Opening /admin creates no visitor: staff sign in, they are not visitors.
        let response = nobody.get(app.url("/admin")).header("accept", "text/html").send().await.unwrap();
        assert!(response.headers().get("set-cookie").is_none());
    }
}

async fn pages_render_many_at_once_on_every_worker_thread(backend: Backend) {
    {
        let app = TestApp::spawn(backend).await;
        app.new_chat().await;
        // Rendering moves between worker threads; nothing a page holds may mind (a thread-bound
        // value dropped on another thread aborts the response).
        for round in 0..3 {
            let requests = (0..24).map(|i| {
                let path = ["/", "/products/2", "/widget", "/admin"][i % 4];
                let request = app.client.get(app.url(path)).header("accept", "text/html").send();
                async move {
                    let page = tokio::time::timeout(Duration::from_secs(30), async move {
                        let response = request.await.expect("a whole response");
                        let status = response.status().as_u16();
                        (status, response.text().await.expect("the page arrives in full"))
                    })
                    .await;
                    (path, page)
                }
            });
            for (path, page) in futures::future::join_all(requests).await {
                let (status, html) =
                    page.unwrap_or_else(|_| panic!("{backend:?} round {round}: {path} answered in time"));
                assert!([200, 403].contains(&status), "{backend:?}: {path}: {status}");
                assert!(html.contains("</html>"), "{backend:?}: {path} arrives in full");
            }
        }
    }
}

async fn the_chat_page_is_rendered_on_the_server_with_the_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = app.client.get(app.url("/")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-testid=\"messages\""), "{html}");
    assert!(html.contains("Looking for the right product?"), "the greeting is in the HTML");
    for path in ["/products/abc", "/products/lamp.svg", "/products/999"] {
        let response = app.client.get(app.url(path)).header("accept", "text/html").send().await.unwrap();
        assert_eq!(response.status(), 404, "{path} is not a product page");
    }
    let product = app.client.get(app.url("/products/2")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(product.status(), 200);
    let html = product.text().await.unwrap();
    assert!(html.contains("/images/products/chair.svg"), "the product's picture is a static file");
    assert!(html.contains("ask me anything about it"), "the greeting is about the product");
    // The visitor's conversation (started by their first action), and what they send, show on
    // the next render.
    let chat = app.new_chat().await;
    app.send_and_wait(chat, "Rendered <b>safely</b>?").await;
    let html = app.client.get(app.url("/")).header("accept", "text/html").send().await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!(r#"data-chat-id="{chat}""#)), "the page opens on the visitor's chat");
    assert!(html.contains("Rendered &lt;b&gt;safely&lt;/b&gt;?"), "user text is escaped");
    assert!(html.contains(support::fake_openai::DEFAULT_REPLY));
}
