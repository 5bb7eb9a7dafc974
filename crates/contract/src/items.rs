//! The `ItemStore` contract: the DynamoDB semantics both implementations must give, case by
//! case, including under concurrency. Every case uses keys no other case uses, so the
//! suites can share tables (the template's own, on moto).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;
use milkrun_store::item::{Item, Value, n, number, s, text};
use milkrun_store::ops::{Condition, Key, Query, SortCondition, Update, Write};
use milkrun_store::table::{
    BY_CREATED_AT, INVENTORY, IndexSpec, ORDERS, ORDERS_BY_STATUS, ORDERS_BY_USER,
    PROCESSED_EVENTS, PRODUCTS, Projection,
};
use milkrun_store::{ItemError, ItemStore};
use uuid::Uuid;

fn fresh() -> String {
    Uuid::new_v4().simple().to_string()
}

/// An inventory-table item at `partition` / `sort` with `attributes`.
fn row(partition: &str, sort: &str, attributes: &[(&str, Value)]) -> Item {
    let mut item = Key::with_sort(partition, sort).to_item(&INVENTORY);
    for (name, value) in attributes {
        item.insert((*name).to_owned(), value.clone());
    }
    item
}

fn put(item: Item, condition: Option<Condition>) -> Write {
    Write::put(&INVENTORY, item, condition)
}

async fn read(store: &Arc<dyn ItemStore>, partition: &str, sort: &str) -> Option<Item> {
    store
        .get(&INVENTORY, &Key::with_sort(partition, sort), true)
        .await
        .unwrap()
}

fn condition_failed(result: Result<impl std::fmt::Debug, ItemError>, index: usize) {
    match result {
        Err(ItemError::ConditionFailed { index: failed }) => assert_eq!(failed, index),
        other => panic!("expected write {index}'s condition to fail, got {other:?}"),
    }
}

pub async fn items_round_trip_whole(store: Arc<dyn ItemStore>) {
    let partition = fresh();
    let mut nested = Item::default();
    nested.insert("inner".into(), s("ünïcode ✓"));
    let item = row(
        &partition,
        "a",
        &[
            ("text", s("x")),
            ("count", n(12)),
            ("flag", Value::Bool(true)),
            ("list", Value::L(vec![s("a"), n(2)])),
            ("map", Value::M(nested.into_inner())),
            ("nothing", Value::Null(true)),
        ],
    );
    assert_eq!(
        store.write(put(item.clone(), None)).await.unwrap(),
        Some(item.clone())
    );
    assert_eq!(read(&store, &partition, "a").await, Some(item.clone()));
    assert_eq!(read(&store, &partition, "b").await, None);
    // More keys than one DynamoDB BatchGetItem takes: the store splits the read.
    let mut keys: Vec<Key> = (0..130)
        .map(|i| Key::with_sort(&partition, format!("none-{i}")))
        .collect();
    keys.push(Key::with_sort(&partition, "a"));
    assert_eq!(
        store.batch_get(&INVENTORY, &keys).await.unwrap(),
        vec![item]
    );
    assert!(store.batch_get(&INVENTORY, &[]).await.unwrap().is_empty());
}

