//! One decorator per port: each asks the plan about every call and fails it as drawn,
//! otherwise passes it to the real adapter it wraps.

use std::sync::Arc;

use async_trait::async_trait;
use milkrun_domain::StoreError;
use milkrun_domain::events::EventEnvelope;
use milkrun_domain::payment::{ChargeRequest, GatewayError, Payment, PaymentGateway};
use milkrun_domain::ports::{EventPublisher, Mail, Mailer, Sms, SmsSender};
use milkrun_store::{Item, ItemError, ItemPage, ItemStore, Key, Query, TableSpec, Write};
use uuid::Uuid;

use crate::plan::{CallKind, Fault, FaultPlan};

/// The error an injected fault answers with; its text says which fault it was.
#[derive(Debug, thiserror::Error)]
#[error("injected fault: {0}")]
pub struct Injected(pub &'static str);

const READ_FAULTS: &[Fault] = &[Fault::Refused, Fault::TimeoutBefore];
const WRITE_FAULTS: &[Fault] = &[Fault::Refused, Fault::TimeoutBefore, Fault::AnswerLost];
const TRANSACT_FAULTS: &[Fault] = &[
    Fault::Refused,
    Fault::TimeoutBefore,
    Fault::AnswerLost,
    Fault::Conflict,
];

fn what(fault: Fault) -> &'static str {
    match fault {
        Fault::Refused => "throttled (ProvisionedThroughputExceeded / Throttling / HTTP 503)",
        Fault::TimeoutBefore => "timed out before the request was sent",
        Fault::AnswerLost => "timed out after the request was applied",
        Fault::Conflict => "TransactionCanceled: TransactionConflict",
    }
}

/// The item store with faults: throttling and timeouts on reads; on writes also a timeout
/// after the write applied; on transactions also a conflict. A throttle is the
/// `ItemError::Backend` that DynamoDB's ProvisionedThroughputExceeded becomes in
/// milkrun-aws once the SDK has spent its retries; a conflict is `ItemError::Conflict`,
/// what a TransactionConflict cancellation becomes.
pub struct FaultyItemStore {
    inner: Arc<dyn ItemStore>,
    plan: Arc<FaultPlan>,
}

impl FaultyItemStore {
    pub fn new(inner: Arc<dyn ItemStore>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }

    fn before(&self, kind: CallKind, allowed: &[Fault]) -> Result<Option<Fault>, ItemError> {
        match self.plan.draw(kind, allowed) {
            Some(Fault::Conflict) => Err(ItemError::Conflict),
            Some(fault @ (Fault::Refused | Fault::TimeoutBefore)) => {
                Err(ItemError::backend("item store", Injected(what(fault))))
            }
            other => Ok(other),
        }
    }
}

fn lost<T>(fault: Option<Fault>, answer: Result<T, ItemError>) -> Result<T, ItemError> {
    match (fault, answer) {
        (Some(Fault::AnswerLost), Ok(_)) => Err(ItemError::backend(
            "item store",
            Injected(what(Fault::AnswerLost)),
        )),
        (_, answer) => answer,
    }
}

#[async_trait]
impl ItemStore for FaultyItemStore {
    async fn get(
        &self,
        table: &'static TableSpec,
        key: &Key,
        consistent: bool,
    ) -> Result<Option<Item>, ItemError> {
        self.before(CallKind::Get, READ_FAULTS)?;
        self.inner.get(table, key, consistent).await
    }

    async fn batch_get(
        &self,
        table: &'static TableSpec,
        keys: &[Key],
    ) -> Result<Vec<Item>, ItemError> {
        self.before(CallKind::BatchGet, READ_FAULTS)?;
        self.inner.batch_get(table, keys).await
    }

    async fn write(&self, write: Write) -> Result<Option<Item>, ItemError> {
        let fault = self.before(CallKind::Write, WRITE_FAULTS)?;
        lost(fault, self.inner.write(write).await)
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), ItemError> {
        let fault = self.before(CallKind::Transact, TRANSACT_FAULTS)?;
        lost(fault, self.inner.transact(writes).await)
    }

    async fn query(&self, query: &Query) -> Result<ItemPage, ItemError> {
        self.before(CallKind::Query, READ_FAULTS)?;
        self.inner.query(query).await
    }

    async fn scan(
        &self,
        table: &'static TableSpec,
        limit: u32,
        start_after: Option<Item>,
    ) -> Result<ItemPage, ItemError> {
        self.before(CallKind::Scan, READ_FAULTS)?;
        self.inner.scan(table, limit, start_after).await
    }
}

