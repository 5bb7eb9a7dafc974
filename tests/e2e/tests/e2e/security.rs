//! Authorization that follows the account as it is now, and the defects found by trying the
//! API as an attacker and as a new user would (issue 8). Each of these failed before it.

use std::time::Duration;

use milkrun_e2e::*;

use crate::helpers::poll_until;

/// Authorization may lag a change to an account by at most this long.
const LAG: Duration = Duration::from_secs(30);

/// Repeats `request` until its status is `expected`, for up to 30 s (and a little margin).
async fn within_lag<F, Fut>(expected: StatusCode, mut request: F) -> Reply
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let (timeout, every) = (LAG + Duration::from_secs(5), Duration::from_millis(500));
    poll_until(
        timeout,
        every,
        async || request().await,
        |reply| reply.status == expected,
    )
    .await
}

fn id(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap().to_owned()
}

async fn registered_user_id(email: &str) -> String {
    let reply = register(email).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    id(&reply.body, "userId")
}

/// Gives the account `grant` (as `admin`), then logs it in: its token carries the grant.
async fn granted_token(admin: &str, user_id: &str, email: &str, grant: Value) -> String {
    let reply = patch_user(admin, user_id, grant).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    id(&login(email, "correct horse battery").await.body, "token")
}

async fn patch_user(admin: &str, user_id: &str, body: Value) -> Reply {
    call(
        Method::PATCH,
        &format!("/users/{user_id}"),
        Some(admin),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_disabled_and_demoted_admin_loses_her_powers_with_her_old_token() {
    let root = admin_token().await;
    let email = unique_email();
    let admin_id = registered_user_id(&email).await;
    let her_token = granted_token(&root, &admin_id, &email, json!({"role": "ADMIN"})).await;
    let target = registered_user_id(&unique_email()).await;
    assert_eq!(
        patch_user(&her_token, &target, json!({"role": "MANAGER"}))
            .await
            .status,
        StatusCode::OK,
        "an admin while she is one"
    );
    let demoted = patch_user(
        &root,
        &admin_id,
        json!({"role": "CUSTOMER", "status": "DISABLED"}),
    )
    .await;
    assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.text);
    let refused = within_lag(StatusCode::FORBIDDEN, || {
        call(Method::GET, "/users", Some(&her_token), None)
    })
    .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "FORBIDDEN");
    let promotion = patch_user(&her_token, &target, json!({"role": "ADMIN"})).await;
    assert_error(&promotion, StatusCode::FORBIDDEN, "FORBIDDEN");
    let target_now = call(Method::GET, &format!("/users/{target}"), Some(&root), None).await;
    assert_eq!(
        target_now.body["role"], "MANAGER",
        "her promotion did not land"
    );
}

#[tokio::test]
async fn a_promoted_account_that_logs_in_again_acts_with_its_new_role_at_once() {
    let root = admin_token().await;
    let email = unique_email();
    let user_id = registered_user_id(&email).await;
    let old_token = id(&login(&email, "correct horse battery").await.body, "token");
    // The service has just read the account: a customer's answer is in its cache.
    let before = call(Method::GET, "/users", Some(&old_token), None).await;
    assert_error(&before, StatusCode::FORBIDDEN, "FORBIDDEN");

    let new_token = granted_token(&root, &user_id, &email, json!({"role": "ADMIN"})).await;
    // No waiting: a token issued after the cached answer makes the service read again.
    let after = call(Method::GET, "/users", Some(&new_token), None).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.text);
}

#[tokio::test]
async fn a_vendor_user_moved_to_another_vendor_loses_the_first_ones_stock() {
    let root = admin_token().await;
    let first = id(&create_vendor(&root, &[&fresh_pincode()]).await, "vendorId");
    let second = id(&create_vendor(&root, &[&fresh_pincode()]).await, "vendorId");
    let (product_id, variant) = product_sold_by(&root, "Moved Milk", &[&first, &second]).await;
    let email = unique_email();
    let user = registered_user_id(&email).await;
    let vendor_user = json!({"role": "VENDOR", "vendorId": first});
    let token = granted_token(&root, &user, &email, vendor_user).await;
    let stock = format!("/inventory/{first}/{product_id}/{variant}");
    let add = || {
        call(
            Method::PUT,
            &stock,
            Some(&token),
            Some(json!({"operation": "ADD", "quantity": 1})),
        )
    };
    assert_eq!(add().await.status, StatusCode::OK, "its own vendor's stock");
    assert_eq!(
        patch_user(&root, &user, json!({"vendorId": second}))
            .await
            .status,
        StatusCode::OK
    );
    let refused = within_lag(StatusCode::FORBIDDEN, add).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "FORBIDDEN");
}