pub async fn a_failed_condition_writes_nothing(store: Arc<dyn ItemStore>) {
    let p = fresh();
    let first = row(
        &p,
        "k",
        &[("owner", s("first")), ("version", n(0)), ("stock", n(5))],
    );
    store
        .write(put(first.clone(), Some(Condition::NotExists)))
        .await
        .unwrap();
    let second = row(&p, "k", &[("owner", s("second"))]);
    condition_failed(
        store.write(put(second, Some(Condition::NotExists))).await,
        0,
    );
    assert_eq!(read(&store, &p, "k").await, Some(first.clone()));

    let cases = [
        (Condition::Version(1), false),
        (Condition::Version(0), true),
        (Condition::equals("owner", s("first")), true),
        (Condition::equals("owner", s("second")), false),
        (Condition::at_least("stock", n(5)), true),
        (Condition::at_least("stock", n(6)), false),
        (Condition::at_most("stock", n(4)), false),
        (Condition::at_most("stock", n(5)), true),
        (Condition::AttributeExists("owner".into()), true),
        (Condition::AttributeNotExists("owner".into()), false),
        (Condition::Exists, true),
        (
            Condition::All(vec![Condition::Exists, Condition::at_least("stock", n(9))]),
            false,
        ),
        (
            Condition::Any(vec![
                Condition::NotExists,
                Condition::at_least("stock", n(1)),
            ]),
            true,
        ),
    ];
    for (condition, holds) in cases {
        let write = Write::update(
            &INVENTORY,
            Key::with_sort(&p, "k"),
            vec![Update::add("touched", 1)],
            Some(condition.clone()),
        );
        let result = store.write(write).await;
        assert_eq!(result.is_ok(), holds, "{condition:?}: {result:?}");
        if !holds {
            condition_failed(result, 0);
        }
    }
    let touched = read(&store, &p, "k").await.unwrap();
    assert_eq!(
        touched.get("touched").and_then(number),
        Some(7),
        "only the passing updates landed"
    );

    let wrong = Write::delete(
        &INVENTORY,
        Key::with_sort(&p, "k"),
        Some(Condition::equals("owner", s("nobody"))),
    );
    condition_failed(store.write(wrong).await, 0);
    assert!(read(&store, &p, "k").await.is_some());
    let right = Write::delete(
        &INVENTORY,
        Key::with_sort(&p, "k"),
        Some(Condition::equals("owner", s("first"))),
    );
    assert_eq!(store.write(right).await.unwrap(), None);
    assert_eq!(read(&store, &p, "k").await, None);
    let on_nothing = Write::update(
        &INVENTORY,
        Key::with_sort(&p, "k"),
        vec![Update::add("x", 1)],
        Some(Condition::Exists),
    );
    condition_failed(store.write(on_nothing).await, 0);
    assert_eq!(
        read(&store, &p, "k").await,
        None,
        "a refused update creates nothing"
    );
}

