//! What the OpenAPI spec says beyond each route's own entry: the errors every operation may give,
//! the rules the code keeps as constants (patterns), and the rules only the running server knows
//! (its contexts, its longest message), so that a generated client is told every rule the server
//! enforces.

use serde_json::Value;
use utoipa::openapi::OpenApi;

/// Answers any operation can give, added to every operation of the spec: a request that cannot be
/// read (400), a value out of range (422), a limit reached (429, with `Retry-After`), the database
/// unreachable (503). Each is the one error body.
pub fn add_common_errors(spec: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build(),
        )
    };
    let common = [
        ("400", "The request could not be read (JSON, path or query)"),
        ("422", "A value is not acceptable"),
        ("429", "A limit was reached; see Retry-After"),
        ("503", "The service is unavailable; try again shortly"),
    ];
    for item in spec.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            for (status, description) in common {
                operation.responses.responses.entry(status.to_string()).or_insert_with(|| error(description));
            }
        }
    }
}

/// The spec with the patterns the checks share with it (an attribute takes only a literal), and
/// the rules this server was configured with: the longest message `FRONTDESK_MESSAGE_MAX_CHARS`
/// allows. The context ids are added as it is served ([`with_contexts`]): admins change them.
pub fn with_server_rules(spec: OpenApi, message_max_chars: usize) -> Value {
    use crate::{
        model::{CLIENT_ID_PATTERN, EMAIL_OR_EMPTY_PATTERN, EMAIL_PATTERN, TAG_PATTERN},
        server::knowledge::EXTERNAL_ID_PATTERN,
    };
    let mut value = serde_json::to_value(&spec).expect("the spec is JSON");
    for (schema, field, pattern) in [
        ("NewStaff", "email", EMAIL_PATTERN),
        ("ResetRequest", "email", EMAIL_PATTERN),
        ("UpdateChat", "customer_email", EMAIL_OR_EMPTY_PATTERN),
        ("SendMessage", "client_id", CLIENT_ID_PATTERN),
        ("FirstMessage", "client_id", CLIENT_ID_PATTERN),
    ] {
        property(&mut value, schema, field)["pattern"] = pattern.into();
    }
    for schema in ["SendMessage", "EditMessage", "StaffMessage", "FirstMessage"] {
        property(&mut value, schema, "content")["maxLength"] = message_max_chars.into();
    }
    property(&mut value, "KnowledgeInput", "tags")["items"]["pattern"] = TAG_PATTERN.into();
    property(&mut value, "ChatLabels", "label_ids")["items"]["minimum"] = 1.into();
    *property(&mut value, "ProductInput", "attributes") = crate::server::catalog::attributes_schema();
    // Addresses are URLs, not only text of their shape (`knowledge::is_web_address`).
    for (schema, field, format) in [
        ("ProductInput", "url", "uri"),
        ("ProductInput", "image_url", "uri-reference"),
        ("KnowledgeInput", "url", "uri"),
        ("UrlImport", "url", "uri"),
        ("Page", "url", "uri"),
    ] {
        property(&mut value, schema, field)["format"] = format.into();
    }
    let options = "/paths/~1api~1v1~1admin~1products~1import/post/parameters";
    for parameter in value.pointer_mut(options).and_then(Value::as_array_mut).into_iter().flatten() {
        if parameter["name"] == "shop_url" {
            parameter["schema"]["format"] = "uri".into();
        }
    }
    // An imported product is a product as PUT takes it, with its id.
    let mut imported = value["components"]["schemas"]["ProductInput"].clone();
    imported["properties"]["id"] = serde_json::json!({"type": "string", "pattern": EXTERNAL_ID_PATTERN,
        "description": "The shop's id for the product (a handle or a SKU)."});
    imported["required"].as_array_mut().expect("ProductInput has required fields").push("id".into());
    value["components"]["schemas"]["ImportedProduct"] = imported;
    let import = "/paths/~1api~1v1~1admin~1products~1import/post/requestBody/content/application~1json/schema/items";
    *value.pointer_mut(import).expect("the product import takes JSON") =
        serde_json::json!({"$ref": "#/components/schemas/ImportedProduct"});
    for path in
        ["/paths/~1api~1v1~1admin~1knowledge~1{external_id}", "/paths/~1api~1v1~1admin~1products~1{external_id}"]
    {
        let item = value.pointer_mut(path).and_then(Value::as_object_mut);
        for operation in item.into_iter().flat_map(|item| item.values_mut()) {
            for parameter in operation.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                if parameter["name"] == "external_id" {
                    parameter["schema"]["pattern"] = EXTERNAL_ID_PATTERN.into();
                }
            }
        }
    }
    value
}

/// The spec as served: with the ids of the contexts in force now (a closed set).
pub fn with_contexts(spec: &Value, contexts: &[String]) -> Value {
    let mut value = spec.clone();
    let ids: Vec<Value> = contexts.iter().map(|id| Value::from(id.as_str())).collect();
    for (schema, field) in [
        ("CreateChat", "context"),
        ("UpdateChat", "context"),
        ("SendMessage", "context"),
        ("Preferences", "default_context"),
    ] {
        let property = property(&mut value, schema, field);
        let nullable = match &property["type"] {
            Value::Array(types) => types.iter().any(|t| t == "null"),
            _ => false,
        };
        let mut ids = ids.clone();
        if nullable {
            ids.push(Value::Null);
        }
        property["enum"] = Value::Array(ids);
    }
    let search =
        value.pointer_mut("/paths/~1api~1v1~1admin~1knowledge~1search/get/parameters").and_then(Value::as_array_mut);
    for parameter in search.into_iter().flatten().filter(|p| p["name"] == "context") {
        parameter["schema"]["enum"] = Value::Array(ids.clone());
    }
    value
}

/// A property of a schema of the spec; there is one (the names are this crate's own types).
fn property<'a>(spec: &'a mut Value, schema: &str, field: &str) -> &'a mut Value {
    spec.pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
        .unwrap_or_else(|| panic!("the spec has {schema}.{field}"))
}
