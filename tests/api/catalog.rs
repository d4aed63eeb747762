//! The shop's catalog: products written by the shop's own ids (one at a time, or imported from
//! JSON, CSV and Shopify's export), what chats and the assistant know of them, and a server
//! without the demo shop, on both databases.

use crate::{
    knowledge::{admin_and_key, with_key},
    staff::{call, staff_client},
    support::{read, Backend, Options, TestApp},
};
use frontdesk::server::identity::StaffRole;
use serde_json::{json, Value};

on_both_databases!(
    a_product_written_by_the_shops_id_is_what_chats_and_the_assistant_know,
    bad_products_are_refused_with_a_reason_and_nothing_is_written,
    a_shopify_export_imports_once_and_the_same_file_again_changes_nothing,
    json_and_plain_csv_imports_take_the_good_rows_and_list_the_broken_ones,
    a_server_without_the_demo_writes_no_demo_products_and_sends_visitors_of_slash_to_the_panel,
    a_conversation_knows_the_page_it_began_on_even_without_a_product,
);

async fn import(app: &TestApp, key: &str, query: &str, content_type: &str, body: &str) -> (u16, Value) {
    let url = app.url(&format!("/api/v1/admin/products/import{query}"));
    let request = reqwest::Client::new().post(url).bearer_auth(key).header("content-type", content_type);
    read(request.body(body.to_string()).send().await.unwrap()).await
}

fn oak_chair() -> Value {
    json!({
        "name": "Oak Chair",
        "description": "<p>A solid <b>oak</b> dining chair, oiled by hand.</p>",
        "price": {"amount": "149", "currency": "USD"},
        "url": "https://shop.example/products/oak-chair",
        "image_url": "https://cdn.example/oak-chair.jpg",
        "attributes": {"Colour": ["Natural", "Black"], "Seat height (cm)": 46}
    })
}

async fn a_product_written_by_the_shops_id_is_what_chats_and_the_assistant_know(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let (admin, key) = admin_and_key(&app).await;
    let (status, product) = with_key(&app, &key, "PUT", "/api/v1/admin/products/oak-chair", Some(oak_chair())).await;
    assert_eq!(status, 201, "{product}");
    assert_eq!(product["id"], "oak-chair");
    assert_eq!(product["price"], json!({"amount": "149.00", "currency": "USD"}));
    assert_eq!(product["description"], "A solid oak dining chair, oiled by hand.", "HTML is kept as its text");
    assert_eq!(product["attributes"]["Colour"], "Natural, Black");
    assert_eq!(product["attributes"]["Seat height (cm)"], "46");
    assert_eq!(product["available"], true);
    let (status, again) = with_key(&app, &key, "PUT", "/api/v1/admin/products/oak-chair", Some(oak_chair())).await;
    assert_eq!((status, &again), (200, &product), "the same product twice changes nothing");
    let mut sold_out = oak_chair();
    sold_out["available"] = json!(false);
    let (status, updated) = with_key(&app, &key, "PUT", "/api/v1/admin/products/oak-chair", Some(sold_out)).await;
    assert_eq!((status, &updated["available"]), (200, &json!(false)), "{updated}");

    // Staff signed in read the catalog; customers read the product by the shop's id.
    let agent = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let (status, page) = call(&agent, "GET", app.url("/api/v1/admin/products?q=OAK"), None).await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["products"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["oak-chair"]);
    let (status, public) = app.get("/api/v1/products/oak-chair").await;
    assert_eq!((status, &public["name"]), (200, &json!("Oak Chair")));

    // A chat on its page is about it, and the assistant answers from it, citing it.
    let (status, chat) = app.post("/api/v1/chats", json!({"product_id": "oak-chair"})).await;
    assert_eq!((status, &chat["product_id"]), (201, &json!("oak-chair")), "{chat}");
    let chat = chat["id"].as_i64().unwrap();
    let (_, reply) = app.send_and_wait(chat, "Is it out of stock?").await;
    assert!(reply.content.contains("out of stock"), "{}", reply.content);
    let elsewhere = app.new_chat().await;
    let (_, reply) = app.send_and_wait(elsewhere, "Does the oak chair come in black?").await;
    assert!(reply.content.contains("Natural, Black"), "the product's passage answers: {}", reply.content);
    let cited = reply.sources.iter().find(|s| s.external_id.as_deref() == Some("oak-chair")).expect("it is cited");
    assert_eq!(cited.url.as_deref(), Some("https://shop.example/products/oak-chair"));

    // Deleted: gone from the catalog and from what the assistant knows; the chat keeps its id.
    let (status, _) = with_key(&app, &key, "DELETE", "/api/v1/admin/products/oak-chair", None).await;
    assert_eq!(status, 204);
    let (status, _) = with_key(&app, &key, "DELETE", "/api/v1/admin/products/oak-chair", None).await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/api/v1/products/oak-chair").await;
    assert_eq!(status, 404);
    let (status, found) =
        with_key(&app, &key, "GET", "/api/v1/admin/knowledge/search?q=oak%20chair%20black", None).await;
    assert_eq!(status, 200, "{found}");
    assert!(found["results"].as_array().unwrap().iter().all(|r| r["external_id"] != "oak-chair"), "{found}");
    let (_, kept) = app.get(&format!("/api/v1/chats/{chat}")).await;
    assert_eq!(kept["product_id"], "oak-chair");
    // Every write is audited, naming the key; a revoked key writes nothing more.
    let (_, log) = call(&admin, "GET", app.url("/api/v1/admin/audit"), None).await;
    let actions: Vec<&str> = log["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["product.created", "product.updated", "product.deleted"] {
        assert_eq!(actions.iter().filter(|a| **a == action).count(), 1, "{action}: {log}");
    }
    let (_, keys) = call(&admin, "GET", app.url("/api/v1/admin/api-keys"), None).await;
    let id = keys[0]["id"].as_i64().unwrap();
    call(&admin, "DELETE", app.url(&format!("/api/v1/admin/api-keys/{id}")), None).await;
    let (status, body) = with_key(&app, &key, "PUT", "/api/v1/admin/products/oak-chair", Some(oak_chair())).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = with_key(&app, "fdk_not-a-key", "GET", "/api/v1/admin/products", None).await;
    assert_eq!(status, 401);
}