/// A one-variant product sold by `vendors`: its id and its variant's id.
async fn product_sold_by(root: &str, name: &str, vendors: &[&str]) -> (String, String) {
    let body = json!({"name": name, "category": "MILK",
                      "variants": [{"name": "1L", "price": {"amount": 5400}}], "vendorIds": vendors});
    let product = call(Method::POST, "/products", Some(root), Some(body)).await;
    assert_eq!(product.status, StatusCode::CREATED, "{}", product.text);
    (
        id(&product.body, "productId"),
        id(&product.body["variants"][0], "variantId"),
    )
}

#[tokio::test]
async fn a_deactivated_vendor_is_out_of_availability_listings_and_stock_changes() {
    let root = admin_token().await;
    let vendor = id(&create_vendor(&root, &[&fresh_pincode()]).await, "vendorId");
    let (product_id, variant) = product_sold_by(&root, "Gone Milk", &[&vendor]).await;
    let stock = format!("/inventory/{vendor}/{product_id}/{variant}");
    let set = json!({"operation": "SET", "quantity": 40});
    assert_eq!(
        call(Method::PUT, &stock, Some(&root), Some(set.clone()))
            .await
            .status,
        StatusCode::OK
    );
    let listed = call(
        Method::GET,
        &format!("/products?vendorId={vendor}"),
        None,
        None,
    )
    .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        call(
            Method::DELETE,
            &format!("/vendors/{vendor}"),
            Some(&root),
            None
        )
        .await
        .status,
        StatusCode::OK
    );

    let detail = call(Method::GET, &format!("/products/{product_id}"), None, None).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text);
    let availability = &detail.body["availability"][0];
    assert_eq!(
        (
            availability["stock"].as_u64(),
            availability["inStock"].as_bool()
        ),
        (Some(0), Some(false)),
        "{}",
        detail.text
    );
    let listed = call(
        Method::GET,
        &format!("/products?vendorId={vendor}"),
        None,
        None,
    )
    .await;
    assert_eq!(
        listed.body["items"],
        json!([]),
        "its products no longer list under it"
    );
    assert_error(
        &call(Method::PUT, &stock, Some(&root), Some(set)).await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
}

#[tokio::test]
async fn stock_stops_at_its_maximum_and_the_product_page_stays_up() {
    let root = admin_token().await;
    let vendor = id(&create_vendor(&root, &[&fresh_pincode()]).await, "vendorId");
    let (product_id, variant) = product_sold_by(&root, "Endless Milk", &[&vendor]).await;
    let stock = format!("/inventory/{vendor}/{product_id}/{variant}");
    // 1,000 ADDs of 1,000,000 reach the maximum exactly (four at a time).
    for round in 0..250 {
        let adds = (0..4).map(|_| {
            call(
                Method::PUT,
                &stock,
                Some(&root),
                Some(json!({"operation": "ADD", "quantity": 1_000_000})),
            )
        });
        for reply in futures::future::join_all(adds).await {
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "round {round}: {}",
                reply.text
            );
        }
    }
    let over = call(
        Method::PUT,
        &stock,
        Some(&root),
        Some(json!({"operation": "ADD", "quantity": 1})),
    )
    .await;
    assert_error(&over, StatusCode::CONFLICT, "CONFLICT");
    let inventory = call(
        Method::GET,
        &format!("/inventory?vendorId={vendor}"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(
        inventory.body["items"][0]["stock"], 1_000_000_000,
        "the row is unchanged"
    );
    let page = call(Method::GET, &format!("/products/{product_id}"), None, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.body["availability"][0]["stock"], 1_000_000_000);
}

#[tokio::test]
async fn undecodable_path_segments_get_the_spec_error_body() {
    let root = admin_token().await;
    for path in [
        "/vendors/%FF",
        "/products/%C0",
        "/users/%FF",
        "/vendors/%E2%82",
    ] {
        let reply = call(Method::GET, path, Some(&root), None).await;
        assert!(reply.status.is_client_error(), "{path}: {}", reply.status);
        assert!(
            reply
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json")),
            "{path}: {}",
            reply.text
        );
        assert_error(
            &reply,
            reply.status,
            reply.body["errorCode"].as_str().unwrap_or("missing"),
        );
    }
}

#[tokio::test]
async fn an_account_can_only_be_tied_to_a_vendor_that_exists() {
    let root = admin_token().await;
    let user = registered_user_id(&unique_email()).await;
    let reply = patch_user(
        &root,
        &user,
        json!({"role": "VENDOR", "vendorId": Uuid::new_v4()}),
    )
    .await;
    assert_error(&reply, StatusCode::NOT_FOUND, "NOT_FOUND");
    let unchanged = call(Method::GET, &format!("/users/{user}"), Some(&root), None).await;
    assert_eq!(unchanged.body["role"], "CUSTOMER");
}

#[tokio::test]
async fn one_mailbox_is_one_account_whatever_its_spelling() {
    let local = format!("u{}", Uuid::new_v4().simple());
    assert_eq!(
        register(&format!("{local}@exämple.com")).await.status,
        StatusCode::CREATED
    );
    for same in [
        format!("{local}@xn--exmple-cua.com"),
        format!("{local}@exa\u{308}mple.com"),
        format!("{}@EXÄMPLE.com", local.to_uppercase()),
    ] {
        assert_error(&register(&same).await, StatusCode::CONFLICT, "CONFLICT");
    }
    let login = login(
        &format!("{local}@xn--exmple-cua.com"),
        "correct horse battery",
    )
    .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
}

#[tokio::test]
async fn the_link_in_the_welcome_mail_verifies_the_email() {
    let (user_id, token) = new_customer().await;
    let (timeout, every) = (Duration::from_secs(60), Duration::from_millis(500));
    let notifications = async || {
        call(Method::GET, "/notifications", Some(&token), None)
            .await
            .body["items"]
            .clone()
    };
    let items = poll_until(timeout, every, notifications, |items| {
        items.get(0).is_some()
    })
    .await;
    let welcome = items.get(0).cloned().unwrap_or(Value::Null);
    let body = welcome["body"].as_str().expect("a welcome mail");
    let link = body
        .split_whitespace()
        .find(|w| w.contains("verify-email?token="))
        .expect("a link");
    let (path, verification) = link.split_once("verify-email?token=").unwrap();
    assert!(
        path.ends_with("/users/"),
        "the link names a route that exists: {link}"
    );
    let verified = call(
        Method::GET,
        &format!("/users/verify-email?token={verification}"),
        None,
        None,
    )
    .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text);
    assert_eq!(
        verified.body,
        json!({"userId": user_id, "emailVerified": true})
    );
}

