//! TransactWriteItems, sent once, with its cancellation told apart: a lost race with a
//! concurrent transaction (worth retrying) from a failed condition (an answer).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use milkrun_domain::StoreError;

/// Why a transaction was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// Another transaction touched the same items at the same time.
    Conflict,
    /// A condition did not hold (or DynamoDB gave no reason).
    Condition,
}

fn cancelled(error: &TransactWriteItemsError) -> Option<Cancelled> {
    let TransactWriteItemsError::TransactionCanceledException(cancel) = error else {
        return None;
    };
    let codes: Vec<&str> = cancel
        .cancellation_reasons()
        .iter()
        .filter_map(|r| r.code())
        .collect();
    if codes.contains(&"ConditionalCheckFailed") {
        Some(Cancelled::Condition)
    } else if codes.contains(&"TransactionConflict") {
        Some(Cancelled::Conflict)
    } else {
        Some(Cancelled::Condition)
    }
}

/// Writes `items` all or nothing: `Ok(None)` when written, `Ok(Some(why))` when cancelled,
/// `Err` for any other failure (described by `context`).
pub async fn write(
    client: &Client,
    items: Vec<TransactWriteItem>,
    context: &'static str,
) -> Result<Option<Cancelled>, StoreError> {
    match client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
        .map_err(SdkError::into_service_error)
    {
        Ok(_) => Ok(None),
        Err(error) => cancelled(&error)
            .map(Some)
            .ok_or_else(|| StoreError::backend(context, error)),
    }
}