async fn bad_products_are_refused_with_a_reason_and_nothing_is_written(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let (_, key) = admin_and_key(&app).await;
    let with = |change: Value| {
        let mut product = oak_chair();
        for (field, value) in change.as_object().unwrap() {
            product[field] = value.clone();
        }
        product
    };
    for (body, status, said) in [
        (with(json!({"name": "  "})), 422, "name must be"),
        (with(json!({"price": {"amount": "12.345", "currency": "USD"}})), 422, "price.amount"),
        (with(json!({"price": {"amount": "-3", "currency": "USD"}})), 422, "price.amount"),
        (with(json!({"price": {"amount": "3", "currency": "dollars"}})), 422, "price.currency"),
        (with(json!({"url": "javascript:alert(1)"})), 422, "url must be"),
        (with(json!({"image_url": "data:image/png;base64,AAAA"})), 422, "image_url must be"),
        (with(json!({"attributes": {"Box": {"nested": true}}})), 422, "attribute Box"),
        (with(json!({"colour": "red"})), 422, "colour"),
        (with(json!({"description": "x".repeat(20_001)})), 413, "description"),
    ] {
        let (got, error) = with_key(&app, &key, "PUT", "/api/v1/admin/products/oak-chair", Some(body.clone())).await;
        assert_eq!(got, status, "{body}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(said), "{message}");
    }
    let (status, error) = with_key(&app, &key, "PUT", "/api/v1/admin/products/a%20b", Some(oak_chair())).await;
    assert_eq!(status, 422, "{error}");
    let (_, page) = with_key(&app, &key, "GET", "/api/v1/admin/products?q=oak", None).await;
    assert_eq!(page["products"], json!([]), "nothing was written");

    // Script in a description is text, never markup.
    let (status, product) = with_key(
        &app,
        &key,
        "PUT",
        "/api/v1/admin/products/oak-chair",
        Some(with(json!({"description": "<p>Oak.</p><script>alert('x')</script><img src=x onerror=alert(1)>"}))),
    )
    .await;
    assert_eq!(status, 201, "{product}");
    let description = product["description"].as_str().unwrap();
    assert!(!description.contains('<') && !description.contains("alert"), "{description}");
}

/// Shopify's product export, as its admin writes it: a handle's first row holds the product, the
/// next ones only its other variants (and pictures).
const SHOPIFY: &str = "\
Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Option3 Name,Option3 Value,Variant SKU,Variant Grams,Variant Inventory Tracker,Variant Inventory Qty,Variant Inventory Policy,Variant Fulfillment Service,Variant Price,Variant Compare At Price,Variant Requires Shipping,Variant Taxable,Variant Barcode,Image Src,Image Position,Image Alt Text,Gift Card,SEO Title,SEO Description,Variant Image,Variant Weight Unit,Variant Tax Code,Cost per item,Status
linen-shirt,Linen Shirt,\"<p>Breathable <strong>linen</strong>, cut loose.</p>\",Northwind,Apparel,Shirts,\"linen, summer\",true,Size,S,Colour,Sand,,,LS-S-SAND,250,shopify,4,deny,manual,59.00,69.00,true,true,,https://cdn.example/linen-1.jpg,1,Linen shirt,false,,,,kg,,20.00,active
linen-shirt,,,,,,,,,M,,Sand,,,LS-M-SAND,250,shopify,0,deny,manual,59.00,,true,true,,https://cdn.example/linen-2.jpg,2,,,,,,kg,,,
linen-shirt,,,,,,,,,L,,Navy,,,LS-L-NAVY,250,shopify,2,deny,manual,64.00,,true,true,,,,,,,,,kg,,,
gift-card,Gift Card,<p>For any amount.</p>,Northwind,,Gift,,true,Title,Default Title,,,,,,0,,0,deny,manual,25.00,,false,false,,,,,true,,,,kg,,,active
,,,,,,,,,,,,,,,,,,,,,,,,,https://cdn.example/orphan.jpg,3,,,,,,,,,
";

async fn a_shopify_export_imports_once_and_the_same_file_again_changes_nothing(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let (admin, key) = admin_and_key(&app).await;
    let query = "?currency=USD&shop_url=https://shop.example";
    let (status, report) = import(&app, &key, query, "text/csv", SHOPIFY).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["created"].as_u64(), report["updated"].as_u64()), (Some(2), Some(0)), "{report}");
    assert_eq!(report["rejected"], json!([{"row": 6, "reason": "the Handle column is empty"}]));
    let (_, shirt) = app.get("/api/v1/products/linen-shirt").await;
    assert_eq!(shirt["name"], "Linen Shirt");
    assert_eq!(shirt["description"], "Breathable linen, cut loose.");
    assert_eq!(shirt["price"], json!({"amount": "59.00", "currency": "USD"}), "the cheapest variant");
    assert_eq!(shirt["url"], "https://shop.example/products/linen-shirt");
    assert_eq!(shirt["image_url"], "https://cdn.example/linen-1.jpg");
    assert_eq!(shirt["attributes"]["Size"], "S, M, L");
    assert_eq!(shirt["attributes"]["Colour"], "Sand, Navy");
    assert_eq!(shirt["attributes"]["SKU"], "LS-S-SAND, LS-M-SAND, LS-L-NAVY");
    assert_eq!(shirt["attributes"]["Vendor"], "Northwind");
    assert_eq!(shirt["available"], true);

    let (status, again) = import(&app, &key, query, "text/csv", SHOPIFY).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (again["created"].as_u64(), again["updated"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(0), Some(2))
    );
    let (_, log) = call(&admin, "GET", app.url("/api/v1/admin/audit"), None).await;
    let imports = log["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "products.imported").count();
    assert_eq!(imports, 1, "an import that changed nothing writes no audit line: {log}");

    // The assistant knows the imported catalog.
    let chat = app.new_chat().await;
    let (_, reply) = app.send_and_wait(chat, "Is the linen shirt available in navy?").await;
    assert!(reply.content.contains("Sand, Navy"), "{}", reply.content);
}