pub async fn updates_set_add_and_remove(store: Arc<dyn ItemStore>) {
    let p = fresh();
    let key = Key::with_sort(&p, "u");
    let created = store
        .write(Write::update(
            &INVENTORY,
            key.clone(),
            vec![
                Update::add("count", 3),
                Update::set("name", s("a")),
                Update::set("gone", s("soon")),
            ],
            None,
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            created.get("count").and_then(number),
            text(&created, "name")
        ),
        (Some(3), Some("a"))
    );
    assert_eq!(
        text(&created, "pk"),
        Some(p.as_str()),
        "an update creates the item with its key"
    );
    let updated = store
        .write(Write::update(
            &INVENTORY,
            key,
            vec![
                Update::add("count", -5),
                Update::SetIfAbsent("name".into(), s("b")),
                Update::SetIfAbsent("fresh".into(), s("c")),
                Update::remove("gone"),
            ],
            None,
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.get("count").and_then(number), Some(-2));
    assert_eq!(
        (text(&updated, "name"), text(&updated, "fresh")),
        (Some("a"), Some("c"))
    );
    assert!(!updated.contains_key("gone"));
    assert_eq!(read(&store, &p, "u").await, Some(updated));
}

pub async fn transactions_are_all_or_nothing_and_name_the_failed_write(store: Arc<dyn ItemStore>) {
    let p = fresh();
    store
        .write(put(row(&p, "taken", &[("stock", n(1))]), None))
        .await
        .unwrap();
    let writes = vec![
        put(row(&p, "new-1", &[]), Some(Condition::NotExists)),
        Write::update(
            &INVENTORY,
            Key::with_sort(&p, "taken"),
            vec![Update::add("stock", -2)],
            Some(Condition::at_least("stock", n(2))),
        ),
        put(row(&p, "new-2", &[]), Some(Condition::NotExists)),
    ];
    condition_failed(store.transact(writes).await, 1);
    assert_eq!(
        read(&store, &p, "new-1").await,
        None,
        "nothing of a cancelled transaction lands"
    );
    assert_eq!(
        read(&store, &p, "taken")
            .await
            .unwrap()
            .get("stock")
            .and_then(number),
        Some(1)
    );

    store
        .write(put(row(&p, "doomed", &[]), None))
        .await
        .unwrap();
    let check = Write::Check {
        table: &INVENTORY,
        key: Key::with_sort(&p, "taken"),
        condition: Condition::at_least("stock", n(1)),
    };
    let writes = vec![
        check,
        put(row(&p, "new-1", &[]), Some(Condition::NotExists)),
        Write::delete(&INVENTORY, Key::with_sort(&p, "doomed"), None),
    ];
    store.transact(writes).await.unwrap();
    assert!(read(&store, &p, "new-1").await.is_some());
    assert_eq!(read(&store, &p, "doomed").await, None);
    assert!(
        read(&store, &p, "taken").await.is_some(),
        "a check writes nothing"
    );

    let too_many: Vec<Write> = (0..101)
        .map(|i| put(row(&p, &format!("m{i}"), &[]), None))
        .collect();
    assert!(matches!(
        store.transact(too_many).await,
        Err(ItemError::Invalid(_))
    ));
    let twice = vec![
        put(row(&p, "same", &[]), None),
        put(row(&p, "same", &[]), None),
    ];
    assert!(matches!(
        store.transact(twice).await,
        Err(ItemError::Invalid(_))
    ));
    assert_eq!(read(&store, &p, "m0").await, None);
    let hundred: Vec<Write> = (0..100)
        .map(|i| {
            put(
                row(&p, &format!("h{i:03}"), &[]),
                Some(Condition::NotExists),
            )
        })
        .collect();
    store.transact(hundred).await.unwrap();
    assert!(
        read(&store, &p, "h099").await.is_some(),
        "100 writes is the limit, not past it"
    );
}

pub async fn misshapen_requests_are_refused(store: Arc<dyn ItemStore>) {
    let p = fresh();
    let no_sort = Write::put(&INVENTORY, Key::partition(&p).to_item(&INVENTORY), None);
    assert!(matches!(
        store.write(no_sort).await,
        Err(ItemError::Invalid(_))
    ));
    let key_change = Write::update(
        &INVENTORY,
        Key::with_sort(&p, "a"),
        vec![Update::set("sk", s("b"))],
        None,
    );
    assert!(matches!(
        store.write(key_change).await,
        Err(ItemError::Invalid(_))
    ));
    let lone_check = Write::Check {
        table: &INVENTORY,
        key: Key::with_sort(&p, "a"),
        condition: Condition::Exists,
    };
    assert!(matches!(
        store.write(lone_check).await,
        Err(ItemError::Invalid(_))
    ));
}

async fn all_sorts(store: &Arc<dyn ItemStore>, mut query: Query) -> Vec<String> {
    let mut sorts = Vec::new();
    loop {
        let page = store.query(&query).await.unwrap();
        assert!(page.items.len() <= query.limit as usize);
        sorts.extend(page.items.iter().map(|i| text(i, "sk").unwrap().to_owned()));
        match page.last_key {
            Some(last) => query.start_after = Some(last),
            None => return sorts,
        }
    }
}

pub async fn queries_read_one_partition_in_sort_order_and_resume(store: Arc<dyn ItemStore>) {
    let p = fresh();
    for sort in ["a#3", "a#1", "b#1", "a#2", "a#5", "a#4"] {
        store.write(put(row(&p, sort, &[]), None)).await.unwrap();
    }
    store
        .write(put(row(&fresh(), "a#1", &[]), None))
        .await
        .unwrap();
    let base = Query::table(&INVENTORY, p.clone()).consistent();
    let query = |sort: SortCondition| base.clone().sorted(sort);
    assert_eq!(
        all_sorts(&store, base.clone()).await,
        ["a#1", "a#2", "a#3", "a#4", "a#5", "b#1"]
    );
    assert_eq!(
        all_sorts(
            &store,
            query(SortCondition::BeginsWith("a#".into())).descending()
        )
        .await,
        ["a#5", "a#4", "a#3", "a#2", "a#1"]
    );
    assert_eq!(
        all_sorts(
            &store,
            query(SortCondition::Between("a#2".into(), "a#4".into()))
        )
        .await,
        ["a#2", "a#3", "a#4"]
    );
    assert_eq!(
        all_sorts(&store, query(SortCondition::Before("a#3".into()))).await,
        ["a#1", "a#2"]
    );
    assert_eq!(
        all_sorts(&store, query(SortCondition::After("a#4".into()))).await,
        ["a#5", "b#1"]
    );
    assert_eq!(
        all_sorts(&store, query(SortCondition::Equals("b#1".into()))).await,
        ["b#1"]
    );
    let mut paged = base.clone().descending();
    paged.limit = 2;
    assert_eq!(
        all_sorts(&store, paged).await,
        ["b#1", "a#5", "a#4", "a#3", "a#2", "a#1"],
        "pages of 2 resume without repeats"
    );
    assert!(
        all_sorts(&store, Query::table(&INVENTORY, fresh()))
            .await
            .is_empty()
    );
}

pub async fn index_queries_hold_only_items_with_both_index_keys(store: Arc<dyn ItemStore>) {
    let list = fresh();
    let mut expected = Vec::new();
    for i in 0..5 {
        let pk = format!("LISTED#{}", fresh());
        let mut item = Key::partition(&pk).to_item(&PRODUCTS);
        item.insert("listKey".into(), s(&list));
        item.insert("createdKey".into(), s(format!("2030-01-0{i}#{pk}")));
        store
            .write(Write::put(&PRODUCTS, item, None))
            .await
            .unwrap();
        expected.push(pk);
    }
    let mut unlisted = Key::partition(format!("HALF#{}", fresh())).to_item(&PRODUCTS);
    unlisted.insert("listKey".into(), s(&list));
    store
        .write(Write::put(&PRODUCTS, unlisted, None))
        .await
        .unwrap();
    expected.reverse();
    let mut query = Query::index(&PRODUCTS, &BY_CREATED_AT, list.clone()).descending();
    query.limit = 2;
    let mut seen = Vec::new();
    loop {
        let page = store.query(&query).await.unwrap();
        seen.extend(page.items.iter().map(|i| text(i, "pk").unwrap().to_owned()));
        match page.last_key {
            Some(last) => query.start_after = Some(last),
            None => break,
        }
    }
    assert_eq!(
        seen, expected,
        "newest first, and an item without the sort key is not in the index"
    );
    let after = Query::index(&PRODUCTS, &BY_CREATED_AT, list)
        .sorted(SortCondition::After("2030-01-02".into()));
    let later = store.query(&after).await.unwrap();
    assert_eq!(later.items.len(), 3);
}

/// A keys-only index answers the table's key and its own, nothing else, whichever spec the
/// Query names (the table's declaration decides, as in DynamoDB); an ALL index the whole
/// item; and the items themselves are read whole by key, eventually consistent too.
pub async fn a_keys_only_index_answers_only_the_keys(store: Arc<dyn ItemStore>) {
    let (pk, user, status) = (format!("PROJECTED#{}", fresh()), fresh(), fresh());
    let mut item = Key::partition(&pk).to_item(&ORDERS);
    for (name, value) in [
        ("userKey", user.as_str()),
        ("statusKey", status.as_str()),
        ("listKey", "PROJECTION-CASE"),
        ("createdKey", "2030-01-01#x"),
        ("note", "not projected"),
    ] {
        item.insert(name.into(), s(value));
    }
    item.insert("total".into(), n(11_000));
    store
        .write(Write::put(&ORDERS, item.clone(), None))
        .await
        .unwrap();
    let listed = store
        .query(&Query::index(&ORDERS, &ORDERS_BY_USER, user))
        .await
        .unwrap();
    let names = |items: &[Item]| -> Vec<Vec<String>> {
        items
            .iter()
            .map(|i| {
                let mut names: Vec<String> = i.keys().cloned().collect();
                names.sort();
                names
            })
            .collect()
    };
    assert_eq!(names(&listed.items), [["createdKey", "pk", "userKey"]]);
    // An ALL-shaped spec of the same name still answers what the table's index holds.
    const SHAPED_ALL: IndexSpec = IndexSpec {
        projection: Projection::All,
        ..ORDERS_BY_STATUS
    };
    let by_status = store
        .query(&Query::index(&ORDERS, &SHAPED_ALL, status))
        .await
        .unwrap();
    assert_eq!(names(&by_status.items), [["createdKey", "pk", "statusKey"]]);
    let key = Key::partition(&pk);
    let whole = store.batch_get_eventual(&ORDERS, &[key]).await.unwrap();
    assert_eq!(whole, [item]);

    let list = fresh();
    let mut product_item = Key::partition(format!("LISTED#{}", fresh())).to_item(&PRODUCTS);
    product_item.insert("listKey".into(), s(&list));
    product_item.insert("createdKey".into(), s("2030-01-01#x"));
    product_item.insert("note".into(), s("projected"));
    store
        .write(Write::put(&PRODUCTS, product_item.clone(), None))
        .await
        .unwrap();
    let all = store
        .query(&Query::index(&PRODUCTS, &BY_CREATED_AT, list))
        .await
        .unwrap();
    assert_eq!(
        all.items,
        [product_item],
        "an ALL index answers the whole item"
    );
}

pub async fn scans_visit_every_item_once(store: Arc<dyn ItemStore>) {
    let p = fresh();
    for i in 0..9 {
        store
            .write(put(row(&p, &format!("s{i}"), &[]), None))
            .await
            .unwrap();
    }
    let (mut start, mut mine, mut seen) = (None, Vec::new(), HashSet::new());
    loop {
        let page = store.scan(&INVENTORY, 25, start).await.unwrap();
        for item in &page.items {
            let key = (
                text(item, "pk").unwrap().to_owned(),
                text(item, "sk").unwrap().to_owned(),
            );
            assert!(seen.insert(key.clone()), "{key:?} scanned twice");
            if key.0 == p {
                mine.push(key.1);
            }
        }
        match page.last_key {
            Some(last) => start = Some(last),
            None => break,
        }
    }
    mine.sort();
    assert_eq!(mine.len(), 9);
}

pub async fn expired_items_count_as_gone(store: Arc<dyn ItemStore>) {
    let now = Utc::now().timestamp();
    let item = |pk: &str, expires: i64| {
        let mut item = Key::partition(pk).to_item(&PROCESSED_EVENTS);
        item.insert("expiresAt".into(), n(expires));
        item
    };
    let (old, live) = (format!("TTL#{}", fresh()), format!("TTL#{}", fresh()));
    store
        .write(Write::put(&PROCESSED_EVENTS, item(&old, now - 60), None))
        .await
        .unwrap();
    store
        .write(Write::put(&PROCESSED_EVENTS, item(&live, now + 3600), None))
        .await
        .unwrap();
    assert_eq!(
        store
            .get(&PROCESSED_EVENTS, &Key::partition(&old), true)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .get(&PROCESSED_EVENTS, &Key::partition(&live), true)
            .await
            .unwrap()
            .is_some()
    );
    let found = store
        .batch_get(
            &PROCESSED_EVENTS,
            &[Key::partition(&old), Key::partition(&live)],
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    store
        .write(Write::put(
            &PROCESSED_EVENTS,
            item(&old, now + 3600),
            Some(Condition::NotExists),
        ))
        .await
        .expect("an expired item does not block a claim");
    condition_failed(
        store
            .write(Write::put(
                &PROCESSED_EVENTS,
                item(&live, now),
                Some(Condition::NotExists),
            ))
            .await,
        0,
    );
    let exists = Write::update(
        &PROCESSED_EVENTS,
        Key::partition(&old),
        vec![Update::add("n", 1)],
        Some(Condition::Exists),
    );
    store.write(exists).await.expect("the renewed item exists");
}

pub async fn fifty_concurrent_conditional_decrements_take_exactly_the_stock(
    store: Arc<dyn ItemStore>,
) {
    let p = fresh();
    store
        .write(put(row(&p, "hot", &[("stock", n(20))]), None))
        .await
        .unwrap();
    let takers = (0..50).map(|_| {
        let (store, p) = (store.clone(), p.clone());
        tokio::spawn(async move {
            let take = Write::update(
                &INVENTORY,
                Key::with_sort(&p, "hot"),
                vec![Update::add("stock", -1)],
                Some(Condition::at_least("stock", n(1))),
            );
            store.write(take).await
        })
    });
    let results: Vec<_> = futures::future::join_all(takers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 20, "exactly the stock is taken");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(_) | Err(ItemError::ConditionFailed { index: 0 })))
    );
    assert_eq!(
        read(&store, &p, "hot")
            .await
            .unwrap()
            .get("stock")
            .and_then(number),
        Some(0)
    );
}