/// Runs `call` unless the plan refuses or times it out first; loses its answer when drawn.
async fn faulty_send<F>(
    plan: &FaultPlan,
    kind: CallKind,
    context: &'static str,
    call: F,
) -> Result<(), StoreError>
where
    F: std::future::Future<Output = Result<(), StoreError>>,
{
    let fault = plan.draw(kind, WRITE_FAULTS);
    if let Some(fault @ (Fault::Refused | Fault::TimeoutBefore)) = fault {
        return Err(StoreError::backend(context, Injected(what(fault))));
    }
    call.await?;
    match fault {
        Some(Fault::AnswerLost) => Err(StoreError::backend(
            context,
            Injected(what(Fault::AnswerLost)),
        )),
        _ => Ok(()),
    }
}

/// The event publisher with faults (the relay's bus locally, SNS Publish in AWS): refused,
/// timed out, or published with its answer lost (so the event goes out twice).
pub struct FaultyPublisher {
    inner: Arc<dyn EventPublisher>,
    plan: Arc<FaultPlan>,
}

impl FaultyPublisher {
    pub fn new(inner: Arc<dyn EventPublisher>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }
}

#[async_trait]
impl EventPublisher for FaultyPublisher {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), StoreError> {
        faulty_send(
            &self.plan,
            CallKind::Publish,
            "publishing an event",
            self.inner.publish(event),
        )
        .await
    }
}

/// The mailer with faults (the outbox folder locally, SES in AWS).
pub struct FaultyMailer {
    inner: Arc<dyn Mailer>,
    plan: Arc<FaultPlan>,
}

impl FaultyMailer {
    pub fn new(inner: Arc<dyn Mailer>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }
}

#[async_trait]
impl Mailer for FaultyMailer {
    async fn send(&self, mail: &Mail) -> Result<(), StoreError> {
        faulty_send(
            &self.plan,
            CallKind::Mail,
            "sending mail",
            self.inner.send(mail),
        )
        .await
    }
}

/// The SMS sender with faults (the sms folder locally, SNS Publish to a phone in AWS).
pub struct FaultySms {
    inner: Arc<dyn SmsSender>,
    plan: Arc<FaultPlan>,
}

impl FaultySms {
    pub fn new(inner: Arc<dyn SmsSender>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }
}

#[async_trait]
impl SmsSender for FaultySms {
    async fn send(&self, sms: &Sms) -> Result<(), StoreError> {
        faulty_send(
            &self.plan,
            CallKind::Sms,
            "sending a text message",
            self.inner.send(sms),
        )
        .await
    }
}

/// The payment gateway with faults: a 5xx (`Refused`), a timeout before the charge, and a
/// charge (or refund) that succeeded but whose answer was lost, all answered as
/// `GatewayError::Unavailable`, which is what a real gateway client makes of them.
pub struct FaultyGateway {
    inner: Arc<dyn PaymentGateway>,
    plan: Arc<FaultPlan>,
}

impl FaultyGateway {
    pub fn new(inner: Arc<dyn PaymentGateway>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }

    async fn call<T, F>(&self, kind: CallKind, call: F) -> Result<T, GatewayError>
    where
        F: std::future::Future<Output = Result<T, GatewayError>>,
    {
        let fault = self.plan.draw(kind, WRITE_FAULTS);
        let unavailable = |fault| {
            Err(GatewayError::Unavailable(format!(
                "injected: {}",
                what(fault)
            )))
        };
        match fault {
            Some(fault @ (Fault::Refused | Fault::TimeoutBefore)) => unavailable(fault),
            Some(Fault::AnswerLost) => match call.await {
                Ok(_) => unavailable(Fault::AnswerLost),
                failed => failed,
            },
            _ => call.await,
        }
    }
}

#[async_trait]
impl PaymentGateway for FaultyGateway {
    async fn charge(&self, request: &ChargeRequest) -> Result<Payment, GatewayError> {
        self.call(CallKind::Charge, self.inner.charge(request))
            .await
    }

    async fn refund(&self, payment: &Payment) -> Result<Payment, GatewayError> {
        self.call(CallKind::Refund, self.inner.refund(payment))
            .await
    }

    async fn payment_for(&self, order_id: Uuid) -> Result<Option<Payment>, GatewayError> {
        self.call(CallKind::PaymentFor, self.inner.payment_for(order_id))
            .await
    }
}
