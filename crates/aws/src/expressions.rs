//! DynamoDB expressions built from the store's typed conditions, updates and sort
//! conditions. Every attribute name goes through `#n` placeholders and every value through
//! `:v` placeholders: nothing a caller passes is ever spliced into expression text.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use milkrun_store::ops::{Condition, SortCondition, Update, VERSION_ATTRIBUTE};
use milkrun_store::{TableSpec, Value};

#[derive(Default)]
pub struct Expressions {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Expressions {
    pub fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| *a == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn store_value(&mut self, value: &Value) -> String {
        self.value(crate::dynamodb_store::sdk_value(value.clone()))
    }

    /// `condition` as a ConditionExpression for an item of `table`. On a table with a TTL,
    /// an item past its TTL counts as absent, as the embedded store reads it.
    pub fn condition(&mut self, condition: &Condition, table: &TableSpec) -> String {
        match condition {
            Condition::Exists => {
                let exists = format!("attribute_exists({})", self.name(table.partition_key));
                match self.live(table) {
                    Some(live) => format!("({exists} AND {live})"),
                    None => exists,
                }
            }
            Condition::NotExists => {
                let absent = format!("attribute_not_exists({})", self.name(table.partition_key));
                match self.expired(table) {
                    Some(expired) => format!("({absent} OR {expired})"),
                    None => absent,
                }
            }
            Condition::AttributeExists(a) => format!("attribute_exists({})", self.name(a)),
            Condition::AttributeNotExists(a) => format!("attribute_not_exists({})", self.name(a)),
            Condition::Equals(a, v) => self.compare(a, "=", v),
            Condition::AtLeast(a, v) => self.compare(a, ">=", v),
            Condition::AtMost(a, v) => self.compare(a, "<=", v),
            Condition::Version(version) => {
                let version = milkrun_store::item::n(*version);
                self.compare(VERSION_ATTRIBUTE, "=", &version)
            }
            Condition::All(all) => self.join(all, " AND ", table),
            Condition::Any(any) => self.join(any, " OR ", table),
        }
    }

    fn compare(&mut self, attribute: &str, operator: &str, value: &Value) -> String {
        format!(
            "{} {operator} {}",
            self.name(attribute),
            self.store_value(value)
        )
    }

    fn join(&mut self, parts: &[Condition], separator: &str, table: &TableSpec) -> String {
        let parts: Vec<String> = parts.iter().map(|c| self.condition(c, table)).collect();
        format!("({})", parts.join(separator))
    }

    fn now(&mut self) -> String {
        self.value(AttributeValue::N(Utc::now().timestamp().to_string()))
    }

    fn live(&mut self, table: &TableSpec) -> Option<String> {
        let ttl = self.name(table.ttl?);
        let now = self.now();
        Some(format!("(attribute_not_exists({ttl}) OR {ttl} > {now})"))
    }

    fn expired(&mut self, table: &TableSpec) -> Option<String> {
        let ttl = self.name(table.ttl?);
        let now = self.now();
        Some(format!("{ttl} <= {now}"))
    }

    /// `updates` as an UpdateExpression: `SET … ADD … REMOVE …`.
    pub fn update(&mut self, updates: &[Update]) -> String {
        let (mut set, mut add, mut remove) = (Vec::new(), Vec::new(), Vec::new());
        for update in updates {
            match update {
                Update::Set(a, v) => {
                    set.push(format!("{} = {}", self.name(a), self.store_value(v)))
                }
                Update::SetIfAbsent(a, v) => {
                    let name = self.name(a);
                    set.push(format!(
                        "{name} = if_not_exists({name}, {})",
                        self.store_value(v)
                    ));
                }
                Update::Add(a, delta) => {
                    let delta = self.value(AttributeValue::N(delta.to_string()));
                    add.push(format!("{} {delta}", self.name(a)));
                }
                Update::Remove(a) => remove.push(self.name(a)),
            }
        }
        [("SET", set), ("ADD", add), ("REMOVE", remove)]
            .into_iter()
            .filter(|(_, parts)| !parts.is_empty())
            .map(|(verb, parts)| format!("{verb} {}", parts.join(", ")))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A KeyConditionExpression: the partition, and the sort condition if any.
    pub fn key_condition(
        &mut self,
        partition_attribute: &str,
        partition: &str,
        sort: Option<(&str, &SortCondition)>,
    ) -> String {
        let mut expression = format!(
            "{} = {}",
            self.name(partition_attribute),
            self.value(AttributeValue::S(partition.to_owned()))
        );
        if let Some((attribute, sort)) = sort {
            let name = self.name(attribute);
            let mut text = |v: &String| self.value(AttributeValue::S(v.clone()));
            let clause = match sort {
                SortCondition::Equals(v) => format!("{name} = {}", text(v)),
                SortCondition::BeginsWith(v) => format!("begins_with({name}, {})", text(v)),
                SortCondition::Between(lo, hi) => {
                    let (lo, hi) = (text(lo), text(hi));
                    format!("{name} BETWEEN {lo} AND {hi}")
                }
                SortCondition::Before(v) => format!("{name} < {}", text(v)),
                SortCondition::After(v) => format!("{name} > {}", text(v)),
            };
            expression = format!("{expression} AND {clause}");
        }
        expression
    }

    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

#[cfg(test)]
mod tests {
    use milkrun_store::item::{n, s};
    use milkrun_store::table::{INVENTORY, PROCESSED_EVENTS};

    use super::*;

    #[test]
    fn values_are_bound_never_spliced() {
        let mut e = Expressions::default();
        let text = e.condition(
            &Condition::All(vec![
                Condition::Exists,
                Condition::at_least("stock", n(3)),
                Condition::equals("status", s("x) OR (1=1")),
            ]),
            &INVENTORY,
        );
        assert_eq!(text, "(attribute_exists(#n0) AND #n1 >= :v0 AND #n2 = :v1)");
        assert_eq!(e.values[":v1"], AttributeValue::S("x) OR (1=1".into()));
    }

    #[test]
    fn updates_group_by_verb_and_ttl_tables_treat_expired_items_as_absent() {
        let mut e = Expressions::default();
        let update = e.update(&[
            Update::add("stock", -2),
            Update::set("updatedAt", s("t")),
            Update::remove("old"),
            Update::add("version", 1),
        ]);
        assert_eq!(update, "SET #n1 = :v1 ADD #n0 :v0, #n3 :v2 REMOVE #n2");
        let mut e = Expressions::default();
        let absent = e.condition(&Condition::NotExists, &PROCESSED_EVENTS);
        assert_eq!(absent, "(attribute_not_exists(#n0) OR #n1 <= :v0)");
    }
}
