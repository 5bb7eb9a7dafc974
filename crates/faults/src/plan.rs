//! The seeded fault plan: which call of which kind fails, and how. Deterministic per call
//! kind: the `n`th call of a kind draws the same number for the same seed, whatever else
//! runs (concurrent tasks may still reach their `n`th calls in another order, so a seed
//! reproduces the faults' mix and counts exactly, and a run's interleaving approximately).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A call a decorator can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallKind {
    Get,
    BatchGet,
    Write,
    Transact,
    Query,
    Scan,
    Publish,
    Mail,
    Sms,
    Charge,
    Refund,
    PaymentFor,
}

impl CallKind {
    pub const ALL: [CallKind; 12] = [
        Self::Get,
        Self::BatchGet,
        Self::Write,
        Self::Transact,
        Self::Query,
        Self::Scan,
        Self::Publish,
        Self::Mail,
        Self::Sms,
        Self::Charge,
        Self::Refund,
        Self::PaymentFor,
    ];

    fn index(self) -> usize {
        Self::ALL.iter().position(|k| *k == self).expect("listed")
    }
}

/// How a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Refused before anything happened, as a throttled request (DynamoDB's
    /// ProvisionedThroughputExceeded once the SDK's own retries are spent, SNS/SES
    /// Throttling) or a gateway's 5xx.
    Refused,
    /// Timed out before the call reached the backend: nothing happened.
    TimeoutBefore,
    /// The call went through, but its answer was lost: the caller sees a timeout although
    /// the write applied, the message went, or the charge succeeded. The nastiest case.
    AnswerLost,
    /// A transaction cancelled by a concurrent one (TransactionConflict): nothing written.
    Conflict,
}

/// When a rule fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    /// Each call with this probability (0..=1), drawn from the seed.
    Probability(f64),
    /// The `n`th call of the kind (1-based), only.
    Nth(u64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub kind: CallKind,
    pub fault: Fault,
    pub when: When,
}

/// A seed and its rules, with counters of calls seen and faults injected.
#[derive(Debug)]
pub struct FaultPlan {
    seed: u64,
    rules: Vec<Rule>,
    enabled: AtomicBool,
    calls: [AtomicU64; CallKind::ALL.len()],
    injected: Mutex<BTreeMap<(CallKind, Fault), u64>>,
}

impl FaultPlan {
    pub fn new(seed: u64, rules: Vec<Rule>) -> Self {
        Self {
            seed,
            rules,
            enabled: AtomicBool::new(true),
            calls: Default::default(),
            injected: Mutex::default(),
        }
    }

    /// No faults at all (the decorators pass every call through).
    pub fn none() -> Self {
        Self::new(0, Vec::new())
    }

    /// Adds a rule firing with probability `p` on every call of `kind`.
    pub fn with(mut self, kind: CallKind, fault: Fault, p: f64) -> Self {
        self.rules.push(Rule {
            kind,
            fault,
            when: When::Probability(p),
        });
        self
    }

    /// Adds a rule failing exactly the `n`th call (1-based) of `kind`.
    pub fn nth(mut self, kind: CallKind, fault: Fault, n: u64) -> Self {
        self.rules.push(Rule {
            kind,
            fault,
            when: When::Nth(n),
        });
        self
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Switches injection on or off (calls are still counted).
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::SeqCst);
    }

    /// The fault this call of `kind` meets, if any, among those `allowed` for it (a read
    /// cannot lose a write's answer; only a transaction conflicts).
    pub fn draw(&self, kind: CallKind, allowed: &[Fault]) -> Option<Fault> {
        let n = self.calls[kind.index()].fetch_add(1, Ordering::SeqCst) + 1;
        if !self.enabled.load(Ordering::SeqCst) {
            return None;
        }
        let fault = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.kind == kind && allowed.contains(&rule.fault))
            .find(|(index, rule)| match rule.when {
                When::Nth(nth) => nth == n,
                When::Probability(p) => unit(self.seed, kind, n, *index) < p,
            })
            .map(|(_, rule)| rule.fault)?;
        *self
            .injected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry((kind, fault))
            .or_default() += 1;
        Some(fault)
    }

    /// Calls seen of `kind`.
    pub fn calls(&self, kind: CallKind) -> u64 {
        self.calls[kind.index()].load(Ordering::SeqCst)
    }

    /// Faults injected so far, by call kind and fault.
    pub fn injected(&self) -> BTreeMap<(CallKind, Fault), u64> {
        self.injected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Faults injected so far, in all.
    pub fn injected_total(&self) -> u64 {
        self.injected().values().sum()
    }
}

/// A number in [0, 1) from (seed, kind, n, rule): splitmix64 over their mix, so no
/// generator state is shared between tasks.
fn unit(seed: u64, kind: CallKind, n: u64, rule: usize) -> f64 {
    let mut x = seed
        ^ (kind.index() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ n.wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ (rule as u64).wrapping_mul(0x94D0_49BB_1331_11EB);
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_draws_the_same_faults_again() {
        let draws = |seed| {
            let plan = FaultPlan::new(seed, Vec::new()).with(CallKind::Get, Fault::Refused, 0.1);
            (0..1000)
                .map(|_| plan.draw(CallKind::Get, &[Fault::Refused]).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
        let hits = draws(7).iter().filter(|hit| **hit).count();
        assert!((60..140).contains(&hits), "about 10 % of 1000: {hits}");
    }

    #[test]
    fn the_nth_call_fails_and_no_other() {
        let plan = FaultPlan::none().nth(CallKind::Charge, Fault::AnswerLost, 3);
        let faults: Vec<_> = (0..5)
            .map(|_| plan.draw(CallKind::Charge, &[Fault::AnswerLost]))
            .collect();
        assert_eq!(
            faults,
            [None, None, Some(Fault::AnswerLost), None, None],
            "only the third"
        );
        assert_eq!(plan.calls(CallKind::Charge), 5);
        assert_eq!(plan.injected_total(), 1);
    }

    #[test]
    fn a_fault_the_call_cannot_meet_is_not_drawn_and_a_disabled_plan_draws_none() {
        let plan = FaultPlan::none()
            .with(CallKind::Get, Fault::AnswerLost, 1.0)
            .with(CallKind::Transact, Fault::Conflict, 1.0);
        assert_eq!(plan.draw(CallKind::Get, &[Fault::Refused]), None);
        plan.set_enabled(false);
        assert_eq!(plan.draw(CallKind::Transact, &[Fault::Conflict]), None);
        plan.set_enabled(true);
        assert_eq!(
            plan.draw(CallKind::Transact, &[Fault::Conflict]),
            Some(Fault::Conflict)
        );
    }
}