pub async fn concurrent_transactions_on_one_item_all_land_or_none(store: Arc<dyn ItemStore>) {
    let p = fresh();
    store
        .write(put(row(&p, "counter", &[("count", n(0))]), None))
        .await
        .unwrap();
    let writers = (0..20).map(|i| {
        let (store, p) = (store.clone(), p.clone());
        tokio::spawn(async move {
            let bump = Write::update(
                &INVENTORY,
                Key::with_sort(&p, "counter"),
                vec![Update::add("count", 1)],
                Some(Condition::Exists),
            );
            let mark = put(
                row(&p, &format!("mark-{i:02}"), &[]),
                Some(Condition::NotExists),
            );
            (i, store.transact(vec![bump, mark]).await)
        })
    });
    let results: Vec<_> = futures::future::join_all(writers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        results
            .iter()
            .all(|(_, r)| matches!(r, Ok(()) | Err(ItemError::Conflict))),
        "{results:?}"
    );
    let landed: Vec<usize> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| *i)
        .collect();
    assert!(!landed.is_empty());
    let count = read(&store, &p, "counter")
        .await
        .unwrap()
        .get("count")
        .and_then(number);
    assert_eq!(
        count,
        Some(landed.len() as i128),
        "each landed transaction counted once"
    );
    for (i, result) in &results {
        assert_eq!(
            read(&store, &p, &format!("mark-{i:02}")).await.is_some(),
            result.is_ok(),
            "half a transaction never lands"
        );
    }
}

