//! Opaque pagination cursors over a DynamoDB index: the last item's key attributes,
//! base64url-encoded. A cursor is accepted only if it names exactly the expected string
//! attributes and passes the caller's check, so garbage is an `InvalidCursor`, never a 500.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use milkrun_domain::StoreError;

type Item = HashMap<String, AttributeValue>;

/// The cursor resuming after `item`, from its `keys` attributes.
pub fn encode(item: &Item, keys: &[&str]) -> Option<String> {
    let values: HashMap<&str, &str> = keys
        .iter()
        .map(|k| {
            item.get(*k)
                .and_then(|v| v.as_s().ok())
                .map(|v| (*k, v.as_str()))
        })
        .collect::<Option<_>>()?;
    Some(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&values).ok()?))
}

/// The exclusive start key a cursor stands for.
pub fn decode(
    cursor: &str,
    keys: &[&str],
    valid: impl Fn(&HashMap<String, String>) -> bool,
) -> Result<Item, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let values: HashMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    if values.len() != keys.len()
        || !keys.iter().all(|k| values.contains_key(*k))
        || !valid(&values)
    {
        return Err(StoreError::InvalidCursor);
    }
    Ok(values
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}