async fn json_and_plain_csv_imports_take_the_good_rows_and_list_the_broken_ones(backend: Backend) {
    let app = TestApp::offline(backend).await;
    let (_, key) = admin_and_key(&app).await;
    // JSON is all or nothing: an item that is no product is named, and nothing is written.
    let items = json!([
        {"id": "mug", "name": "Mug", "price": {"amount": "9.50", "currency": "EUR"}},
        {"id": "cup", "name": "Cup"},
        {"id": "mug", "name": "Mug again", "price": {"amount": "1", "currency": "EUR"}},
        {"id": "bowl", "name": "Bowl", "price": {"amount": "12", "currency": "EUR"}, "attributes": {"Glaze": "blue"}}
    ]);
    let (status, body) = import(&app, &key, "", "application/json", &items.to_string()).await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("item 2") && message.contains("price"), "{message}");
    assert!(!message.contains("item 3"), "a product given twice is no broken item: {message}");
    let (_, mug) = app.get("/api/v1/products/mug").await;
    assert_eq!(mug["error"]["code"], "not_found", "nothing was written");
    // Without the broken item: a product given twice counts by its last item, the earlier listed.
    let good = json!([items[0], items[2], items[3]]);
    let (status, report) = import(&app, &key, "", "application/json", &good.to_string()).await;
    assert_eq!((status, report["created"].as_i64()), (200, Some(2)), "{report}");
    assert_eq!(report["rejected"], json!([{"row": 1, "reason": "product mug comes again in row 2, which counts"}]));
    let (_, mug) = app.get("/api/v1/products/mug").await;
    assert_eq!(mug["name"], "Mug again");
    let (status, again) = import(&app, &key, "", "application/json", &good.to_string()).await;
    assert_eq!((status, again["unchanged"].as_i64(), again["updated"].as_i64()), (200, Some(2), Some(0)), "{again}");
    let (_, restore) = import(&app, &key, "", "application/json", &json!([items[0]]).to_string()).await;
    assert_eq!(restore["updated"], 1, "{restore}");

    let csv = "id,name,description,price,currency,available,material\n\
               plate,Plate,\"Stoneware, 27 cm\",18,EUR,yes,stoneware\n\
               mug,Mug,,9.5,EUR,true,\n\
               saucer,Saucer,,abc,EUR,,\n";
    let (status, report) = import(&app, &key, "", "text/csv; charset=utf-8", csv).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["created"].as_u64(), report["unchanged"].as_u64()), (Some(1), Some(1)), "{report}");
    assert_eq!(report["rejected"][0]["row"], 4, "{report}");
    let (_, plate) = app.get("/api/v1/products/plate").await;
    assert_eq!(
        (plate["description"].as_str(), plate["attributes"]["material"].as_str()),
        (Some("Stoneware, 27 cm"), Some("stoneware"))
    );
    let (_, saucer) = app.get("/api/v1/products/saucer").await;
    assert_eq!(saucer["error"]["code"], "not_found", "a broken row writes nothing");

    // Not JSON, not CSV: 415; not an array: 422.
    let (status, body) = import(&app, &key, "", "application/xml", "<products/>").await;
    assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_media_type")), "{body}");
    let (status, body) = import(&app, &key, "", "application/json", "{\"id\": \"mug\"}").await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = import(&app, &key, "?currency=euro", "text/csv", csv).await;
    assert_eq!(status, 422, "{body}");
    let (status, report) = import(&app, &key, "", "text/csv", "name,price\nMug,3\n").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["rejected"], json!([{"row": 2, "reason": "the id column is empty"}]), "a CSV without ids");
}

