//! The validated, resolved app: what the runtime reads. Built only by [`crate::load`] and
//! [`crate::parse`], so every value here has passed validation.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::Location;
use crate::connections::Connections;
use crate::outbound::{Authentication, OutboundGrant};
use crate::resource::Resource;
use crate::routes::Route;
use crate::sql::{Query, SqlGrant};

/// Default for `limits.timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest accepted `limits.timeout`.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Default for `limits.memory`.
pub const DEFAULT_MEMORY: u64 = 64 << 20;
/// Largest accepted `limits.memory` (a 32-bit linear memory cannot be larger).
pub const MAX_MEMORY: u64 = 4 << 30;

/// A whole Karman app, as declared by one Directive.
#[derive(Debug, Clone)]
pub struct App {
    /// Reverse-DNS name of the app, e.g. `com.example.shop`.
    pub identifier: String,
    /// The app's version, e.g. `v0.1.0`.
    pub app_version: String,
    /// The components, in Directive order; steps refer to them by index.
    pub components: Vec<Component>,
    /// The request handlers, in Directive order.
    pub handlers: Vec<RequestHandler>,
    /// The stream handlers (`type: stream`), in Directive order.
    pub streams: Vec<StreamHandler>,
    /// The schedules, in Directive order.
    pub schedules: Vec<Schedule>,
    /// The backends the capabilities use.
    pub connections: Connections,
    /// The named SQL queries.
    pub queries: Vec<Query>,
    /// Credentials the host adds to outbound requests, and how tokens of callers are verified.
    pub authentication: Authentication,
    /// Custom routes: `wasi:http` components mounted at `/ext/<plugin>/`.
    pub routes: Vec<Route>,
}

impl App {
    /// The component a step runs.
    pub fn component(&self, id: ComponentId) -> &Component {
        &self.components[id.0]
    }

    /// Looks a component up by name.
    pub fn component_named(&self, name: &str) -> Option<(ComponentId, &Component)> {
        self.components
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
            .map(|(i, c)| (ComponentId(i), c))
    }
}

/// Index of a component in [`App::components`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId(pub usize);

/// A Runnable: a WebAssembly component and what it may do.
#[derive(Debug, Clone)]
pub struct Component {
    /// Unique name, used by steps (`fn:`) and in logs.
    pub name: String,
    /// Absolute path of the `.wasm` component.
    pub source: PathBuf,
    /// What the component may do; everything not granted is denied.
    pub grants: Grants,
    /// Per-step resource limits.
    pub limits: Limits,
    /// Opt-in reuse of warm instances; `None`: a fresh instance for every step.
    pub reuse: Option<Reuse>,
    /// The directory of the component's source, which `karman build` builds into `source`.
    pub build: Option<PathBuf>,
    /// Where the component is declared.
    pub location: Location,
}

/// Default for `reuse.maxUses`.
pub const DEFAULT_REUSE_MAX_USES: u32 = 128;
/// Default for `reuse.idleTimeout`.
pub const DEFAULT_REUSE_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for `reuse.poolSize`.
pub const DEFAULT_REUSE_POOL_SIZE: u32 = 16;

/// How warm instances of a component are reused (`reuse:`). A reused instance keeps its memory
/// between the steps it runs: globals and heap survive, so only components written for it
/// should opt in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reuse {
    /// Runs of one instance before it is replaced by a fresh one.
    pub max_uses: u32,
    /// A warm instance unused this long is dropped.
    pub idle_timeout: Duration,
    /// Warm instances kept at most (each holds a slot of the instance pool).
    pub pool_size: u32,
}

impl Default for Reuse {
    fn default() -> Self {
        Self {
            max_uses: DEFAULT_REUSE_MAX_USES,
            idle_timeout: DEFAULT_REUSE_IDLE_TIMEOUT,
            pool_size: DEFAULT_REUSE_POOL_SIZE,
        }
    }
}

/// The capabilities a component is granted. Everything absent is denied, except `log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// Access to the cache, if granted.
    pub cache: Option<CacheGrant>,
    /// Whether `log` calls and stdout/stderr reach the host log (default: yes).
    pub log: bool,
    /// Access to SQL, if granted.
    pub sql: Option<SqlGrant>,
    /// Outbound HTTP, if granted.
    pub http: Option<OutboundGrant>,
    /// GraphQL, if granted.
    pub graphql: Option<OutboundGrant>,
}

impl Default for Grants {
    fn default() -> Self {
        Self {
            cache: None,
            log: true,
            sql: None,
            http: None,
            graphql: None,
        }
    }
}

/// A grant of the `cache` capability.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CacheGrant {
    /// The prefix the component's keys are confined to (invisible to the component);
    /// empty for the shared, unprefixed key space.
    pub prefix: String,
}

/// Per-step limits of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time a step may take, instantiation included.
    pub timeout: Duration,
    /// Bytes of linear memory an instance may use.
    pub memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            memory: DEFAULT_MEMORY,
        }
    }
}