#[tokio::test]
async fn authorization_is_decided_before_validation() {
    let (_, customer) = new_customer().await;
    let cases: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/inventory", None),
        (Method::GET, "/inventory?vendorId=not-a-uuid&limit=0", None),
        (
            Method::PUT,
            "/inventory/x/y/z",
            Some(json!({"operation": "MULTIPLY"})),
        ),
        (Method::POST, "/products", Some(json!({"name": ""}))),
        (
            Method::PATCH,
            "/products/not-an-id",
            Some(json!({"category": "CHEESE"})),
        ),
        (Method::POST, "/vendors", Some(json!({}))),
        (Method::GET, "/audit", None),
        (Method::GET, "/analytics/events?type=NOPE&date=never", None),
        (Method::GET, "/users?limit=500", None),
        (
            Method::PATCH,
            "/users/not-an-id",
            Some(json!({"role": "KING"})),
        ),
    ];
    for (method, path, body) in cases {
        let reply = call(method.clone(), path, Some(&customer), body.clone()).await;
        assert_error(&reply, StatusCode::FORBIDDEN, "FORBIDDEN");
        let guest = call(method, path, None, body).await;
        assert_error(&guest, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
}

#[tokio::test]
async fn repeated_failed_logins_are_refused_for_a_while_and_each_is_audited() {
    let root = admin_token().await;
    let email = unique_email();
    let user = registered_user_id(&email).await;
    for attempt in 0..10 {
        let reply = login(&email, "not the password").await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        assert!(attempt < 10);
    }
    let blocked = login(&email, "correct horse battery").await;
    assert_eq!(
        blocked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        blocked.text
    );
    assert_eq!(blocked.body["errorCode"], "TOO_MANY_REQUESTS");
    let retry_after: u64 = blocked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let trail = call(
        Method::GET,
        &format!("/audit?entityId={user}&limit=100"),
        Some(&root),
        None,
    )
    .await;
    let failed = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "LOGIN_FAILED")
        .count();
    assert_eq!(failed, 10, "every failed login is audited: {}", trail.text);
    let unknown = unique_email();
    assert_error(
        &login(&unknown, "whatever pass").await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    let by_email = call(
        Method::GET,
        &format!("/audit?entityId={}", unknown.to_lowercase()),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(
        by_email.body["items"][0]["action"], "LOGIN_FAILED",
        "an unknown email's failure too"
    );
}
