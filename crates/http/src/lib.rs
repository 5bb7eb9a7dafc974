//! The shared HTTP layer every function's router is finished with: the SPEC error body,
//! bearer-token authentication, correlation ids in every response and log line, CORS,
//! a body size limit, JSON logs, OpenAPI docs, and hosting in Lambda or on a socket.

pub mod actor;
pub mod app;
pub mod auth;
pub mod client;
pub mod docs;
pub mod error;
pub mod idempotency;
pub mod jobs;
pub mod json;
pub mod lambda_answer;
pub mod paging;
pub mod path;
pub mod query;
pub mod request_ids;
pub mod routes;
pub mod telemetry;

pub use actor::{Actor, AdminActor, CustomerActor, GuestActor, require_role};
pub use app::{
    MAX_BODY_BYTES, app, finish, finish_public, lambda_service, serve_lambda, serve_socket,
};
pub use auth::{Auth, AuthUser};
pub use client::Origin;
pub use error::{ApiError, ErrorBody};
pub use json::ApiJson;
pub use lambda_answer::LambdaAnswer;
pub use paging::{PageQuery, Paging};
pub use path::ApiPath;
pub use query::ApiQuery;
pub use request_ids::RequestIds;
#[doc(hidden)]
pub use routes::__paste;