/// A `type: request` handler: an HTTP route and the steps it runs.
#[derive(Debug, Clone)]
pub struct RequestHandler {
    /// Upper-case HTTP method.
    pub method: String,
    /// The resource pattern, e.g. `/users/:id`.
    pub resource: Resource,
    /// What runs.
    pub sequence: Sequence,
    /// Where the handler is declared.
    pub location: Location,
}

/// The steps a handler or schedule runs, over a state that starts as `state`.
#[derive(Debug, Clone)]
pub struct Sequence {
    /// The state the steps start with (`state:`), e.g. configuration such as an endpoint.
    pub state: BTreeMap<String, String>,
    /// The steps.
    pub steps: Vec<Step>,
    /// The state key whose value is the result (the response body, the reply, the message
    /// published to `respondTo`).
    pub response: String,
}

/// Where a stream handler's messages come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamSource {
    /// The in-process bus (no broker): fed by `respondTo` of other handlers.
    Bus,
    /// NATS (`connections.nats`): a queue-group subscription, or a JetStream consumer.
    Nats,
    /// A WebSocket endpoint of the HTTP server at `GET resource`.
    Server,
    /// Kafka (`connections.kafka`): a consumer group, offsets committed after success.
    Kafka,
}

impl fmt::Display for StreamSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Bus => "bus",
            Self::Nats => "nats",
            Self::Server => "server",
            Self::Kafka => "kafka",
        })
    }
}

/// A JetStream consumer: at-least-once delivery with explicit acks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamOptions {
    /// The stream (created if absent, over the handler's subject).
    pub stream: String,
    /// The durable consumer's name (shared by every Karman process of the app).
    pub durable: String,
}

/// Default for `maxDeliver`.
pub const DEFAULT_MAX_DELIVER: u32 = 5;
/// Default for `maxInFlight`.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 16;

/// `type: stream`: each message runs the steps.
#[derive(Debug, Clone)]
pub struct StreamHandler {
    /// Where the messages come from.
    pub source: StreamSource,
    /// The subject (wildcards allowed), topic, or WebSocket path.
    pub resource: String,
    /// Where the result is published (same source), if anywhere.
    pub respond_to: Option<String>,
    /// For `source: nats`: consume through JetStream.
    pub jetstream: Option<JetStreamOptions>,
    /// Deliveries of a message before it goes to `deadLetter` (JetStream).
    pub max_deliver: u32,
    /// Where a message that failed `maxDeliver` times is published.
    pub dead_letter: Option<String>,
    /// Messages run at once, at most; more wait (backpressure).
    pub max_in_flight: usize,
    /// What runs.
    pub sequence: Sequence,
    /// Where the handler is declared.
    pub location: Location,
}

/// When a schedule runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Every interval, from start-up.
    Every(Duration),
    /// At the times of a cron expression (seconds first: `0 */5 * * * *`), in UTC.
    Cron(String),
}

/// `schedules:`: steps run on a timer (`method()` is `SCHED`).
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Unique name (in logs, and as the request's url).
    pub name: String,
    /// When it runs.
    pub trigger: Trigger,
    /// What runs.
    pub sequence: Sequence,
    /// Where it is declared.
    pub location: Location,
}

/// One step of a sequence.
#[derive(Debug, Clone)]
pub enum Step {
    /// Runs one component.
    Fn(FnStep),
    /// Runs components concurrently; each sees the state as it was before the group.
    Group(Vec<FnStep>),
}

impl Step {
    /// The component calls of this step.
    pub fn calls(&self) -> &[FnStep] {
        match self {
            Step::Fn(call) => std::slice::from_ref(call),
            Step::Group(calls) => calls,
        }
    }
}

/// A call of one component in a sequence.
#[derive(Debug, Clone)]
pub struct FnStep {
    /// The component to run.
    pub component: ComponentId,
    /// The state key its output (or continued error) is stored under: `as:`, else the `fn` name.
    pub key: String,
    /// With `with:`, the step sees only these keys: view key → state key it reads.
    pub with: Option<BTreeMap<String, String>>,
    /// What a run error does to the sequence.
    pub on_err: OnErr,
    /// Where the step is declared.
    pub location: Location,
}

/// What to do when a step's `run` returns an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnErr {
    /// Actions for specific codes.
    pub codes: BTreeMap<u16, ErrAction>,
    /// The action for any other code.
    pub other: ErrAction,
}

impl Default for OnErr {
    fn default() -> Self {
        Self {
            codes: BTreeMap::new(),
            other: ErrAction::Return,
        }
    }
}

impl OnErr {
    /// The action for a run error with `code`.
    pub fn action(&self, code: u16) -> ErrAction {
        self.codes.get(&code).copied().unwrap_or(self.other)
    }
}

/// An `onErr` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrAction {
    /// End the sequence and answer with the error.
    Return,
    /// Store `{code, message}` under the step's key and go on.
    Continue,
}