pub async fn sixteen_concurrent_claims_of_one_key_have_one_winner(store: Arc<dyn ItemStore>) {
    let p = fresh();
    let claims = (0..16).map(|i| {
        let (store, p) = (store.clone(), p.clone());
        tokio::spawn(async move {
            let claim = put(
                row(&p, "claim", &[("owner", n(i))]),
                Some(Condition::NotExists),
            );
            (i, store.write(claim).await)
        })
    });
    let results: Vec<_> = futures::future::join_all(claims)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let winners: Vec<i32> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(_, r)| matches!(r, Ok(_) | Err(ItemError::ConditionFailed { index: 0 })))
    );
    let owner = read(&store, &p, "claim")
        .await
        .unwrap()
        .get("owner")
        .and_then(number);
    assert_eq!(
        owner,
        Some(i128::from(winners[0])),
        "the winner's claim is the one kept"
    );
}

#[macro_export]
macro_rules! item_store_contract {
    ($make:expr) => {
        $crate::item_store_contract!(@cases $make;
            items_round_trip_whole,
            a_failed_condition_writes_nothing,
            updates_set_add_and_remove,
            transactions_are_all_or_nothing_and_name_the_failed_write,
            misshapen_requests_are_refused,
            queries_read_one_partition_in_sort_order_and_resume,
            index_queries_hold_only_items_with_both_index_keys,
            a_keys_only_index_answers_only_the_keys,
            scans_visit_every_item_once,
            expired_items_count_as_gone,
            fifty_concurrent_conditional_decrements_take_exactly_the_stock,
            concurrent_transactions_on_one_item_all_land_or_none,
            sixteen_concurrent_claims_of_one_key_have_one_winner,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::items::$case($make).await;
            }
        )+
    };
}