async fn a_server_without_the_demo_writes_no_demo_products_and_sends_visitors_of_slash_to_the_panel(backend: Backend) {
    let configure = Box::new(|config: &mut frontdesk::server::config::Config| config.demo = false);
    let app = TestApp::spawn_with(backend, Options { fake: false, configure }).await;
    let (status, page) = app.get("/api/v1/products").await;
    assert_eq!((status, &page["products"]), (200, &json!([])), "{page}");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let home = client.get(app.url("/")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(home.status().as_u16(), 303);
    assert_eq!(home.headers()["location"], "/admin");
    let products = client.get(app.url("/products")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(products.status().as_u16(), 404);
    let widget = client.get(app.url("/widget")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(widget.status().as_u16(), 200, "the window is still served");

    // With the demo, the first start wrote the demo catalog under the ids its pages have.
    let demo = TestApp::offline(backend).await;
    let (_, page) = demo.get("/api/v1/products").await;
    let ids: Vec<&str> = page["products"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["1", "2", "3", "4"]);
}

async fn a_conversation_knows_the_page_it_began_on_even_without_a_product(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = json!({"url": "https://shop.example/collections/lamps?sort=price", "title": "Lamps – Northwind"});
    let (status, body) = app.post("/api/v1/chats", json!({"page": {"url": "javascript:alert(1)"}})).await;
    assert_eq!(status, 422, "{body}");
    let (status, chat) = app.post("/api/v1/chats", json!({"page": page})).await;
    assert_eq!(status, 201, "{chat}");
    let chat = chat["id"].as_i64().unwrap();
    app.send_and_wait(chat, "Which of these is the brightest?").await;
    let system = app.fake().requests()[0]["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(
        system.contains("\"Lamps – Northwind\" (https://shop.example/collections/lamps?sort=price)"),
        "the assistant knows where the customer is: {system}"
    );
    let staff = staff_client(&app, "agent@example.com", "Alice", StaffRole::Agent).await;
    let (_, inquiry) = call(&staff, "GET", app.url(&format!("/api/v1/admin/inquiries/{chat}")), None).await;
    assert_eq!(inquiry["page"], page, "{inquiry}");
}
