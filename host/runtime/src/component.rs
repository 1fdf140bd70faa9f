//! Loading a component at start-up: compile (or fetch from the on-disk cache), check its
//! imports against what Karman provides and what the Directive grants, and prepare an
//! `InstancePre` so that each step only instantiates.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use karman_directive::{Component as ComponentSpec, ComponentLink, Limits, Location, Query};
use wasmtime::Engine;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::backends::Backends;
use crate::bindings::RunnablePre;
use crate::capabilities::cache::CacheAccess;
use crate::capabilities::config::ConfigCtx;
use crate::capabilities::file::FileAccess;
use crate::capabilities::http::OutboundAccess;
use crate::capabilities::log::ComponentLog;
use crate::capabilities::sql::SqlAccess;
use crate::engine::KarmanEngine;
use crate::links::linker_for;
use crate::memory_budget::MemoryBudget;
use crate::metrics::{ComponentSeries, RuntimeMetrics};
use crate::store::StepState;
use crate::warm::WarmPool;

/// What a component exports, prepared for instantiation.
pub(crate) enum Entry {
    /// A Runnable: `run` of the `karman:runnable/runnable` world (a step).
    Runnable(RunnablePre<StepState>),
    /// A `wasi:http` proxy: `wasi:http/incoming-handler` (a custom route, or `karman serve
    /// component.wasm`).
    Http(ProxyPre<StepState>),
    /// An exporter of interfaces other components import (see [`crate::links`]): neither a
    /// step nor a route; instantiated by its importers.
    Library(InstancePre<StepState>),
}

impl Entry {
    /// The prepared instance, whatever the component exports (an importer instantiates its
    /// exporter through it).
    pub(crate) fn instance_pre(&self) -> &InstancePre<StepState> {
        match self {
            Self::Runnable(pre) => pre.instance_pre(),
            Self::Http(pre) => pre.instance_pre(),
            Self::Library(pre) => pre,
        }
    }
}

/// A component ready to run: its prepared instance, limits and granted capabilities.
pub(crate) struct LoadedComponent {
    pub(crate) name: Arc<str>,
    pub(crate) engine: Engine,
    /// The host-wide budget its instances' memories draw from.
    pub(crate) memory_budget: Arc<MemoryBudget>,
    pub(crate) entry: Entry,
    /// The compiled component (its exports are looked up when another component links to it).
    pub(crate) component: Component,
    pub(crate) limits: Limits,
    pub(crate) cache: Option<CacheAccess>,
    /// What `wasi:config/store` answers.
    pub(crate) config: ConfigCtx,
    pub(crate) sql: Option<SqlAccess>,
    pub(crate) http: Option<OutboundAccess>,
    pub(crate) graphql: Option<OutboundAccess>,
    pub(crate) files: Option<FileAccess>,
    pub(crate) log: Arc<ComponentLog>,
    /// Warm instances, for a component with `reuse:`.
    pub(crate) warm: Option<Arc<WarmPool>>,
    /// Where its capability calls and instances are counted.
    pub(crate) metrics: RuntimeMetrics,
    /// Where its steps and instantiations are counted.
    pub(crate) series: ComponentSeries,
}

/// What loading found out about a component (printed by `karman check`).
#[derive(Debug, Clone)]
pub struct ComponentReport {
    /// The component's name.
    pub name: String,
    /// Size of the `.wasm` file in bytes.
    pub size_bytes: u64,
    /// The interfaces it imports, e.g. `karman:runnable/cache@0.1.0`.
    pub imports: Vec<String>,
    /// Problems worth knowing that do not stop the app (e.g. an import without a grant).
    pub warnings: Vec<String>,
    /// Whether it is a `wasi:http` component (exports `wasi:http/incoming-handler`) rather
    /// than a Runnable.
    pub serves_http: bool,
}

/// A component that cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{location}: component `{name}`: {message}")]
pub struct ComponentError {
    /// The component's name.
    pub name: String,
    /// Where the Directive declares it.
    pub location: Location,
    /// What is wrong.
    pub message: String,
}

/// What every component of an app loads with.
#[derive(Clone, Copy)]
pub(crate) struct LoadContext<'a> {
    pub(crate) karman: &'a KarmanEngine,
    /// Karman's interfaces (an importer's linker adds its links to a copy).
    pub(crate) linker: &'a Linker<StepState>,
    pub(crate) backends: &'a Backends,
    /// The Directive's queries (for `sql` grants).
    pub(crate) queries: &'a [Query],
    /// The app's static directory, canonical (for `files` grants).
    pub(crate) static_root: Option<&'a Arc<Path>>,
    pub(crate) metrics: &'a RuntimeMetrics,
}

