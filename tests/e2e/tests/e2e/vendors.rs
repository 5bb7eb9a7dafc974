//! The vendor service, end to end, with its authorization matrix.

use milkrun_e2e::*;

fn ids(reply: &Reply) -> Vec<String> {
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["vendorId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn admins_create_vendors_that_guests_find_by_pincode() {
    let admin = admin_token().await;
    let (here, there) = (fresh_pincode(), fresh_pincode());
    let vendor = create_vendor(&admin, &[&here, &there]).await;
    let id = vendor["vendorId"].as_str().unwrap();
    assert_eq!(vendor["isActive"], true);
    assert!(vendor.get("version").is_none(), "no storage internals");
    let found = call(Method::GET, &format!("/vendors?pincode={here}"), None, None).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    assert_eq!(ids(&found), [id]);
    assert!(
        ids(&call(
            Method::GET,
            &format!("/vendors?pincode={}", fresh_pincode()),
            None,
            None
        )
        .await)
        .is_empty()
    );
    let one = call(Method::GET, &format!("/vendors/{id}"), None, None).await;
    assert_eq!(one.body["name"], "Nandi Dairy");
    let listed = call(Method::GET, "/vendors?limit=100", None, None).await;
    assert!(
        ids(&listed).contains(&id.to_owned()),
        "newest first, so a fresh vendor is on the first page"
    );
}

#[tokio::test]
async fn updates_move_service_areas_and_delete_deactivates() {
    let admin = admin_token().await;
    let (old, new) = (fresh_pincode(), fresh_pincode());
    let id = create_vendor(&admin, &[&old]).await["vendorId"]
        .as_str()
        .unwrap()
        .to_owned();
    let moved = call(
        Method::PATCH,
        &format!("/vendors/{id}"),
        Some(&admin),
        Some(json!({"serviceAreas": [new], "rating": 3.5})),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    assert_eq!(moved.body["rating"], 3.5);
    assert!(
        ids(&call(Method::GET, &format!("/vendors?pincode={old}"), None, None).await).is_empty()
    );
    assert_eq!(
        ids(&call(Method::GET, &format!("/vendors?pincode={new}"), None, None).await),
        std::slice::from_ref(&id)
    );
    let deleted = call(
        Method::DELETE,
        &format!("/vendors/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(deleted.body["isActive"], false, "{}", deleted.text);
    assert!(
        ids(&call(Method::GET, &format!("/vendors?pincode={new}"), None, None).await).is_empty()
    );
    // Gone from the API for everyone (its data stays for history): read, change, delete.
    let path = format!("/vendors/{id}");
    for (method, token, body) in [
        (Method::GET, None, None),
        (Method::GET, Some(&admin), None),
        (Method::PATCH, Some(&admin), Some(json!({"rating": 4}))),
        (Method::DELETE, Some(&admin), None),
    ] {
        let reply = call(method, &path, token.map(String::as_str), body).await;
        assert_error(&reply, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
}

#[tokio::test]
async fn bad_vendor_input_is_a_400_naming_each_field() {
    let admin = admin_token().await;
    let bad = json!({"name": "", "email": "nope", "phone": "12", "address": "x", "serviceAreas": ["56001"], "rating": 9,
                     "capacity": {"dailyOrderLimit": 0}});
    let reply = call(Method::POST, "/vendors", Some(&admin), Some(bad)).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let fields = reply.body["details"]["fields"].as_object().unwrap();
    for field in [
        "name",
        "email",
        "phone",
        "serviceAreas",
        "rating",
        "capacity",
    ] {
        assert!(
            fields.contains_key(field),
            "{field} not named: {}",
            reply.text
        );
    }
    assert_error(
        &call(Method::GET, "/vendors?pincode=abc", None, None).await,
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    );
    assert_unknown_cursor(&call(Method::GET, "/vendors?cursor=garbage", None, None).await);
    assert_error(
        &call(
            Method::GET,
            &format!("/vendors/{}", Uuid::new_v4()),
            None,
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &call(Method::GET, "/vendors/not-a-uuid", None, None).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let missing = call(
        Method::PATCH,
        &format!("/vendors/{}", Uuid::new_v4()),
        Some(&admin),
        Some(json!({"rating": 1})),
    )
    .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn only_admins_change_vendors() {
    let admin = admin_token().await;
    let id = create_vendor(&admin, &[&fresh_pincode()]).await["vendorId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, customer) = new_customer().await;
    let manager = user_with_role(&admin, "MANAGER", None).await;
    let vendor_user = user_with_role(&admin, "VENDOR", Some(&id)).await;
    let path = format!("/vendors/{id}");
    for (who, token) in [
        ("guest", None),
        ("customer", Some(&customer)),
        ("manager", Some(&manager)),
        ("vendor", Some(&vendor_user)),
    ] {
        let expected = if token.is_some() {
            (StatusCode::FORBIDDEN, "FORBIDDEN")
        } else {
            (StatusCode::UNAUTHORIZED, "UNAUTHORIZED")
        };
        let token = token.map(String::as_str);
        for reply in [
            call(
                Method::POST,
                "/vendors",
                token,
                Some(vendor_body(&[&fresh_pincode()])),
            )
            .await,
            call(Method::PATCH, &path, token, Some(json!({"rating": 1}))).await,
            call(Method::DELETE, &path, token, None).await,
        ] {
            assert_eq!(
                (reply.status, reply.body["errorCode"].as_str()),
                (expected.0, Some(expected.1)),
                "{who}: {}",
                reply.text
            );
        }
        assert_eq!(
            call(Method::GET, &path, token, None).await.status,
            StatusCode::OK,
            "{who} reads vendors"
        );
    }
    assert_eq!(
        call(Method::GET, &path, None, None).await.body["rating"],
        4.5,
        "nothing changed"
    );
}
