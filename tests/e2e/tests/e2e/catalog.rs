//! Products, stock and the audit trail, end to end, with their authorization matrix.

use milkrun_e2e::*;

/// A word no other test's product names contain, so `q` finds only this test's products.
fn fresh_word() -> String {
    format!("e2e{}", Uuid::new_v4().simple())
}

fn product_body(name: &str, vendor_ids: &[&str]) -> Value {
    json!({"name": name, "category": "MILK", "description": "Toned milk",
           "variants": [{"name": "500ml", "price": {"amount": 2800, "currency": "INR"}, "unit": "packet"},
                        {"name": "1L", "price": {"amount": 5400}, "unit": "packet"}],
           "vendorIds": vendor_ids})
}

async fn create_product(admin: &str, name: &str, vendor_ids: &[&str]) -> Value {
    let created = call(
        Method::POST,
        "/products",
        Some(admin),
        Some(product_body(name, vendor_ids)),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.body
}

fn names(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn list(query: &str) -> Vec<String> {
    names(&call(Method::GET, &format!("/products?{query}"), None, None).await)
}

fn text(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
}

/// A vendor serving a fresh pincode, selling a fresh product: (vendorId, productId, variantId, pincode, name).
async fn stocked_setup(admin: &str) -> (String, String, String, String, String) {
    let pincode = fresh_pincode();
    let vendor = text(&create_vendor(admin, &[&pincode]).await["vendorId"]);
    let name = format!("Milk {}", fresh_word());
    let product = create_product(admin, &name, &[&vendor]).await;
    let variant = text(&product["variants"][0]["variantId"]);
    (vendor, text(&product["productId"]), variant, pincode, name)
}

/// One entity's audit trail, read as the admin.
async fn audit_trail(admin: &str, entity_id: &str) -> Reply {
    let trail = call(
        Method::GET,
        &format!("/audit?entityId={entity_id}"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(trail.status, StatusCode::OK, "{}", trail.text);
    trail
}

/// The actions of a trail, newest first.
fn actions(trail: &Reply) -> Vec<&str> {
    trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

async fn put_stock(token: Option<&str>, path: &str, body: Value) -> Reply {
    call(Method::PUT, path, token, Some(body)).await
}

#[tokio::test]
async fn admins_build_a_catalog_that_guests_filter() {
    let admin = admin_token().await;
    let (vendor, product_id, _, pincode, name) = stocked_setup(&admin).await;
    let word = name.split(' ').nth(1).unwrap().to_owned();
    assert_eq!(
        list(&format!("pincode={pincode}")).await,
        std::slice::from_ref(&name)
    );
    assert_eq!(
        list(&format!("q={}", word.to_uppercase())).await,
        std::slice::from_ref(&name)
    );
    assert_eq!(
        list(&format!("q={word}&category=MILK&vendorId={vendor}")).await,
        std::slice::from_ref(&name)
    );
    assert!(list(&format!("q={word}&category=GHEE")).await.is_empty());
    assert_eq!(
        list(&format!("q={word}&minPrice=5400&maxPrice=5400")).await,
        std::slice::from_ref(&name)
    );
    assert!(list(&format!("q={word}&minPrice=5401")).await.is_empty());
    assert!(
        list(&format!("pincode={}", fresh_pincode()))
            .await
            .is_empty()
    );
    let one = call(Method::GET, &format!("/products/{product_id}"), None, None).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(
        one.body["variants"][1]["price"],
        json!({"amount": 5400, "currency": "INR"})
    );
    assert_eq!(
        one.body["availability"][0]["inStock"], false,
        "no stock yet"
    );
    assert!(one.body.get("version").is_none(), "no storage internals");
    let renamed = call(
        Method::PATCH,
        &format!("/products/{product_id}"),
        Some(&admin),
        Some(json!({"name": format!("{name} Gold")})),
    )
    .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    assert_eq!(
        renamed.body["variants"], one.body["variants"],
        "variant ids are kept"
    );
    let deleted = call(
        Method::DELETE,
        &format!("/products/{product_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(deleted.body["isActive"], false, "{}", deleted.text);
    assert!(
        list(&format!("q={word}")).await.is_empty(),
        "deactivated products are not listed"
    );
    let gone = call(Method::GET, &format!("/products/{product_id}"), None, None).await;
    assert_error(&gone, StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn listings_page_with_sealed_cursors() {
    let admin = admin_token().await;
    let vendor = text(&create_vendor(&admin, &[&fresh_pincode()]).await["vendorId"]);
    let word = fresh_word();
    for n in 0..3 {
        create_product(&admin, &format!("Curd {word} {n}"), &[&vendor]).await;
    }
    let first = call(
        Method::GET,
        &format!("/products?q={word}&limit=2"),
        None,
        None,
    )
    .await;
    assert_eq!(
        names(&first),
        [format!("Curd {word} 2"), format!("Curd {word} 1")],
        "newest first"
    );
    let cursor = text(&first.body["nextCursor"]);
    let second = call(
        Method::GET,
        &format!("/products?q={word}&limit=2&cursor={cursor}"),
        None,
        None,
    )
    .await;
    assert_eq!(names(&second), [format!("Curd {word} 0")]);
    assert!(second.body["nextCursor"].is_null());
    let mut edited = cursor.clone().into_bytes();
    edited[3] = if edited[3] == b'A' { b'B' } else { b'A' };
    let edited = String::from_utf8(edited).unwrap();
    for foreign in [
        format!("/products?q={word}&limit=2&cursor={edited}"),
        format!("/products?q={word}&category=CURD&limit=2&cursor={cursor}"),
        format!("/vendors?cursor={cursor}"),
        "/products?cursor=garbage".to_owned(),
    ] {
        assert_unknown_cursor(&call(Method::GET, &foreign, None, None).await);
    }
    for bad in ["/products?limit=0", "/products?limit=101"] {
        let reply = call(Method::GET, bad, None, None).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn bad_catalog_input_is_a_400_naming_each_field() {
    let admin = admin_token().await;
    let vendor = text(&create_vendor(&admin, &[&fresh_pincode()]).await["vendorId"]);
    for (price, why) in [
        (json!({"amount": 28.5}), "float"),
        (json!({"amount": -1}), "negative"),
        (
            json!({"amount": 100, "currency": "USD"}),
            "unknown currency",
        ),
        (json!({"amount": "100"}), "string"),
    ] {
        let body = json!({"name": "Milk", "category": "MILK",
                          "variants": [{"name": "1L", "price": price}], "vendorIds": [vendor]});
        let reply = call(Method::POST, "/products", Some(&admin), Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{why}");
        assert_fields(&reply, &["variants"]);
    }
    let body =
        json!({"name": "", "category": "CHEESE", "variants": [], "vendorIds": [Uuid::new_v4()]});
    let reply = call(Method::POST, "/products", Some(&admin), Some(body)).await;
    assert_fields(&reply, &["name", "category", "variants"]);
    let unknown_vendor = call(
        Method::POST,
        "/products",
        Some(&admin),
        Some(product_body("Milk", &[&Uuid::new_v4().to_string()])),
    )
    .await;
    assert_error(&unknown_vendor, StatusCode::NOT_FOUND, "NOT_FOUND");
    let filters = call(
        Method::GET,
        "/products?category=CHEESE&minPrice=1.5&maxPrice=-2&vendorId=x&pincode=0123",
        None,
        None,
    )
    .await;
    assert_fields(
        &filters,
        &["category", "minPrice", "maxPrice", "vendorId", "pincode"],
    );
    // Each bound is well-formed; together they match nothing.
    let inverted = call(
        Method::GET,
        "/products?minPrice=500&maxPrice=100",
        None,
        None,
    )
    .await;
    assert_eq!(inverted.status, StatusCode::OK, "{}", inverted.text);
    assert_eq!(inverted.body["items"], json!([]));
    for missing in [
        format!("/products/{}", Uuid::new_v4()),
        "/products/not-a-uuid".to_owned(),
    ] {
        assert_error(
            &call(Method::GET, &missing, None, None).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );
    }
}

#[tokio::test]
async fn stock_changes_are_conditional_and_show_as_availability() {
    let admin = admin_token().await;
    let (vendor, product, variant, _, _) = stocked_setup(&admin).await;
    let path = format!("/inventory/{vendor}/{product}/{variant}");
    let added = put_stock(
        Some(&admin),
        &path,
        json!({"operation": "ADD", "quantity": 20, "lowStockThreshold": 5}),
    )
    .await;
    assert_eq!(
        (added.status, added.body["stock"].clone()),
        (StatusCode::OK, json!(20)),
        "{}",
        added.text
    );
    let refused = put_stock(
        Some(&admin),
        &path,
        json!({"operation": "SUBTRACT", "quantity": 21}),
    )
    .await;
    assert_error(&refused, StatusCode::CONFLICT, "CONFLICT");
    let racers = (0..10).map(|_| {
        put_stock(
            Some(&admin),
            &path,
            json!({"operation": "SUBTRACT", "quantity": 3}),
        )
    });
    let replies = futures::future::join_all(racers).await;
    let won = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert!(
        replies
            .iter()
            .all(|r| r.status == StatusCode::OK || r.status == StatusCode::CONFLICT)
    );
    assert_eq!(won, 6, "20 units take six SUBTRACTs of 3");
    let rows = call(
        Method::GET,
        &format!("/inventory?vendorId={vendor}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(rows.status, StatusCode::OK, "{}", rows.text);
    assert_eq!(rows.body["items"][0]["stock"], 2);
    assert_eq!(rows.body["items"][0]["lowStockThreshold"], 5);
    let one = call(Method::GET, &format!("/products/{product}"), None, None).await;
    assert_eq!(one.body["availability"][0]["stock"], 2);
    assert_eq!(
        one.body["availability"][0]["vendors"][0]["vendorId"],
        json!(vendor)
    );
    for (body, field) in [
        (json!({"operation": "MULTIPLY", "quantity": 1}), "operation"),
        (json!({"operation": "ADD", "quantity": -1}), "quantity"),
        (json!({"operation": "ADD", "quantity": 1.5}), "quantity"),
        (
            json!({"operation": "SET", "quantity": 1_000_001}),
            "quantity",
        ),
        (
            json!({"operation": "SET", "quantity": 1, "lowStockThreshold": "ten"}),
            "lowStockThreshold",
        ),
    ] {
        let reply = put_stock(Some(&admin), &path, body).await;
        assert_fields(&reply, &[field]);
    }
    let unknown_variant = format!("/inventory/{vendor}/{product}/{}", Uuid::new_v4());
    let reply = put_stock(
        Some(&admin),
        &unknown_variant,
        json!({"operation": "ADD", "quantity": 1}),
    )
    .await;
    assert_error(&reply, StatusCode::NOT_FOUND, "NOT_FOUND");
    let other_vendor = text(&create_vendor(&admin, &[&fresh_pincode()]).await["vendorId"]);
    let not_a_seller = format!("/inventory/{other_vendor}/{product}/{variant}");
    let reply = put_stock(
        Some(&admin),
        &not_a_seller,
        json!({"operation": "ADD", "quantity": 1}),
    )
    .await;
    assert_error(&reply, StatusCode::CONFLICT, "CONFLICT");
}

#[tokio::test]
async fn every_catalog_route_has_its_authorization_matrix() {
    let admin = admin_token().await;
    let (vendor, product, variant, _, _) = stocked_setup(&admin).await;
    let (_, customer) = new_customer().await;
    let manager = user_with_role(&admin, "MANAGER", None).await;
    let own_vendor = user_with_role(&admin, "VENDOR", Some(&vendor)).await;
    let other = text(&create_vendor(&admin, &[&fresh_pincode()]).await["vendorId"]);
    let other_vendor = user_with_role(&admin, "VENDOR", Some(&other)).await;
    let stock_path = format!("/inventory/{vendor}/{product}/{variant}");
    let inventory_path = format!("/inventory?vendorId={vendor}");
    let product_path = format!("/products/{product}");
    let audit_path = format!("/audit?entityId={product}");
    // (who, token, may write products and read the audit trail, may manage this vendor's stock)
    let callers = [
        ("guest", None, false, false),
        ("customer", Some(&customer), false, false),
        ("manager", Some(&manager), false, false),
        ("this vendor's user", Some(&own_vendor), false, true),
        ("another vendor's user", Some(&other_vendor), false, false),
        ("admin", Some(&admin), true, true),
    ];
    for (who, token, admin_rights, stock_rights) in callers {
        let token = token.map(String::as_str);
        let refused = if token.is_some() {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNAUTHORIZED
        };
        let expect = |allowed: bool, ok: StatusCode| if allowed { ok } else { refused };
        let checks = [
            (
                call(Method::GET, "/products?limit=1", token, None).await,
                StatusCode::OK,
            ),
            (
                call(Method::GET, &product_path, token, None).await,
                StatusCode::OK,
            ),
            (
                call(
                    Method::POST,
                    "/products",
                    token,
                    Some(product_body("Matrix Milk", &[&vendor])),
                )
                .await,
                expect(admin_rights, StatusCode::CREATED),
            ),
            (
                call(
                    Method::PATCH,
                    &product_path,
                    token,
                    Some(json!({"description": who})),
                )
                .await,
                expect(admin_rights, StatusCode::OK),
            ),
            (
                call(Method::GET, &audit_path, token, None).await,
                expect(admin_rights, StatusCode::OK),
            ),
            (
                call(Method::GET, &inventory_path, token, None).await,
                expect(stock_rights, StatusCode::OK),
            ),
            (
                put_stock(
                    token,
                    &stock_path,
                    json!({"operation": "ADD", "quantity": 1}),
                )
                .await,
                expect(stock_rights, StatusCode::OK),
            ),
        ];
        for (n, (reply, expected)) in checks.iter().enumerate() {
            assert_eq!(reply.status, *expected, "{who}, check {n}: {}", reply.text);
        }
    }
    let rows = call(Method::GET, &inventory_path, Some(&admin), None).await;
    assert_eq!(
        rows.body["items"][0]["stock"], 2,
        "only the vendor's user and the admin added stock"
    );
    let deleted = call(Method::DELETE, &product_path, Some(&own_vendor), None).await;
    assert_error(&deleted, StatusCode::FORBIDDEN, "FORBIDDEN");
}

#[tokio::test]
async fn every_change_is_in_the_audit_trail() {
    let admin = admin_token().await;
    let (vendor, product, variant, _, _) = stocked_setup(&admin).await;
    let correlation = format!("audit-{}", Uuid::new_v4().simple());
    let request = client()
        .put(format!("{}/inventory/{vendor}/{product}/{variant}", base()))
        .bearer_auth(&admin)
        .header("x-correlation-id", &correlation)
        .json(&json!({"operation": "SET", "quantity": 7}));
    assert_eq!(reply(request).await.status, StatusCode::OK);
    call(
        Method::PATCH,
        &format!("/products/{product}"),
        Some(&admin),
        Some(json!({"description": "x"})),
    )
    .await;
    let trail = audit_trail(&admin, &product).await;
    assert_eq!(
        actions(&trail),
        ["PRODUCT_UPDATED", "PRODUCT_CREATED"],
        "newest first"
    );
    let entry = &trail.body["items"][0];
    assert_eq!(
        (entry["entity"].as_str(), entry["role"].as_str()),
        (Some("PRODUCT"), Some("ADMIN"))
    );
    assert_eq!(entry["userAgent"], "milkrun-e2e");
    assert!(
        entry["ip"].is_string() && entry["correlationId"].is_string() && entry["at"].is_string()
    );
    let row = format!("{vendor}:{product}:{variant}");
    let stock_trail = audit_trail(&admin, &row).await;
    assert_eq!(
        stock_trail.body["items"][0]["action"], "STOCK_ADJUSTED",
        "{}",
        stock_trail.text
    );
    assert_eq!(
        stock_trail.body["items"][0]["correlationId"],
        json!(correlation)
    );
    let vendor_trail = audit_trail(&admin, &vendor).await;
    assert_eq!(vendor_trail.body["items"][0]["action"], "VENDOR_CREATED");
    let (user_id, _) = new_customer().await;
    let user_trail = audit_trail(&admin, &user_id).await;
    assert_eq!(
        actions(&user_trail),
        ["USER_LOGGED_IN", "USER_REGISTERED"],
        "{}",
        user_trail.text
    );
    assert_eq!(
        user_trail.body["items"][1]["userId"],
        json!(user_id),
        "a registration names the new user"
    );
    let missing = call(Method::GET, "/audit", Some(&admin), None).await;
    assert_error(&missing, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
}
