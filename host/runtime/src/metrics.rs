//! The runtime's metrics: steps by component and outcome, instantiations, the instance pool,
//! and capability calls. Made once per
//! server (see `RuntimeConfig::metrics`) and shared by every app a reload puts in place, so
//! the server registers them once ([`RuntimeMetrics::register`]) and they never restart.
//!
//! ```
//! let metrics = karman_runtime::RuntimeMetrics::default();
//! let mut registry = prometheus_client::registry::Registry::with_prefix("karman");
//! metrics.register(&mut registry);
//! ```

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::bindings::types::CapError;
use crate::capabilities::CapFailure;
use crate::request::FailureKind;
use crate::sharded_histogram::ShardedHistogram;

/// Upper bounds of the step-duration buckets, in seconds: 50 µs to 60 s.
const STEP_BUCKETS: [f64; 18] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 15.0, 60.0,
];
/// Upper bounds of the instantiation buckets, in seconds: 10 µs to 1 s.
const INSTANTIATION_BUCKETS: [f64; 12] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 1.0,
];

type Histograms<L> = Family<L, ShardedHistogram, fn() -> ShardedHistogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    component: Arc<str>,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ComponentLabels {
    component: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    capability: &'static str,
    backend: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    reason: &'static str,
}

/// Why a step was refused an instance (503), as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Every slot of the instance pool (`--max-instances`) is taken.
    Instances,
    /// The guest-memory budget (`--max-guest-memory`) is spent.
    Memory,
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
    pub(crate) fn label(self) -> &'static str {
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
    calls: Family<CallLabels, Counter>,
    in_use: Gauge,
    warm: Family<ComponentLabels, Gauge>,
    refused: Family<RefusalLabels, Counter>,
}

impl std::fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeMetrics").finish_non_exhaustive()
    }
}

impl Default for RuntimeMetrics {
    fn default() -> Self {
        Self {
            steps: Family::new_with_constructor(|| ShardedHistogram::new(&STEP_BUCKETS)),
            instantiations: Family::new_with_constructor(|| {
                ShardedHistogram::new(&INSTANTIATION_BUCKETS)
            }),
            calls: Family::default(),
            in_use: Gauge::default(),
            warm: Family::default(),
            refused: Family::default(),
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
        registry.register(
            "capability_calls",
            "Capability calls of the guests, by capability (cache with wasi:keyvalue, sql, http, graphql), \
             backend and outcome (ok, denied, not_found, invalid, unavailable, error, trap)",
            self.calls.clone(),
        );
        registry.register(
            "instances_in_use",
            "Instances that hold a slot of the instance pool: running a step or warm",
            self.in_use.clone(),
        );
        registry.register(
            "instances_warm",
            "Warm instances idle between steps, by component (`reuse:`)",
            self.warm.clone(),
        );
        registry.register(
            "instances_refused",
            "Steps refused an instance with 503, by reason (instances: the pool is full; \
             memory: the guest-memory budget is spent)",
            self.refused.clone(),
        );
    }

    /// Where the calls of `capability` are counted.
    pub(crate) fn calls(&self, capability: &'static str) -> CallCounter {
        CallCounter {
            calls: self.calls.clone(),
            capability,
        }
    }

    /// Counts one more instance in use, until the guard is dropped.
    pub(crate) fn instance_in_use(&self) -> InstanceInUse {
        self.in_use.inc();
        InstanceInUse(self.in_use.clone())
    }

    /// The gauge of `component`'s warm instances.
    pub(crate) fn warm(&self, component: &Arc<str>) -> Gauge {
        self.warm
            .get_or_create(&ComponentLabels {
                component: component.clone(),
            })
            .clone()
    }

    pub(crate) fn count_refusal(&self, reason: Refusal) {
        let reason = match reason {
            Refusal::Instances => "instances",
            Refusal::Memory => "memory",
        };
        self.refused.get_or_create(&RefusalLabels { reason }).inc();
    }

    /// The series of `component` that its steps touch, looked up once (at load).
    pub(crate) fn component(&self, component: &Arc<str>) -> ComponentSeries {
        ComponentSeries {
            component: component.clone(),
            metrics: self.clone(),
            steps_ok: OnceLock::new(),
            instantiations: OnceLock::new(),
        }
    }
}

/// The step and instantiation series of one component. The series of a step that succeeded
/// and of instantiation are looked up by label at their first use only; they appear in the
/// exposition from then on.
pub(crate) struct ComponentSeries {
    component: Arc<str>,
    metrics: RuntimeMetrics,
    steps_ok: OnceLock<ShardedHistogram>,
    instantiations: OnceLock<ShardedHistogram>,
}

impl ComponentSeries {
    pub(crate) fn observe_step(&self, outcome: StepOutcome, took: Duration) {
        let series = |outcome: StepOutcome| {
            self.metrics
                .steps
                .get_or_create(&StepLabels {
                    component: self.component.clone(),
                    outcome: outcome.label(),
                })
                .clone()
        };
        let seconds = took.as_secs_f64();
        match outcome {
            StepOutcome::Ok => self
                .steps_ok
                .get_or_init(|| series(outcome))
                .observe(seconds),
            other => series(other).observe(seconds),
        }
    }

    pub(crate) fn observe_instantiation(&self, took: Duration) {
        self.instantiations
            .get_or_init(|| {
                self.metrics
                    .instantiations
                    .get_or_create(&ComponentLabels {
                        component: self.component.clone(),
                    })
                    .clone()
            })
            .observe(took.as_secs_f64());
    }
}

/// One instance counted as in use, until dropped (held in the instance's store).
#[derive(Debug)]
pub(crate) struct InstanceInUse(Gauge);

impl Drop for InstanceInUse {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Counts the calls of one capability.
#[derive(Clone)]
pub(crate) struct CallCounter {
    calls: Family<CallLabels, Counter>,
    capability: &'static str,
}

impl std::fmt::Debug for CallCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallCounter")
            .field("capability", &self.capability)
            .finish_non_exhaustive()
    }
}

impl CallCounter {
    /// Counts a call to `backend` that ended with `outcome` (see [`outcome`]).
    pub(crate) fn count(&self, backend: &'static str, outcome: &'static str) {
        self.calls
            .get_or_create(&CallLabels {
                capability: self.capability,
                backend,
                outcome,
            })
            .inc();
    }

    /// Counts a call that returned `result`.
    pub(crate) fn count_result<T>(&self, backend: &'static str, result: &Result<T, CapFailure>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(CapFailure::Guest(error)) => outcome(error),
            Err(CapFailure::Trap(_)) => "trap",
        };
        self.count(backend, outcome);
    }
}

/// A `cap-error` as an outcome label.
pub(crate) fn outcome(error: &CapError) -> &'static str {
    match error {
        CapError::Denied(_) => "denied",
        CapError::NotFound(_) => "not_found",
        CapError::Invalid(_) => "invalid",
        CapError::Unavailable(_) => "unavailable",
        CapError::Other(_) => "error",
    }
}
