//! The daily report's Lambda (EventBridge Scheduler, 01:00 UTC): wiring only. The event may
//! name a date (`{"date": "YYYY-MM-DD"}`, as a hand invoke or a redriven start does); the
//! scheduler's `{}` reports yesterday in Asia/Kolkata.

use serde_json::Value;

type Error = lambda_runtime::Error;

fn date_of(event: &Value) -> Result<Option<chrono::NaiveDate>, Error> {
    match event["date"].as_str() {
        Some(raw) => Ok(Some(raw.parse()?)),
        None => Ok(None),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    milkrun_lambda::telemetry_init();
    let adapters = milkrun_lambda::adapters(&milkrun_reporting::REPORT_NEEDS, false).await?;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<Value>| {
            let adapters = adapters.clone();
            async move {
                let date = date_of(&event.payload)?;
                let correlation_id = event.context.request_id;
                milkrun_reporting::run_daily_report(adapters, date, correlation_id)
                    .await
                    .map_err(milkrun_lambda::diagnostic)
            }
        },
    ))
    .await
}
