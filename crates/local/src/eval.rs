//! Conditions and updates evaluated in Rust, inside the SQLite transaction that reads and
//! writes the item: the semantics DynamoDB gives its expressions, written once here.

use std::cmp::Ordering;

use milkrun_store::item::{Item, Value, compare, n, number};
use milkrun_store::ops::{Condition, Key, Update, VERSION_ATTRIBUTE};
use milkrun_store::{ItemError, TableSpec};

/// Whether `condition` holds for `item` (`None`: no such item).
pub fn holds(condition: &Condition, item: Option<&Item>) -> bool {
    let attribute = |name: &str| item.and_then(|item| item.get(name));
    let compared = |name: &str, value: &Value| attribute(name).and_then(|a| compare(a, value));
    match condition {
        Condition::Exists => item.is_some(),
        Condition::NotExists => item.is_none(),
        Condition::AttributeExists(name) => attribute(name).is_some(),
        Condition::AttributeNotExists(name) => attribute(name).is_none(),
        Condition::Equals(name, value) => attribute(name).is_some_and(|a| equal(a, value)),
        Condition::AtLeast(name, value) => compared(name, value).is_some_and(Ordering::is_ge),
        Condition::AtMost(name, value) => compared(name, value).is_some_and(Ordering::is_le),
        Condition::Version(version) => {
            attribute(VERSION_ATTRIBUTE).and_then(number) == Some(i128::from(*version))
        }
        Condition::All(all) => all.iter().all(|c| holds(c, item)),
        Condition::Any(any) => any.iter().any(|c| holds(c, item)),
    }
}

fn equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::N(_), Value::N(_)) => compare(left, right) == Some(Ordering::Equal),
        _ => left == right,
    }
}

/// The item after `updates`, starting from `current` (or just its key, for a new item).
pub fn updated(
    table: &TableSpec,
    key: &Key,
    current: Option<Item>,
    updates: &[Update],
) -> Result<Item, ItemError> {
    let mut item = current.unwrap_or_else(|| key.to_item(table));
    for update in updates {
        match update {
            Update::Set(name, value) => {
                item.insert(name.clone(), value.clone());
            }
            Update::SetIfAbsent(name, value) => {
                item.entry(name.clone()).or_insert_with(|| value.clone());
            }
            Update::Add(name, delta) => {
                let base = match item.get(name) {
                    None => 0,
                    Some(value) => number(value).ok_or_else(|| {
                        ItemError::Invalid(format!("ADD to {name}, which is not a whole number"))
                    })?,
                };
                item.insert(name.clone(), n(base + i128::from(*delta)));
            }
            Update::Remove(name) => {
                item.remove(name);
            }
        }
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use milkrun_store::item::s;
    use milkrun_store::table::INVENTORY;

    use super::*;

    fn item() -> Item {
        let mut item = Key::with_sort("p", "s").to_item(&INVENTORY);
        item.insert("stock".into(), n(5));
        item.insert("version".into(), n(3));
        item.insert("status".into(), s("RESERVED"));
        item
    }

    #[test]
    fn conditions_read_like_dynamodb() {
        let item = item();
        assert!(holds(&Condition::at_least("stock", n(5)), Some(&item)));
        assert!(!holds(&Condition::at_least("stock", n(6)), Some(&item)));
        assert!(!holds(&Condition::at_least("missing", n(0)), Some(&item)));
        assert!(holds(&Condition::Version(3), Some(&item)));
        assert!(!holds(&Condition::Version(3), None));
        assert!(holds(&Condition::NotExists, None));
        assert!(holds(
            &Condition::Any(vec![
                Condition::NotExists,
                Condition::equals("status", s("RESERVED"))
            ]),
            Some(&item)
        ));
        assert!(
            !holds(&Condition::equals("stock", s("5")), Some(&item)),
            "types differ"
        );
    }

    #[test]
    fn updates_set_add_and_remove() {
        let key = Key::with_sort("p", "s");
        let after = updated(
            &INVENTORY,
            &key,
            Some(item()),
            &[
                Update::add("stock", -2),
                Update::add("fresh", 4),
                Update::remove("status"),
            ],
        )
        .unwrap();
        assert_eq!(
            (after.get("stock"), after.get("fresh")),
            (Some(&n(3)), Some(&n(4)))
        );
        assert!(!after.contains_key("status"));
        let created = updated(&INVENTORY, &key, None, &[Update::set("a", s("b"))]).unwrap();
        assert_eq!(created.get("pk"), Some(&s("p")));
        assert!(updated(&INVENTORY, &key, Some(item()), &[Update::add("status", 1)]).is_err());
    }
}
