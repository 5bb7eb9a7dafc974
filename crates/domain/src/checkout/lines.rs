//! Checkout's rules: requested lines.

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::cart::{CartLine, MAX_LINE_QUANTITY, MAX_LINES, parse_line_quantity};
use crate::error::{DomainError, FieldErrors};
use crate::values::{InvalidValue, parse_uuid};

/// One line of `POST /orders` as a client sends it, before any field is trusted.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLineInput {
    #[schema(schema_with = crate::schema::uuid_required, required = true)]
    pub product_id: Option<String>,
    #[schema(schema_with = crate::schema::uuid_required, required = true)]
    pub variant_id: Option<String>,
    /// 1 to 100.
    #[schema(schema_with = crate::schema::line_quantity_required, required = true)]
    pub quantity: Option<serde_json::Value>,
}

/// One requested line, parsed: a variant and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub quantity: u32,
}

impl From<&CartLine> for OrderLine {
    fn from(line: &CartLine) -> Self {
        Self {
            product_id: line.product_id,
            variant_id: line.variant_id,
            quantity: line.quantity,
        }
    }
}

pub(super) fn line_field(index: usize, field: &str) -> String {
    format!("items[{index}].{field}")
}

fn parse_line(index: usize, input: &OrderLineInput, errors: &mut FieldErrors) -> Option<OrderLine> {
    let id = |raw: &Option<String>| {
        raw.as_deref()
            .ok_or(InvalidValue("is required"))
            .and_then(|raw| parse_uuid(raw).ok_or(InvalidValue("must be a UUID")))
    };
    let product_id = errors.check(&line_field(index, "productId"), id(&input.product_id));
    let variant_id = errors.check(&line_field(index, "variantId"), id(&input.variant_id));
    let quantity = errors.check(
        &line_field(index, "quantity"),
        input
            .quantity
            .as_ref()
            .ok_or(InvalidValue("is required"))
            .and_then(parse_line_quantity),
    );
    Some(OrderLine {
        product_id: product_id?,
        variant_id: variant_id?,
        quantity: quantity?,
    })
}

/// The rules on a whole list of lines, whoever built it: 1–100 units per line and each
/// (productId, variantId) once. A repeat is refused rather than merged: the 1–100 bound is
/// then checked on exactly what was sent (60 + 60 would silently become a 120-unit line),
/// a double-submitted line is more likely a client bug than an intent, and every later
/// step (vendor, reservation, a short line) names an item by its variant. The cart already
/// adds to a line, so an order from the cart never repeats.
fn check_each(lines: &[(usize, OrderLine)], errors: &mut FieldErrors) {
    let mut first_at: BTreeMap<(Uuid, Uuid), usize> = BTreeMap::new();
    for (index, line) in lines {
        if !(1..=MAX_LINE_QUANTITY).contains(&line.quantity) {
            errors.add(
                &line_field(*index, "quantity"),
                "must be a whole number from 1 to 100",
            );
        }
        match first_at.get(&(line.product_id, line.variant_id)) {
            Some(first) => errors.add(
                &format!("items[{index}]"),
                format!(
                    "repeats items[{first}]: list each productId and variantId once, \
                     with the whole quantity"
                ),
            ),
            None => {
                first_at.insert((line.product_id, line.variant_id), *index);
            }
        }
    }
}

fn check_count(count: usize) -> Result<(), DomainError> {
    if (1..=MAX_LINES).contains(&count) {
        Ok(())
    } else {
        Err(DomainError::Validation(FieldErrors::single(
            "items",
            format!("must list 1 to {MAX_LINES} lines"),
        )))
    }
}

/// Parses `items`, naming every bad field (`items[2].quantity`). An empty list is refused,
/// not read as "use the cart": only leaving `items` out means that.
pub fn parse_lines(inputs: &[OrderLineInput]) -> Result<Vec<OrderLine>, DomainError> {
    check_count(inputs.len())?;
    let mut errors = FieldErrors::new();
    let parsed: Vec<(usize, OrderLine)> = inputs
        .iter()
        .enumerate()
        .filter_map(|(index, input)| parse_line(index, input, &mut errors).map(|l| (index, l)))
        .collect();
    check_each(&parsed, &mut errors);
    errors.into_result(|| parsed.into_iter().map(|(_, line)| line).collect())
}