/// What loading a component needs to know of the links between components.
#[derive(Default)]
pub(crate) struct LoadLinks<'a> {
    /// The interfaces it imports from other components, each with its loaded exporter.
    pub(crate) imports: Vec<(&'a ComponentLink, Arc<LoadedComponent>)>,
    /// Whether another component imports from it (then it may export neither `run` nor
    /// `wasi:http/incoming-handler`).
    pub(crate) exporter: bool,
}

/// A component compiled (or fetched from the on-disk cache), not yet linked.
pub(crate) struct Compiled<'a> {
    spec: &'a ComponentSpec,
    component: Component,
    size_bytes: u64,
}

/// Compiles every component of `specs`, several at once (one thread per core): a cold start
/// of an app of many components is bound by compilation. The results are in `specs`' order.
pub(crate) fn compile_all<'a>(
    engine: &Engine,
    specs: &'a [ComponentSpec],
) -> Vec<Result<Compiled<'a>, ComponentError>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(specs.len());
    if workers <= 1 {
        return specs.iter().map(|spec| compile(engine, spec)).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, Result<Compiled<'a>, ComponentError>)> =
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let index = next.fetch_add(1, Ordering::Relaxed);
                            let Some(spec) = specs.get(index) else {
                                return done;
                            };
                            done.push((index, compile(engine, spec)));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| worker.join().expect("a compiling thread does not panic"))
                .collect()
        });
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// Reads and compiles one component (a hit in the on-disk cache only deserializes it).
fn compile<'a>(engine: &Engine, spec: &'a ComponentSpec) -> Result<Compiled<'a>, ComponentError> {
    let fail = |message: String| component_error(spec, message);
    let bytes = std::fs::read(&spec.source)
        .map_err(|e| fail(format!("cannot read `{}`: {e}", spec.source.display())))?;
    let component = Component::new(engine, &bytes).map_err(|e| {
        fail(format!(
            "`{}` is not a valid component: {e:#}",
            spec.source.display()
        ))
    })?;
    Ok(Compiled {
        spec,
        component,
        size_bytes: bytes.len() as u64,
    })
}

fn component_error(spec: &ComponentSpec, message: String) -> ComponentError {
    ComponentError {
        name: spec.name.clone(),
        location: spec.location.clone(),
        message,
    }
}

