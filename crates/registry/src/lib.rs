//! Every service, listed once. Adding a service means adding it here (and its function to
//! template.yaml); every host and harness mounts what this lists.

use milkrun_domain::DomainError;
use milkrun_platform::{Adapters, ConsumerService, HttpService, JobService};
use utoipa::openapi::OpenApi;

/// The HTTP services, in the order their routes are documented.
pub static HTTP: [&HttpService; 12] = [
    &milkrun_user::HTTP,
    &milkrun_vendor::HTTP,
    &milkrun_product::HTTP,
    &milkrun_inventory::HTTP,
    &milkrun_cart::HTTP,
    &milkrun_payment::HTTP,
    &milkrun_delivery::HTTP,
    &milkrun_order::HTTP,
    &milkrun_reporting::HTTP,
    &milkrun_notification::HTTP,
    &milkrun_subscription::HTTP,
    &milkrun_subscription::JOBS_HTTP,
];

/// The event consumers.
pub static CONSUMERS: [&ConsumerService; 3] = [
    &milkrun_notification::CONSUMER,
    &milkrun_reporting::ANALYTICS_CONSUMER,
    &milkrun_reporting::ALERTS_CONSUMER,
];

/// The scheduled jobs.
pub static JOBS: [&JobService; 2] = [
    &milkrun_inventory::RECONCILE,
    &milkrun_reporting::DAILY_REPORT,
];

/// Every service's routes over `adapters`, merged into one router (the local server).
pub fn api(adapters: &Adapters) -> axum::Router {
    HTTP.iter().fold(axum::Router::new(), |all, service| {
        all.merge((service.api)(adapters))
    })
}

/// The whole API on one router, with `/openapi.json` and `/docs`: what `milkrun serve`,
/// the bench and the test harnesses serve.
pub fn app(adapters: &Adapters) -> axum::Router {
    let auth = milkrun_http::Auth {
        keys: adapters.keys.clone(),
        access: adapters.access.clone(),
    };
    milkrun_http::app(api(adapters), openapi(), auth)
}

/// Each service's documented routes, in the order of [`HTTP`].
fn documents() -> [OpenApi; 12] {
    [
        milkrun_user::documented().into_openapi(),
        milkrun_vendor::documented().into_openapi(),
        milkrun_product::documented().into_openapi(),
        milkrun_inventory::documented().into_openapi(),
        milkrun_cart::documented().into_openapi(),
        milkrun_payment::documented().into_openapi(),
        milkrun_delivery::documented().into_openapi(),
        milkrun_order::documented().into_openapi(),
        milkrun_reporting::documented().into_openapi(),
        milkrun_notification::documented().into_openapi(),
        milkrun_subscription::documented().into_openapi(),
        milkrun_subscription::job_routes::documented().into_openapi(),
    ]
}

/// The whole API's OpenAPI document, as `/openapi.json` serves it; describing routes needs
/// no service behind them. `docs/openapi.json` holds it for the docs function (which serves
/// that file) and for clients; a test fails when the two differ.
pub fn openapi() -> OpenApi {
    let [mut document, more @ ..] = documents();
    for service in more {
        document.merge(service);
    }
    milkrun_http::docs::document(document)
}

/// [`openapi`] as `docs/openapi.json` holds it: pretty JSON, one trailing newline.
pub fn openapi_json() -> String {
    let mut json = serde_json::to_string_pretty(&openapi()).expect("a document serializes");
    json.push('\n');
    json
}

/// Runs each service's start hook (the admin bootstrap), in order.
pub async fn start(adapters: &Adapters) -> Result<(), DomainError> {
    for service in HTTP {
        if let Some(start) = service.start {
            start(adapters.clone()).await?;
        }
    }
    Ok(())
}
