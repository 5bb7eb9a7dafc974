//! Each decorator fails a call the way its plan says, and an answer lost after the call
//! leaves the call's effect behind: what makes that fault the nasty one.

use std::sync::Arc;

use crate::{CallKind, Fault, FaultPlan, FaultyGateway, FaultyItemStore};
use milkrun_checkout::SimulatedGateway;
use milkrun_domain::money::Money;
use milkrun_domain::payment::{ChargeRequest, GatewayError, PaymentGateway, PaymentStatus};
use milkrun_domain::values::PaymentMethod;
use milkrun_local::{Database, SqliteItemStore};
use milkrun_store::table::INVENTORY;
use milkrun_store::{Item, ItemError, ItemStore, Key, Write};
use uuid::Uuid;

fn item(key: &Key) -> Item {
    let mut item = Item::default();
    key.add_to(&INVENTORY, &mut item);
    item
}

fn stores(plan: FaultPlan) -> (Arc<dyn ItemStore>, FaultyItemStore) {
    let real: Arc<dyn ItemStore> = Arc::new(SqliteItemStore::new(Database::in_memory().unwrap()));
    let faulty = FaultyItemStore::new(real.clone(), Arc::new(plan));
    (real, faulty)
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_fails_yet_applied() {
    let (real, faulty) = stores(FaultPlan::none().nth(CallKind::Write, Fault::AnswerLost, 1));
    let key = Key::with_sort("STOCK#lost", "answer");
    let answer = faulty.write(Write::put(&INVENTORY, item(&key), None)).await;
    assert!(
        matches!(answer, Err(ItemError::Backend { .. })),
        "{answer:?}"
    );
    assert!(
        real.get(&INVENTORY, &key, true).await.unwrap().is_some(),
        "written"
    );
}

#[tokio::test]
async fn a_refused_or_conflicting_transaction_writes_nothing() {
    let plan = FaultPlan::none()
        .nth(CallKind::Transact, Fault::Conflict, 1)
        .nth(CallKind::Transact, Fault::Refused, 2);
    let (real, faulty) = stores(plan);
    let key = Key::with_sort("STOCK#tx", "one");
    let writes = || vec![Write::put(&INVENTORY, item(&key), None)];
    assert!(matches!(
        faulty.transact(writes()).await,
        Err(ItemError::Conflict)
    ));
    assert!(matches!(
        faulty.transact(writes()).await,
        Err(ItemError::Backend { .. })
    ));
    assert!(real.get(&INVENTORY, &key, true).await.unwrap().is_none());
    faulty.transact(writes()).await.unwrap();
    assert!(
        real.get(&INVENTORY, &key, true).await.unwrap().is_some(),
        "the third goes through"
    );
}

#[tokio::test]
async fn a_charge_whose_answer_is_lost_took_the_money() {
    let real = Arc::new(SimulatedGateway::new());
    let plan = FaultPlan::none()
        .nth(CallKind::Charge, Fault::AnswerLost, 1)
        .nth(CallKind::Charge, Fault::Refused, 2);
    let faulty = FaultyGateway::new(real.clone(), Arc::new(plan));
    let request = ChargeRequest {
        order_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        amount: Money::inr(5_400),
        method: PaymentMethod::Upi,
        token: None,
    };
    assert!(matches!(
        faulty.charge(&request).await,
        Err(GatewayError::Unavailable(_))
    ));
    let taken = real.payment_for(request.order_id).await.unwrap().unwrap();
    assert_eq!(taken.status, PaymentStatus::Succeeded, "the money moved");
    assert!(
        matches!(
            faulty.charge(&request).await,
            Err(GatewayError::Unavailable(_))
        ),
        "a 5xx"
    );
    let again = faulty.charge(&request).await.unwrap();
    assert_eq!(
        again.payment_id, taken.payment_id,
        "a retry answers the one charge"
    );
    assert_eq!(real.attempts(request.order_id), 1);
}
