//! The runtime's metrics: steps by component and outcome, and instantiations. Made once per
//! server (see `RuntimeConfig::metrics`) and shared by every app a reload puts in place, so
//! the server registers them once ([`RuntimeMetrics::register`]) and they never restart.
//!
//! ```
//! let metrics = karman_runtime::RuntimeMetrics::default();
//! let mut registry = prometheus_client::registry::Registry::with_prefix("karman");
//! metrics.register(&mut registry);
//! ```

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::request::FailureKind;

/// Upper bounds of the step-duration buckets, in seconds: 50 µs to 60 s.
const STEP_BUCKETS: [f64; 18] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 15.0, 60.0,
];
/// Upper bounds of the instantiation buckets, in seconds: 10 µs to 1 s.
const INSTANTIATION_BUCKETS: [f64; 12] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 1.0,
];

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    component: Arc<str>,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ComponentLabels {
    component: Arc<str>,
}

/// How a step ended, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepOutcome {
    /// `run` returned its output.
    Ok,
    /// `run` returned an error.
    Error,
    /// The host ended it.
    Fault(FailureKind),
}

impl StepOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Fault(FailureKind::Timeout) => "timeout",
            Self::Fault(FailureKind::Trap) => "trap",
            Self::Fault(FailureKind::MemoryLimit) => "memory_limit",
            Self::Fault(FailureKind::Limit) => "limit",
            Self::Fault(FailureKind::Overloaded) => "overloaded",
            Self::Fault(_) => "internal",
        }
    }
}

/// The runtime's metrics.
#[derive(Clone)]
pub struct RuntimeMetrics {
    steps: Histograms<StepLabels>,
    instantiations: Histograms<ComponentLabels>,
}

impl std::fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeMetrics").finish_non_exhaustive()
    }
}

impl Default for RuntimeMetrics {
    fn default() -> Self {
        Self {
            steps: Family::new_with_constructor(|| Histogram::new(STEP_BUCKETS)),
            instantiations: Family::new_with_constructor(|| Histogram::new(INSTANTIATION_BUCKETS)),
        }
    }
}

impl RuntimeMetrics {
    /// Registers every metric in `registry` (once per server).
    pub fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "step_duration",
            "Time a step took, instantiation included, by component and outcome \
             (ok, error, timeout, trap, memory_limit, limit, overloaded, internal)",
            Unit::Seconds,
            self.steps.clone(),
        );
        registry.register_with_unit(
            "instantiation_duration",
            "Time to instantiate a fresh instance, by component",
            Unit::Seconds,
            self.instantiations.clone(),
        );
    }

    pub(crate) fn observe_step(&self, component: &Arc<str>, outcome: StepOutcome, took: Duration) {
        self.steps
            .get_or_create(&StepLabels {
                component: component.clone(),
                outcome: outcome.label(),
            })
            .observe(took.as_secs_f64());
    }

    pub(crate) fn observe_instantiation(&self, component: &Arc<str>, took: Duration) {
        self.instantiations
            .get_or_create(&ComponentLabels {
                component: component.clone(),
            })
            .observe(took.as_secs_f64());
    }
}
