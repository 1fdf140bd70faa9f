//! Components: the code a step or route runs, its per-step limits and the reuse of warm
//! instances.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Location;
use crate::model::grants::Grants;

/// Default for `limits.timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest accepted `limits.timeout`.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Default for `limits.memory`.
pub const DEFAULT_MEMORY: u64 = 64 << 20;
/// Largest accepted `limits.memory` (a 32-bit linear memory cannot be larger).
pub const MAX_MEMORY: u64 = 4 << 30;

/// Index of a component in [`App::components`](crate::App::components).
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
    /// The values the component reads through `wasi:config/store`, in the Directive's order.
    pub config: Vec<(String, String)>,
    /// The interfaces it imports from other components of the app (`imports:`).
    pub imports: Vec<ComponentLink>,
    /// The directory of the component's source, which `karman build` builds into `source`.
    pub build: Option<PathBuf>,
    /// Where the component is declared.
    pub location: Location,
}

/// An interface a component imports from another component of the app: `imports:
/// { "acme:pricing/calc": pricing }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentLink {
    /// The interface, `namespace:package/interface`, with `@version` when the Directive gives
    /// one (then only that version links).
    pub interface: String,
    /// The component that exports it.
    pub from: String,
    /// Where the link is declared.
    pub location: Location,
}

impl ComponentLink {
    /// Whether an import or export name (`acme:pricing/calc@0.1.0`) is this link's interface:
    /// the same name, and the same version when the link gives one.
    pub fn names(&self, name: &str) -> bool {
        match self.interface.split_once('@') {
            Some(_) => name == self.interface,
            None => name.split('@').next() == Some(self.interface.as_str()),
        }
    }
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