/// The same rules for lines that did not come from a client's `items` (the cart), so an
/// order from either source obeys one set.
pub fn check_lines(lines: &[OrderLine]) -> Result<(), DomainError> {
    check_count(lines.len())?;
    let mut errors = FieldErrors::new();
    let indexed: Vec<(usize, OrderLine)> = lines.iter().copied().enumerate().collect();
    check_each(&indexed, &mut errors);
    errors.into_result(|| ())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::checkout::test_support::{field_names, fields};

    fn inputs(value: serde_json::Value) -> Vec<OrderLineInput> {
        serde_json::from_value(value).unwrap()
    }

    fn id(n: u128) -> String {
        Uuid::from_u128(n).to_string()
    }

    #[test]
    fn well_formed_lines_parse() {
        let lines = parse_lines(&inputs(json!([
            {"productId": id(1), "variantId": id(101), "quantity": 2},
            {"productId": id(1), "variantId": id(102), "quantity": 100.0},
            {"productId": id(2), "variantId": id(101), "quantity": 1}
        ])))
        .unwrap();
        assert_eq!(
            lines,
            [
                OrderLine {
                    product_id: Uuid::from_u128(1),
                    variant_id: Uuid::from_u128(101),
                    quantity: 2
                },
                OrderLine {
                    product_id: Uuid::from_u128(1),
                    variant_id: Uuid::from_u128(102),
                    quantity: 100
                },
                OrderLine {
                    product_id: Uuid::from_u128(2),
                    variant_id: Uuid::from_u128(101),
                    quantity: 1
                },
            ]
        );
    }

    #[test]
    fn every_bad_field_is_named_by_its_line() {
        let error = parse_lines(&inputs(json!([
            {"productId": id(1), "variantId": id(101), "quantity": 0},
            {"productId": "nope", "variantId": id(101), "quantity": 101},
            {"variantId": id(101), "quantity": 1.5},
            {"productId": id(4), "variantId": id(104)},
            {"productId": id(5), "variantId": id(105), "quantity": "3"},
            {"productId": id(6), "variantId": id(106), "quantity": -1}
        ])))
        .unwrap_err();
        assert_eq!(
            field_names(error),
            [
                "items[0].quantity",
                "items[1].productId",
                "items[1].quantity",
                "items[2].productId",
                "items[2].quantity",
                "items[3].quantity",
                "items[4].quantity",
                "items[5].quantity",
            ]
        );
    }

    #[test]
    fn one_to_max_lines_lines() {
        assert_eq!(MAX_LINES, 32, "what the transaction budget leaves");
        assert_eq!(field_names(parse_lines(&[]).unwrap_err()), ["items"]);
        let line = |n: u128| json!({"productId": id(n), "variantId": id(1000 + n), "quantity": 1});
        let most: Vec<serde_json::Value> = (0..MAX_LINES as u128).map(line).collect();
        assert_eq!(parse_lines(&inputs(json!(most))).unwrap().len(), MAX_LINES);
        let one_more: Vec<serde_json::Value> = (0..=MAX_LINES as u128).map(line).collect();
        let refused = parse_lines(&inputs(json!(one_more))).unwrap_err();
        assert_eq!(field_names(refused), ["items"]);
    }

    #[test]
    fn a_repeated_variant_is_refused_naming_both_lines() {
        let error = parse_lines(&inputs(json!([
            {"productId": id(1), "variantId": id(101), "quantity": 60},
            {"productId": id(2), "variantId": id(101), "quantity": 1},
            {"productId": id(1), "variantId": id(101), "quantity": 60}
        ])))
        .unwrap_err();
        let fields = fields(error);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].0, "items[2]");
        assert!(fields[0].1.contains("items[0]"), "{}", fields[0].1);
    }

    #[test]
    fn lines_from_the_cart_obey_the_same_rules() {
        let line = |n: u128, quantity: u32| OrderLine {
            product_id: Uuid::from_u128(n),
            variant_id: Uuid::from_u128(n),
            quantity,
        };
        assert!(check_lines(&[line(1, 100), line(2, 1)]).is_ok());
        assert_eq!(
            field_names(check_lines(&[line(1, 101), line(2, 0), line(1, 1)]).unwrap_err()),
            ["items[0].quantity", "items[1].quantity", "items[2]"]
        );
        assert_eq!(field_names(check_lines(&[]).unwrap_err()), ["items"]);
        let cart = CartLine {
            product_id: Uuid::from_u128(3),
            variant_id: Uuid::from_u128(4),
            quantity: 5,
        };
        assert_eq!(
            OrderLine::from(&cart),
            OrderLine {
                product_id: Uuid::from_u128(3),
                variant_id: Uuid::from_u128(4),
                quantity: 5
            }
        );
    }
}
