//! The local outbox relay: hands every committed event to the in-process bus, oldest first,
//! and removes it from the outbox only once the bus has delivered or dead-lettered it. On
//! start it picks up whatever a previous process committed but did not deliver.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use milkrun_domain::ports::{EventPublisher, PendingEvents};
use tokio::sync::{Notify, Semaphore};
use uuid::Uuid;

/// Events handed on at once (each may wait out its consumers' retries).
const IN_FLIGHT: usize = 32;
/// How long the relay sleeps when nothing woke it: a safety net, commits wake it at once.
const IDLE_POLL: Duration = Duration::from_millis(500);

pub struct OutboxRelay {
    pending: Arc<dyn PendingEvents>,
    publisher: Arc<dyn EventPublisher>,
    wake: Arc<Notify>,
}

impl OutboxRelay {
    /// `wake` is notified by the store after each commit that wrote to the outbox.
    pub fn new(
        pending: Arc<dyn PendingEvents>,
        publisher: Arc<dyn EventPublisher>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            pending,
            publisher,
            wake,
        }
    }

    /// Runs until the process ends.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(self) {
        let in_flight: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
        let permits = Arc::new(Semaphore::new(IN_FLIGHT));
        loop {
            match self.pending.pending(IN_FLIGHT as u32 * 4).await {
                Ok(events) => {
                    for event in events {
                        if !in_flight
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .insert(event.event_id)
                        {
                            continue;
                        }
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            return;
                        };
                        let (pending, publisher, in_flight) = (
                            self.pending.clone(),
                            self.publisher.clone(),
                            in_flight.clone(),
                        );
                        tokio::spawn(async move {
                            let id = event.event_id;
                            match publisher.publish(&event).await {
                                Ok(()) => {
                                    if let Err(error) = pending.delivered(id).await {
                                        tracing::error!(event_id = %id, %error, "delivered event not cleared; it will be delivered again");
                                    }
                                }
                                Err(error) => {
                                    tracing::error!(event_id = %id, %error, "event not delivered; it stays in the outbox")
                                }
                            }
                            in_flight
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .remove(&id);
                            drop(permit);
                        });
                    }
                }
                Err(error) => tracing::error!(%error, "reading the outbox failed"),
            }
            let _ = tokio::time::timeout(IDLE_POLL, self.wake.notified()).await;
        }
    }
}