/// Checks a compiled component's imports against its grants and prepares it to run.
pub(crate) fn load(
    context: &LoadContext<'_>,
    compiled: Compiled<'_>,
    links: LoadLinks<'_>,
) -> Result<(LoadedComponent, ComponentReport), ComponentError> {
    let LoadContext {
        karman,
        linker,
        backends,
        queries,
        static_root,
        metrics,
    } = *context;
    let engine = karman.engine();
    let Compiled {
        spec,
        component,
        size_bytes,
    } = compiled;
    let fail = |message: String| component_error(spec, message);

    let imports: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let serves_http = component
        .component_type()
        .exports(engine)
        .any(|(name, _)| name.starts_with("wasi:http/incoming-handler"));
    let mut warnings = Vec::new();
    // Capabilities imported without a grant (JavaScript and Python toolchains import every
    // interface of the world): one warning, not one per interface.
    let mut ungranted: Vec<&str> = Vec::new();
    let mut wasi_http_denied = false;
    let mut keyvalue_denied = false;
    for import in &imports {
        let interface = import.split('@').next().unwrap_or(import);
        let capability = match interface {
            "karman:runnable/cache"
            | "wasi:keyvalue/store"
            | "wasi:keyvalue/atomics"
            | "wasi:keyvalue/batch"
                if spec.grants.cache.is_none() =>
            {
                keyvalue_denied |= interface.starts_with("wasi:keyvalue/");
                Some("cache")
            }
            "karman:runnable/sql" if spec.grants.sql.is_none() => Some("sql"),
            "karman:runnable/http" if spec.grants.http.is_none() => Some("http"),
            "karman:runnable/graphql" if spec.grants.graphql.is_none() => Some("graphql"),
            "karman:runnable/file" if spec.grants.files.is_none() => Some("files"),
            "wasi:http/outgoing-handler" if spec.grants.http.is_none() => {
                wasi_http_denied = true;
                Some("http")
            }
            _ => None,
        };
        if let Some(capability) = capability
            && !ungranted.contains(&capability)
        {
            ungranted.push(capability);
        }
        if matches!(interface, "karman:runnable/log" | "wasi:logging/logging") && !spec.grants.log {
            warnings.push(format!(
                "imports `{import}` but has `log: false`: its log lines are dropped"
            ));
        }
    }
    if !ungranted.is_empty() {
        let names: Vec<String> = ungranted.iter().map(|c| format!("`{c}`")).collect();
        let mut standard = Vec::new();
        if wasi_http_denied {
            standard.push("wasi:http requests with `HTTP-request-denied`");
        }
        if keyvalue_denied {
            standard.push("wasi:keyvalue `open` with `access-denied`");
        }
        warnings.push(format!(
            "imports {} without a grant: those calls fail with `denied`{}",
            names.join(", "),
            if standard.is_empty() {
                String::new()
            } else {
                format!(" ({})", standard.join("; "))
            }
        ));
    }

    let sql = match (&spec.grants.sql, &backends.sql) {
        (Some(grant), Some(backend)) => Some(SqlAccess::new(
            backend.clone(),
            backends.sql_ready.clone(),
            grant,
            queries,
        )),
        (Some(_), None) => {
            return Err(fail(
                "it is granted `sql`, but no database is connected".into(),
            ));
        }
        (None, _) => None,
    };
    let declared: Vec<&ComponentLink> = links.imports.iter().map(|(link, _)| *link).collect();
    let linked;
    let linker = if links.imports.is_empty() {
        linker
    } else {
        linked = linker_for(engine, linker, &component, links.imports).map_err(|error| {
            ComponentError {
                name: spec.name.clone(),
                location: error.location,
                message: error.message,
            }
        })?;
        &linked
    };
    // An interface outside `wasi:` and `karman:` comes from another component, or nowhere.
    if let Some(import) = imports.iter().find(|import| {
        !import.starts_with("wasi:")
            && !import.starts_with("karman:")
            && !declared.iter().any(|link| link.names(import))
    }) {
        return Err(fail(format!(
            "imports `{import}`, which neither Karman nor another component provides; if a \
             component of the app exports it, declare `imports: {{ \"{}\": <component> }}`",
            import.split('@').next().unwrap_or(import)
        )));
    }
    let instance_pre = linker
        .instantiate_pre(&component)
        .map_err(|e| fail(format!("cannot be linked: {e:#}")))?;
    let runnable = component
        .component_type()
        .exports(engine)
        .any(|(name, _)| name == "run");
    let entry = if links.exporter && !serves_http && !runnable {
        Entry::Library(instance_pre)
    } else if serves_http {
        Entry::Http(ProxyPre::new(instance_pre).map_err(|e| {
            fail(format!(
                "exports `wasi:http/incoming-handler` but not as wasi:http 0.2 defines it ({e:#})"
            ))
        })?)
    } else {
        Entry::Runnable(RunnablePre::new(instance_pre).map_err(|e| {
            fail(format!(
                "does not export `run` of the karman:runnable/runnable world ({e:#}); \
                 build it with the Karman SDK (or export `wasi:http/incoming-handler` and \
                 serve it under `routes:`)"
            ))
        })?)
    };

    let name: Arc<str> = spec.name.as_str().into();
    let loaded =
        LoadedComponent {
            engine: engine.clone(),
            memory_budget: karman.memory_budget().clone(),
            entry,
            component,
            limits: spec.limits,
            cache: spec
                .grants
                .cache
                .as_ref()
                .map(|grant| CacheAccess::new(backends.cache.clone(), &grant.prefix)),
            config: ConfigCtx {
                values: spec.config.clone().into(),
            },
            sql,
            http: spec
                .grants
                .http
                .as_ref()
                .map(|grant| OutboundAccess::new(backends.outbound.clone(), grant, "http")),
            graphql: spec
                .grants
                .graphql
                .as_ref()
                .map(|grant| OutboundAccess::new(backends.outbound.clone(), grant, "graphql")),
            files: spec.grants.files.as_ref().map(|grant| {
                FileAccess::new(static_root.cloned(), &grant.path, spec.limits.memory)
            }),
            log: Arc::new(ComponentLog::new(name.clone(), spec.grants.log)),
            warm: spec
                .reuse
                .map(|reuse| Arc::new(WarmPool::new(reuse, metrics.warm(&name)))),
            metrics: metrics.clone(),
            series: metrics.component(&name),
            name,
        };
    let report = ComponentReport {
        name: spec.name.clone(),
        size_bytes,
        imports,
        warnings,
        serves_http,
    };
    Ok((loaded, report))
}
