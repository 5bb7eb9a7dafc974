//! Step 9, NotifyCustomer, NotifyVendors and RecordAnalytics: nothing left for them to do
//! (the events go out with the changes themselves); kept while the definition names them.

use milkrun_domain::error::TaskError;
use serde_json::Value;
use uuid::Uuid;

use super::{CheckoutTasks, answer};

impl CheckoutTasks {
    /// The messages go out from events committed with the changes themselves
    /// (ORDER_CONFIRMED with the confirmation, DELIVERY_SCHEDULED with each delivery), so a
    /// crash can lose none of them and these steps add none twice: they read the order, to
    /// fail on an unknown one like every step, and answer.
    pub(super) async fn not_yet_published(&self, order_id: Uuid) -> Result<Value, TaskError> {
        let order = self.load(order_id).await?;
        Ok(answer(&order))
    }
}
