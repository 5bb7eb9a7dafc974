//! `service_routes!`: a service's routes declared once, served two ways. A Lambda function
//! mounts `router()`, plain axum routes that carry no OpenAPI code; the docs function and the
//! local server mount `documented()`, the same handlers with their OpenAPI operations.

use axum::routing::MethodFilter;
use utoipa::openapi::path::HttpMethod;

/// The axum method filter for a documented method.
pub fn method_filter(method: &HttpMethod) -> MethodFilter {
    match method {
        HttpMethod::Get => MethodFilter::GET,
        HttpMethod::Put => MethodFilter::PUT,
        HttpMethod::Post => MethodFilter::POST,
        HttpMethod::Head => MethodFilter::HEAD,
        HttpMethod::Patch => MethodFilter::PATCH,
        HttpMethod::Trace => MethodFilter::TRACE,
        HttpMethod::Delete => MethodFilter::DELETE,
        HttpMethod::Options => MethodFilter::OPTIONS,
    }
}

/// `service_routes!(State; [handler, …] …)`: each bracket lists the `#[utoipa::path]`
/// handlers of one path. Defines `pub fn router() -> axum::Router<State>` (reading only each
/// handler's path and methods) and `pub fn documented() -> OpenApiRouter<State>`.
#[macro_export]
macro_rules! service_routes {
    ($state:ty; $( [ $first:ident $(, $handler:ident)* $(,)? ] )+) => {
        /// The routes alone: what this service's Lambda function serves.
        pub fn router() -> ::axum::Router<$state> {
            use ::utoipa::Path as _;
            let router = ::axum::Router::new();
            $(
                let router = $crate::__paste! {{
                    let path = [<__path_ $first>]::path();
                    let mut methods = ::axum::routing::MethodRouter::new();
                    for method in [<__path_ $first>]::methods() {
                        methods = methods.on($crate::routes::method_filter(&method), $first);
                    }
                    $(
                        for method in [<__path_ $handler>]::methods() {
                            methods = methods.on($crate::routes::method_filter(&method), $handler);
                        }
                    )*
                    router.route(&path, methods)
                }};
            )+
            router
        }

        /// The same routes with their OpenAPI operations: for the document and the local server.
        pub fn documented() -> ::utoipa_axum::router::OpenApiRouter<$state> {
            ::utoipa_axum::router::OpenApiRouter::new()
                $( .routes(::utoipa_axum::routes!($first $(, $handler)*)) )+
        }
    };
}

#[doc(hidden)]
pub use utoipa_axum::paste as __paste;
