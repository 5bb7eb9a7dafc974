//! The cart end to end: priced from the catalog, its limits, bad input in the SPEC body,
//! concurrent changes, and who may touch it.

use milkrun_e2e::*;

fn text(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
}

/// A fresh active product with two variants (₹28.00 and ₹54.00): (productId, [variantIds]).
async fn product(admin: &str) -> (String, [String; 2]) {
    let body = json!({"name": format!("Cart milk {}", Uuid::new_v4().simple()), "category": "MILK",
        "variants": [{"name": "500ml", "price": {"amount": 2800}, "unit": "packet"},
                     {"name": "1L", "price": {"amount": 5400}, "unit": "packet"}],
        "vendorIds": []});
    let created = call(Method::POST, "/products", Some(admin), Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let variant = |i: usize| text(&created.body["variants"][i]["variantId"]);
    (text(&created.body["productId"]), [variant(0), variant(1)])
}

async fn add(token: &str, product: &str, variant: &str, quantity: Value) -> Reply {
    let body = json!({"productId": product, "variantId": variant, "quantity": quantity});
    call(Method::POST, "/cart/items", Some(token), Some(body)).await
}

async fn cart(token: &str) -> Reply {
    let reply = call(Method::GET, "/cart", Some(token), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply
}

fn line_path(product: &str, variant: &str) -> String {
    format!("/cart/items/{product}/{variant}")
}

#[tokio::test]
async fn a_customer_fills_changes_and_empties_a_cart_priced_from_the_catalog() {
    let admin = admin_token().await;
    let (_, customer) = new_customer().await;
    let (product_id, [small, large]) = product(&admin).await;
    let empty = cart(&customer).await;
    assert_eq!(empty.body["items"], json!([]));
    assert_eq!(empty.body["total"], json!({"amount": 0, "currency": "INR"}));

    assert_eq!(
        add(&customer, &product_id, &small, json!(2)).await.status,
        StatusCode::OK
    );
    let added = add(&customer, &product_id, &small, json!(1)).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text);
    assert_eq!(added.body["items"][0]["quantity"], 3, "adds to the line");
    assert_eq!(added.body["items"][0]["lineTotal"]["amount"], 8400);
    add(&customer, &product_id, &large, json!(1)).await;
    let priced = cart(&customer).await;
    assert_eq!(priced.body["total"]["amount"], 8400 + 5400);
    assert_eq!(priced.body["itemCount"], 4);
    assert_eq!(priced.body["items"][1]["variantName"], "1L");

    // A price change shows at once: the cart keeps no prices of its own.
    let repriced = json!({"variants": [
        {"variantId": small, "name": "500ml", "price": {"amount": 3000}, "unit": "packet"},
        {"variantId": large, "name": "1L", "price": {"amount": 5400}, "unit": "packet"}]});
    let patched = call(
        Method::PATCH,
        &format!("/products/{product_id}"),
        Some(&admin),
        Some(repriced),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(cart(&customer).await.body["total"]["amount"], 9000 + 5400);

    let set = call(
        Method::PATCH,
        &line_path(&product_id, &small),
        Some(&customer),
        Some(json!({"quantity": 10})),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(set.body["items"][0]["quantity"], 10);
    let removed = call(
        Method::DELETE,
        &line_path(&product_id, &large),
        Some(&customer),
        None,
    )
    .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    assert_eq!(removed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(removed.body["total"]["amount"], 30_000);

    // A withdrawn product stays in the cart as unavailable and counts for nothing.
    let gone = call(
        Method::DELETE,
        &format!("/products/{product_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert!(gone.status.is_success(), "{}", gone.text);
    let after = cart(&customer).await;
    assert_eq!(after.body["items"][0]["available"], false);
    assert_eq!(after.body["items"][0]["lineTotal"], Value::Null);
    assert_eq!(after.body["total"]["amount"], 0);

    let emptied = call(Method::DELETE, "/cart", Some(&customer), None).await;
    assert_eq!(emptied.status, StatusCode::NO_CONTENT, "{}", emptied.text);
    assert_eq!(cart(&customer).await.body["items"], json!([]));
}

#[tokio::test]
async fn limits_and_bad_input_are_refused_in_the_spec_body() {
    let admin = admin_token().await;
    let (_, customer) = new_customer().await;
    let (product_id, [small, _]) = product(&admin).await;
    for quantity in [json!(0), json!(101), json!(1.5), json!("3"), json!(-1)] {
        let reply = add(&customer, &product_id, &small, quantity.clone()).await;
        assert_fields(&reply, &["quantity"]);
    }
    let missing = call(
        Method::POST,
        "/cart/items",
        Some(&customer),
        Some(json!({})),
    )
    .await;
    assert_fields(&missing, &["productId", "variantId", "quantity"]);
    let garbled = add(&customer, "not-a-uuid", &small, json!(1)).await;
    assert_fields(&garbled, &["productId"]);
    let malformed = client()
        .post(format!("{}/cart/items", base()))
        .bearer_auth(&customer)
        .body("{\"productId\":");
    assert_error(
        &reply(malformed).await,
        StatusCode::BAD_REQUEST,
        "MALFORMED_JSON",
    );

    let unknown_product = add(&customer, &Uuid::new_v4().to_string(), &small, json!(1)).await;
    assert_error(&unknown_product, StatusCode::NOT_FOUND, "NOT_FOUND");
    let unknown_variant = add(
        &customer,
        &product_id,
        &Uuid::new_v4().to_string(),
        json!(1),
    )
    .await;
    assert_error(&unknown_variant, StatusCode::NOT_FOUND, "NOT_FOUND");

    assert_eq!(
        add(&customer, &product_id, &small, json!(100)).await.status,
        StatusCode::OK
    );
    let over = add(&customer, &product_id, &small, json!(1)).await;
    assert_error(&over, StatusCode::CONFLICT, "CONFLICT");
    assert_eq!(
        cart(&customer).await.body["items"][0]["quantity"],
        100,
        "unchanged"
    );

    let absent_line = line_path(&product_id, &Uuid::new_v4().to_string());
    let patch = call(
        Method::PATCH,
        &absent_line,
        Some(&customer),
        Some(json!({"quantity": 2})),
    )
    .await;
    assert_error(&patch, StatusCode::NOT_FOUND, "NOT_FOUND");
    let delete = call(Method::DELETE, &absent_line, Some(&customer), None).await;
    assert_error(&delete, StatusCode::NOT_FOUND, "NOT_FOUND");
    let not_ids = call(Method::DELETE, "/cart/items/x/y", Some(&customer), None).await;
    assert_error(&not_ids, StatusCode::NOT_FOUND, "NOT_FOUND");
}

/// As many lines as an order may have: 32, what the checkout's transaction budget leaves.
const MAX_LINES: usize = 32;

#[tokio::test]
async fn a_cart_holds_at_most_as_many_lines_as_an_order() {
    let admin = admin_token().await;
    let (_, customer) = new_customer().await;
    let mut lines = Vec::new();
    for _ in 0..MAX_LINES / 2 + 1 {
        let (product_id, variants) = product(&admin).await;
        lines.extend(variants.map(|v| (product_id.clone(), v)));
    }
    for (product_id, variant) in &lines[..MAX_LINES] {
        let reply = add(&customer, product_id, variant, json!(1)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    let (product_id, variant) = &lines[MAX_LINES];
    assert_error(
        &add(&customer, product_id, variant, json!(1)).await,
        StatusCode::CONFLICT,
        "CONFLICT",
    );
    let full = cart(&customer).await;
    assert_eq!(full.body["items"].as_array().unwrap().len(), MAX_LINES);
    assert_eq!(full.body["total"]["amount"], MAX_LINES / 2 * (2800 + 5400));
}

#[tokio::test]
async fn concurrent_adds_from_one_customer_all_count() {
    let admin = admin_token().await;
    let (_, customer) = new_customer().await;
    let (product_id, [small, _]) = product(&admin).await;
    let adds = (0..20).map(|_| {
        let (customer, product_id, small) = (customer.clone(), product_id.clone(), small.clone());
        tokio::spawn(async move { add(&customer, &product_id, &small, json!(1)).await.status })
    });
    for status in futures::future::join_all(adds).await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    assert_eq!(
        cart(&customer).await.body["items"][0]["quantity"],
        20,
        "no add lost"
    );
}

#[tokio::test]
async fn each_change_is_audited_with_what_it_changed() {
    let admin = admin_token().await;
    let (customer_id, customer) = new_customer().await;
    let (product_id, [small, _]) = product(&admin).await;
    add(&customer, &product_id, &small, json!(2)).await;
    call(
        Method::PATCH,
        &line_path(&product_id, &small),
        Some(&customer),
        Some(json!({"quantity": 5})),
    )
    .await;
    let trail = call(
        Method::GET,
        &format!("/audit?entityId={customer_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(trail.status, StatusCode::OK, "{}", trail.text);
    let entries = trail.body["items"].as_array().unwrap();
    let updated = entries
        .iter()
        .find(|e| e["action"] == "CART_ITEM_UPDATED")
        .expect(&trail.text);
    assert_eq!(updated["entity"], "CART");
    assert_eq!(
        updated["changes"]["lines"][0]["quantity"],
        json!({"before": 2, "after": 5})
    );
    assert!(entries.iter().any(|e| e["action"] == "CART_ITEM_ADDED"));
}

#[tokio::test]
async fn only_customers_reach_a_cart_and_only_their_own() {
    let admin = admin_token().await;
    let (_, owner) = new_customer().await;
    let (_, other) = new_customer().await;
    let (product_id, [small, _]) = product(&admin).await;
    add(&owner, &product_id, &small, json!(4)).await;
    // Another customer's cart is their own: the owner's line is not in it and cannot be touched.
    assert_eq!(cart(&other).await.body["items"], json!([]));
    let touch = call(
        Method::PATCH,
        &line_path(&product_id, &small),
        Some(&other),
        Some(json!({"quantity": 1})),
    )
    .await;
    assert_error(&touch, StatusCode::NOT_FOUND, "NOT_FOUND");

    let vendor = text(&create_vendor(&admin, &[&fresh_pincode()]).await["vendorId"]);
    let vendor_user = user_with_role(&admin, "VENDOR", Some(&vendor)).await;
    let manager = user_with_role(&admin, "MANAGER", None).await;
    let routes = [
        (Method::GET, "/cart".to_owned(), None),
        (Method::DELETE, "/cart".to_owned(), None),
        (
            Method::POST,
            "/cart/items".to_owned(),
            Some(json!({"productId": product_id, "variantId": small, "quantity": 1})),
        ),
        (
            Method::PATCH,
            line_path(&product_id, &small),
            Some(json!({"quantity": 1})),
        ),
        (Method::DELETE, line_path(&product_id, &small), None),
    ];
    for (method, path, body) in routes {
        let guest = call(method.clone(), &path, None, body.clone()).await;
        assert_error(&guest, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        for token in [&vendor_user, &manager, &admin] {
            let refused = call(method.clone(), &path, Some(token), body.clone()).await;
            assert_error(&refused, StatusCode::FORBIDDEN, "FORBIDDEN");
        }
        // 403 before validation: a bad body from a non-customer still hears 403.
        let bad = call(
            method.clone(),
            &path,
            Some(&admin),
            Some(json!({"quantity": 0})),
        )
        .await;
        assert_eq!(
            bad.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            bad.text
        );
    }
    assert_eq!(
        cart(&owner).await.body["items"][0]["quantity"],
        4,
        "untouched"
    );
}
