//! The user service, end to end.

use milkrun_e2e::*;

#[tokio::test]
async fn register_ignores_privileged_fields_and_login_opens_the_profile() {
    let email = unique_email();
    let registered = register(&email).await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    assert_eq!(registered.body["role"], "CUSTOMER");
    assert_eq!(registered.body["isProfileComplete"], false);
    assert_no_secrets(&registered.text);

    let logged_in = login(&email.to_uppercase(), "correct horse battery").await;
    assert_eq!(logged_in.status, StatusCode::OK, "{}", logged_in.text);
    assert_eq!(logged_in.body["userId"], registered.body["userId"]);
    assert_eq!(logged_in.body["expiresIn"], 3600);
    assert_no_secrets(&logged_in.text);

    let me = call(
        Method::GET,
        "/users/me",
        logged_in.body["token"].as_str(),
        None,
    )
    .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], email.to_lowercase());
    assert_eq!(me.body["orderCount"], 0);
    assert_eq!(me.body["devices"][0]["userAgent"], "milkrun-e2e");
    assert!(me.body["devices"][0]["ip"].is_string());
    assert_no_secrets(&me.text);
}

#[tokio::test]
async fn an_email_registers_once_whatever_its_case_and_however_concurrent() {
    let email = unique_email();
    let attempts = (0..8).map(|i| {
        let email = if i % 2 == 0 {
            email.to_uppercase()
        } else {
            email.to_lowercase()
        };
        async move { register(&email).await.status }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert_error(&register(&email).await, StatusCode::CONFLICT, "CONFLICT");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_401() {
    let (_, _) = new_customer().await;
    let email = unique_email();
    register(&email).await;
    let wrong = login(&email, "not the password").await;
    let unknown = login(&unique_email(), "not the password").await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    assert_eq!(wrong.body["errorMessage"], unknown.body["errorMessage"]);
}

#[tokio::test]
async fn check_answers_exists_only() {
    let email = unique_email();
    register(&email).await;
    let known = call(
        Method::POST,
        "/users/check",
        None,
        Some(json!({"email": email})),
    )
    .await;
    assert_eq!(known.body, json!({"exists": true}));
    let unknown = call(
        Method::POST,
        "/users/check",
        None,
        Some(json!({"email": unique_email()})),
    )
    .await;
    assert_eq!(unknown.body, json!({"exists": false}));
    assert_error(
        &call(
            Method::POST,
            "/users/check",
            None,
            Some(json!({"email": "nope"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    );
}

#[tokio::test]
async fn bad_input_gets_the_spec_error_body() {
    let raw = |body: &'static str| {
        client()
            .post(format!("{}/users/register", base()))
            .header("content-type", "application/json")
            .body(body)
    };
    assert_error(
        &reply(raw("{\"name\": ")).await,
        StatusCode::BAD_REQUEST,
        "MALFORMED_JSON",
    );
    assert_error(
        &reply(raw("")).await,
        StatusCode::BAD_REQUEST,
        "MALFORMED_JSON",
    );
    let invalid = register_with(
        json!({"name": "", "email": "not-an-email", "password": "short", "phone": "12"}),
    )
    .await;
    assert_error(&invalid, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let fields = invalid.body["details"]["fields"].as_object().unwrap();
    for field in ["name", "email", "password", "phone"] {
        assert!(
            fields.contains_key(field),
            "{field} not named: {}",
            invalid.text
        );
    }
    // The document's phone pattern refuses an empty phone, and so does the code (issue 8).
    let blank_phone = register_with(json!({"name": "Asha", "email": unique_email(),
                                          "password": "correct horse battery", "phone": ""}))
    .await;
    assert_fields(&blank_phone, &["phone"]);
    let missing = register_with(json!({})).await;
    assert_eq!(
        missing.body["details"]["fields"].as_object().unwrap().len(),
        3,
        "{}",
        missing.text
    );
    assert_error(
        &register_with(json!({"name": 5})).await,
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    );
    assert_error(
        &register_with(json!([1, 2])).await,
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    );
    let huge = json!({"name": "x".repeat(200_000), "email": unique_email(), "password": "correct horse battery"});
    assert_error(
        &register_with(huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    );
}

async fn register_with(body: Value) -> Reply {
    call(Method::POST, "/users/register", None, Some(body)).await
}

#[tokio::test]
async fn protected_routes_refuse_missing_forged_and_tampered_tokens() {
    let (_, token) = new_customer().await;
    assert_error(
        &call(Method::GET, "/users/me", None, None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert_error(
        &call(Method::GET, "/users/me", Some("garbage"), None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    assert_error(
        &call(Method::GET, "/users/me", Some(&parts.join(".")), None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none_header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{}.", token.split('.').nth(1).unwrap());
    assert_error(
        &call(Method::GET, "/users/me", Some(&unsigned), None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
}

#[tokio::test]
async fn addresses_keep_exactly_one_default_and_complete_the_profile() {
    let (_, token) = new_customer().await;
    let token = Some(token.as_str());
    let address = |default: bool| json!({"line1": "12 MG Road", "city": "Bengaluru", "state": "KA", "pincode": "560001", "isDefault": default});
    let home = call(
        Method::PUT,
        "/users/me/addresses/home",
        token,
        Some(address(false)),
    )
    .await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.text);
    assert_eq!(
        home.body["addresses"][0]["isDefault"], true,
        "the first address is the default"
    );
    assert_eq!(home.body["isProfileComplete"], false, "no phone yet");
    let office = call(
        Method::PUT,
        "/users/me/addresses/office",
        token,
        Some(address(true)),
    )
    .await;
    let defaults: Vec<&Value> = office.body["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["isDefault"] == true)
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["label"], "office");
    let phoned = call(
        Method::PATCH,
        "/users/me",
        token,
        Some(json!({"phone": "+91 98765 43210", "name": "Asha R"})),
    )
    .await;
    assert_eq!(phoned.body["isProfileComplete"], true, "{}", phoned.text);
    assert_eq!(phoned.body["name"], "Asha R");
    let removed = call(Method::DELETE, "/users/me/addresses/office", token, None).await;
    assert_eq!(removed.body["addresses"][0]["label"], "home");
    assert_eq!(removed.body["addresses"][0]["isDefault"], true);
    assert_error(
        &call(Method::DELETE, "/users/me/addresses/office", token, None).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let bad = call(
        Method::PUT,
        "/users/me/addresses/home",
        token,
        Some(json!({"line1": "x", "city": "y", "state": "z", "pincode": "012345"})),
    )
    .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(bad.body["details"]["fields"]["pincode"].is_string());
    assert_error(
        &call(
            Method::PUT,
            "/users/me/addresses/bad%20label",
            token,
            Some(address(false)),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    );
}

#[tokio::test]
async fn preferences_are_validated_and_kept() {
    let (_, token) = new_customer().await;
    let token = Some(token.as_str());
    let set = call(
        Method::PUT,
        "/users/me/preferences",
        token,
        Some(json!({"deliverySlot": "MORNING", "paymentMethod": "UPI", "newsletterOptIn": true})),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let mut kept = set.body["preferences"].clone();
    // The channels per kind of message, with their defaults (notifications.rs tests them).
    assert!(kept["notifications"].is_object(), "{kept}");
    kept.as_object_mut().unwrap().remove("notifications");
    assert_eq!(
        kept,
        json!({"deliverySlot": "MORNING", "paymentMethod": "UPI", "newsletterOptIn": true})
    );
    let bad = call(
        Method::PUT,
        "/users/me/preferences",
        token,
        Some(json!({"deliverySlot": "NIGHT"})),
    )
    .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(
        bad.body["details"]["fields"]["deliverySlot"].is_string(),
        "{}",
        bad.text
    );
}

#[tokio::test]
async fn verify_email_refuses_bad_tokens() {
    let (_, access_token) = new_customer().await;
    for token in [json!("garbage"), json!(access_token)] {
        let reply = call(
            Method::POST,
            "/users/verify-email",
            None,
            Some(json!({"token": token})),
        )
        .await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
    for missing in [json!({}), json!({"token": ""}), json!({"token": null})] {
        let reply = call(Method::POST, "/users/verify-email", None, Some(missing)).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn admins_list_read_and_change_users_and_nobody_else_can() {
    let admin = admin_token().await;
    let (user_id, customer) = new_customer().await;
    assert_error(
        &call(Method::GET, "/users", Some(&customer), None).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_error(
        &call(
            Method::GET,
            &format!("/users/{user_id}"),
            Some(&customer),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_error(
        &call(
            Method::PATCH,
            &format!("/users/{user_id}"),
            Some(&customer),
            Some(json!({"role": "ADMIN"})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );

    let page = call(Method::GET, "/users?limit=1", Some(&admin), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    let cursor = page.body["nextCursor"]
        .as_str()
        .expect("more than one user exists");
    let next = call(
        Method::GET,
        &format!("/users?limit=1&cursor={cursor}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(next.status, StatusCode::OK);
    assert_ne!(
        next.body["items"][0]["userId"],
        page.body["items"][0]["userId"]
    );
    assert_no_secrets(&page.text);
    assert_unknown_cursor(&call(Method::GET, "/users?cursor=garbage", Some(&admin), None).await);
    assert_error(
        &call(Method::GET, "/users?limit=500", Some(&admin), None).await,
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    );

    let one = call(
        Method::GET,
        &format!("/users/{user_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(one.body["userId"], user_id.as_str());
    assert_error(
        &call(
            Method::GET,
            &format!("/users/{}", Uuid::new_v4()),
            Some(&admin),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &call(Method::GET, "/users/not-a-uuid", Some(&admin), None).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );

    let path = format!("/users/{user_id}");
    assert_error(
        &call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"role": "VENDOR"})),
        )
        .await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    assert_error(
        &call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"role": "OWNER"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    );
    // A vendorId must name a vendor that exists (issue 8).
    let vendor_id = create_vendor(&admin, &[&fresh_pincode()]).await["vendorId"]
        .as_str()
        .unwrap()
        .to_owned();
    let vendor = call(
        Method::PATCH,
        &path,
        Some(&admin),
        Some(json!({"role": "VENDOR", "vendorId": vendor_id})),
    )
    .await;
    assert_eq!(vendor.status, StatusCode::OK, "{}", vendor.text);
    assert_eq!(vendor.body["vendorId"], vendor_id.to_string());
    assert_eq!(vendor.body["role"], "VENDOR");
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in_or_use_an_old_token() {
    let admin = admin_token().await;
    let email = unique_email();
    let user_id = register(&email).await.body["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    let old_token = login(&email, "correct horse battery").await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let disabled = call(
        Method::PATCH,
        &format!("/users/{user_id}"),
        Some(&admin),
        Some(json!({"status": "DISABLED"})),
    )
    .await;
    assert_eq!(disabled.body["status"], "DISABLED", "{}", disabled.text);
    assert_error(
        &login(&email, "correct horse battery").await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_error(
        &call(Method::GET, "/users/me", Some(&old_token), None).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    );
    assert_error(
        &login(&email, "wrong password!").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
}

#[tokio::test]
async fn correlation_ids_are_echoed_or_generated() {
    let request = client()
        .post(format!("{}/users/check", base()))
        .header("x-correlation-id", "e2e-trace-42")
        .json(&json!({"email": unique_email()}));
    let echoed = reply(request).await;
    assert_eq!(echoed.headers["x-correlation-id"], "e2e-trace-42");
    let generated = call(
        Method::POST,
        "/users/check",
        None,
        Some(json!({"email": unique_email()})),
    )
    .await;
    assert!(!generated.headers["x-correlation-id"].is_empty());
    let refused = call(Method::GET, "/users/me", None, None).await;
    assert!(refused.headers.contains_key("x-correlation-id"));
    assert!(
        refused.headers.contains_key("access-control-allow-origin"),
        "CORS on errors too"
    );
}

#[tokio::test]
async fn openapi_describes_every_route_and_docs_are_served() {
    let document = call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(document.status, StatusCode::OK);
    let paths = document.body["paths"].as_object().unwrap();
    for (path, method) in [
        ("/users/register", "post"),
        ("/users/login", "post"),
        ("/users/check", "post"),
        ("/users/verify-email", "post"),
        ("/users/me", "get"),
        ("/users/me", "patch"),
        ("/users/me/addresses/{label}", "put"),
        ("/users/me/addresses/{label}", "delete"),
        ("/users/me/preferences", "put"),
        ("/users", "get"),
        ("/users/{userId}", "get"),
        ("/users/{userId}", "patch"),
        ("/vendors", "get"),
        ("/vendors", "post"),
        ("/vendors/{vendorId}", "get"),
        ("/vendors/{vendorId}", "patch"),
        ("/vendors/{vendorId}", "delete"),
        ("/products", "get"),
        ("/products", "post"),
        ("/products/{productId}", "get"),
        ("/products/{productId}", "patch"),
        ("/products/{productId}", "delete"),
        ("/inventory", "get"),
        ("/inventory/{vendorId}/{productId}/{variantId}", "put"),
        ("/audit", "get"),
        ("/analytics/events", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} undocumented"
        );
    }
    let docs = call(Method::GET, "/docs/", None, None).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(
        docs.text.contains("swagger"),
        "{}",
        &docs.text[..docs.text.len().min(200)]
    );
}

#[tokio::test]
async fn unknown_routes_get_a_spec_404() {
    assert_error(
        &call(Method::GET, "/no/such/route", None, None).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
}
