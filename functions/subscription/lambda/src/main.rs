//! The subscription Lambda: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    milkrun_lambda::serve_http(&milkrun_subscription::HTTP).await
}
