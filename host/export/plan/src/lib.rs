//! The plan of an exported app (docs/export.md): the request handlers of a Directive and the
//! grants of its components, as `karman export` resolves them. The host writes it as JSON into
//! the exported component; the sequencer (which serves the handlers) and the adapter (which
//! serves the capabilities under the grants) read it. Both sides use these types, so the
//! format has one definition.
//!
//! ```
//! use karman_export_plan::{Call, Component, Grants, Handler, Limits, Plan, Step};
//!
//! let plan = Plan {
//!     components: vec![Component { name: "hello".into(), grants: Grants::default(), timeout_ms: 5000 }],
//!     handlers: vec![Handler {
//!         method: "GET".into(),
//!         resource: "/hello/:name".into(),
//!         state: Default::default(),
//!         steps: vec![Step::Fn(Call::new(0, "hello"))],
//!         response: "hello".into(),
//!     }],
//!     limits: Limits::default(),
//! };
//! let bytes = plan.to_bytes();
//! assert_eq!(Plan::from_bytes(&bytes).unwrap(), plan);
//! assert_eq!(plan.handlers[0].steps[0].calls()[0].on_err.returns(404), true);
//! ```

mod run;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use run::{Failure, RunError, Steps, run};

/// The most components an exported app may have: the sequencer's slots.
pub const SLOTS: usize = 16;

/// An exported app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The app's components, in Directive order; a component's index is its slot.
    pub components: Vec<Component>,
    /// The request handlers, in Directive order.
    pub handlers: Vec<Handler>,
    pub limits: Limits,
}

/// The caps a served request runs within: Karman's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Most bytes of a request body (`--max-body-bytes`).
    pub max_body_bytes: u64,
    /// Most bytes one step may return (`--max-step-output`).
    pub max_step_output: u64,
    /// Most bytes a run's state may hold (`--max-state`).
    pub max_state: u64,
    /// The time a request has, in milliseconds: no retry waits past it.
    pub request_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 10 << 20,
            max_step_output: 16 << 20,
            max_state: 64 << 20,
            request_timeout_ms: 300_000,
        }
    }
}

impl Plan {
    /// The plan as the exported component holds it.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a plan serializes")
    }

    /// The plan an exported component holds.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("the exported app's plan: {e}"))
    }
}

/// A component of the app, by its Directive name, with what it is granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub name: String,
    pub grants: Grants,
    /// Its step timeout, in milliseconds (enforced by the host that serves the export, not
    /// inside it; it bounds the waits of `retry:`).
    pub timeout_ms: u64,
}

/// The grants the adapter enforces inside the exported component.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// `cache`, with the key prefix the component is confined to ("" for none).
    pub cache: Option<String>,
    /// `log`.
    pub log: bool,
    /// `http`.
    pub http: Option<Outbound>,
}

/// An `http` grant, as the adapter enforces it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbound {
    /// The allow list's entries, as the Directive writes them
    /// ([`karman_protocol::outbound::HostPattern`]).
    pub allow: Vec<String>,
    /// Whether literal private addresses may be called.
    pub allow_private: bool,
}

/// A request handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handler {
    /// Upper case, as the Directive writes it.
    pub method: String,
    /// The resource pattern (`/hello/:name`).
    pub resource: String,
    /// The handler's `state:`, which its steps start with.
    pub state: BTreeMap<String, String>,
    pub steps: Vec<Step>,
    /// The state key whose value is the response body.
    pub response: String,
}

/// A step: one call, or a group of calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    Fn(Call),
    Group(Vec<Call>),
}

impl Step {
    /// The calls of the step, in declared order.
    pub fn calls(&self) -> &[Call] {
        match self {
            Step::Fn(call) => std::slice::from_ref(call),
            Step::Group(calls) => calls,
        }
    }
}

/// A call of a component's `run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The component's index (its slot).
    pub component: u32,
    /// Where its output is stored (`as:`, else the `fn` name).
    pub key: String,
    /// `with:`: the keys the step sees, each renamed from a key of the state.
    pub with: Option<BTreeMap<String, String>>,
    pub on_err: OnErr,
    pub retry: Option<Retry>,
}

impl Call {
    /// A call of component `component` stored under `key`, with the defaults of a plain `fn:`.
    pub fn new(component: u32, key: &str) -> Self {
        Self {
            component,
            key: key.to_string(),
            with: None,
            on_err: OnErr::default(),
            retry: None,
        }
    }
}

/// `onErr:`: which run errors end the run and which continue it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnErr {
    /// Codes with an action of their own: `true` continues.
    pub codes: BTreeMap<u16, bool>,
    /// Whether any other code continues.
    pub other_continues: bool,
}

impl OnErr {
    /// Whether a run error with `code` ends the run.
    pub fn returns(&self, code: u16) -> bool {
        !self
            .codes
            .get(&code)
            .copied()
            .unwrap_or(self.other_continues)
    }
}

/// `retry:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    pub attempts: u32,
    /// The first wait, in milliseconds; each later one doubles (at most 30 s).
    pub backoff_ms: u64,
    /// The codes tried again.
    pub on: Vec<u16>,
}

impl Retry {
    /// Whether a try that ended with `code` is tried again (while tries are left).
    pub fn retries(&self, code: u16) -> bool {
        self.on.contains(&code)
    }

    /// The longest wait before try `attempt` (2 for the first retry), in milliseconds, as
    /// Karman waits ([`karman_protocol::retry_wait`]).
    pub fn wait_before_ms(&self, attempt: u32) -> u64 {
        let backoff = std::time::Duration::from_millis(self.backoff_ms);
        let wait = karman_protocol::retry_wait(backoff, attempt);
        u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
    }
}
