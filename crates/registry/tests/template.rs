//! Every service's Lambda function in template.yaml is given what the service says it needs
//! (`Needs`): a variable for each of its tables, the mail settings when it sends mail, and
//! the checkout's state machine when it starts checkouts.
//! A function missing one stops at its start in AWS (and under the emulated harness), which
//! no route test on the local server sees: two branches each right alone, merged, once left
//! the subscription function without the unsubscribe link's setting.

use std::collections::{BTreeMap, BTreeSet};

use milkrun_platform::Needs;

/// The variables a function that mails must have (`crates/lambda`'s `messaging`).
const MAIL_SETTINGS: [&str; 3] = ["MAIL_FROM", "VERIFY_EMAIL_URL", "UNSUBSCRIBE_URL"];

/// Each `rust-cargolambda` function's binary → the environment variables it is given.
fn functions_by_binary() -> BTreeMap<String, BTreeSet<String>> {
    let template = include_str!("../../../template.yaml");
    let mut functions = BTreeMap::new();
    let (mut binary, mut variables) = (None::<String>, BTreeSet::new());
    let mut in_variables = false;
    for line in template.lines() {
        let indent = line.len() - line.trim_start().len();
        if indent == 2 && line.trim_end().ends_with(':') {
            if let Some(name) = binary.take() {
                functions.insert(name, std::mem::take(&mut variables));
            }
            variables.clear();
            in_variables = false;
        } else if let Some(name) = line.trim().strip_prefix("Binary: ") {
            binary = Some(name.to_owned());
        } else if line.trim() == "Variables:" {
            in_variables = true;
        } else if in_variables && indent == 10 {
            let name = line.trim().split(':').next().unwrap_or_default();
            variables.insert(name.to_owned());
        } else if in_variables && indent < 10 && !line.trim().is_empty() {
            in_variables = false;
        }
    }
    if let Some(name) = binary {
        functions.insert(name, variables);
    }
    functions
}

/// The variable a function that starts checkouts must have (`crates/lambda`'s runner).
const CHECKOUT_SETTING: &str = "CHECKOUT_STATE_MACHINE_ARN";

/// What `needs` asks for that `variables` lacks.
fn missing(needs: &Needs, variables: &BTreeSet<String>) -> Vec<String> {
    let tables = needs.tables.iter().map(|table| table.env);
    let mail = needs.mail.then_some(MAIL_SETTINGS).into_iter().flatten();
    let checkout = needs.checkout.then_some(CHECKOUT_SETTING);
    tables
        .chain(mail)
        .chain(checkout)
        .filter(|name| !variables.contains(*name))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_function_is_given_the_tables_and_mail_settings_its_service_needs() {
    let functions = functions_by_binary();
    let http = milkrun_registry::HTTP.iter().map(|s| (s.name, &s.needs));
    let consumers = milkrun_registry::CONSUMERS
        .iter()
        .map(|s| (s.name, &s.needs));
    // A job's binary is named with `_` where the job has `-` when it is not its own name.
    let jobs = milkrun_registry::JOBS.iter().map(|s| (s.name, &s.needs));
    let mut checked = 0;
    let mut gaps = Vec::new();
    for (name, needs) in http.chain(consumers).chain(jobs) {
        let variables = functions
            .get(name)
            .or_else(|| functions.get(&name.replace('-', "_")))
            .unwrap_or_else(|| panic!("no function in template.yaml builds `{name}`"));
        let lacking = missing(needs, variables);
        if !lacking.is_empty() {
            gaps.push(format!("{name}: {}", lacking.join(", ")));
        }
        checked += 1;
    }
    assert!(
        gaps.is_empty(),
        "functions missing settings:\n{}",
        gaps.join("\n")
    );
    assert!(checked >= 14, "only {checked} services checked");
}

#[test]
fn the_reading_of_the_template_finds_each_functions_variables() {
    let functions = functions_by_binary();
    let order = &functions["order"];
    assert!(order.contains("ORDERS_TABLE"), "{order:?}");
    assert!(!order.contains("Variables"), "{order:?}");
    assert!(functions.len() >= 19, "{:?}", functions.keys());
}

/// The template's resource that a table's variable refers to (`ORDERS_TABLE: !Ref X`).
fn resource_of(template: &str, env: &str) -> Option<String> {
    let prefix = format!("{env}: !Ref ");
    template
        .lines()
        .find_map(|line| line.trim().strip_prefix(prefix.as_str()))
        .map(str::to_owned)
}

/// Each index of the template's resource `resource`, as "name hash range projection".
fn template_indexes(template: &str, resource: &str) -> Vec<String> {
    let header = format!("  {resource}:");
    let block: Vec<&str> = template
        .lines()
        .skip_while(|line| *line != header)
        .skip(1)
        .take_while(|line| line.is_empty() || line.starts_with("   "))
        .collect();
    let mut indexes = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for line in block {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("- IndexName: ") {
            current = vec![name.to_owned()];
        } else if let Some(rest) = line.strip_prefix("- { AttributeName: ") {
            if line.contains("KeyType") && !current.is_empty() {
                current.push(rest.split(',').next().unwrap_or_default().to_owned());
            }
        } else if let Some(rest) = line.strip_prefix("Projection: { ProjectionType: ") {
            current.push(rest.trim_end_matches([' ', '}']).to_owned());
            indexes.push(current.join(" "));
            current = Vec::new();
        }
    }
    indexes
}

/// The indexes the code declares (crates/store's `TableSpec`s) are the template's, down to
/// their projections: the SQLite store answers a keys-only index's Query with keys only as
/// DynamoDB does, so a listing written against one works against the other only if both
/// are declared alike.
#[test]
fn every_tables_indexes_and_projections_are_the_templates() {
    let template = include_str!("../../../template.yaml");
    let services = milkrun_registry::HTTP.iter().map(|s| &s.needs);
    let consumers = milkrun_registry::CONSUMERS.iter().map(|s| &s.needs);
    let jobs = milkrun_registry::JOBS.iter().map(|s| &s.needs);
    let mut tables: BTreeMap<&str, _> = BTreeMap::new();
    for needs in services.chain(consumers).chain(jobs) {
        for table in needs.tables {
            tables.insert(table.name, *table);
        }
    }
    let mut keys_only = 0;
    for (name, table) in &tables {
        let resource = resource_of(template, table.env)
            .unwrap_or_else(|| panic!("no function is given {} in the template", table.env));
        let declared: Vec<String> = table
            .indexes
            .iter()
            .map(|index| {
                let projection = index.projection.template_name();
                keys_only += usize::from(projection == "KEYS_ONLY");
                format!(
                    "{} {} {} {projection}",
                    index.name, index.partition_key, index.sort_key
                )
            })
            .collect();
        assert_eq!(
            template_indexes(template, &resource),
            declared,
            "{name} ({resource})"
        );
    }
    assert!(tables.len() >= 15, "{:?}", tables.keys());
    assert!(keys_only >= 4, "the orders' indexes project keys only");
}
