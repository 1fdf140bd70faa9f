//! The Karman runtime: runs the steps of a Directive's handlers on wasmtime.
//!
//! [`Runtime::load`] turns a validated [`App`] into something ready to serve: every component
//! compiled (or loaded from the on-disk cache), checked against what Karman provides and what
//! the Directive grants, and prepared for instantiation; every handler resolved into a plan.
//! [`Runtime::run_handler`] then runs one handler for one [`Request`], each step on a fresh
//! instance with its timeout and memory limit.
//!
//! # Examples
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use karman_runtime::{Request, Runtime, RuntimeConfig};
//!
//! let app = karman_directive::load("examples/hello/Directive.yaml".as_ref())?;
//! let runtime = Runtime::load(app, RuntimeConfig::default())?;
//! let request = Request { method: "GET".into(), url: "/hello/ada".into(), ..Request::default() };
//! let reply = runtime.run_handler(0, request).await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod backends;
mod bindings;
mod capabilities;
mod component;
mod engine;
mod guest_task;
pub mod health;
mod instance;
pub mod lazy_timeout;
mod links;
mod memory_budget;
mod metrics;
mod proxy;
mod request;
mod run_limits;
mod sequence;
mod sharded_histogram;
mod store;
pub mod trace_context;
mod warm;
pub mod wit;

use std::sync::Arc;

use karman_directive::{App, ComponentId, Sequence};
use wasmtime::component::Linker;

pub use backends::{Backends, ConnectError};
pub use capabilities::cache::{CacheBackend, CacheError, memory::MemoryCache};
pub use capabilities::http::Outbound;
pub use capabilities::principal::Principal;
pub use capabilities::request::{MAX_RESPONSE_HEADER_BYTES, MAX_RESPONSE_HEADERS};
pub use capabilities::sql::{SqlBackend, SqlError};
pub use component::{ComponentError, ComponentReport};
pub use engine::{
    DEFAULT_MAX_INSTANCES, EPOCH_TICK, EngineConfig, KarmanEngine, default_cache_dir,
};
pub use instance::MAX_GUEST_RESOURCES;
pub use memory_budget::{
    MemoryBudget, MemoryBudgetExhausted, Reservation, default_guest_memory_budget,
};
pub use metrics::RuntimeMetrics;

/// The `tracing` target of the spans that become OpenTelemetry spans (a step, inside the span of
/// its request, message or scheduled run); the server exports them when traces are on.
pub const TRACE_TARGET: &str = "karman::trace";
pub use proxy::{HttpBody, HttpBodyError, HttpCall};
pub use request::{Failure, FailureKind, Reply, Request, header_list, new_id};
pub use run_limits::{DEFAULT_MAX_STATE, DEFAULT_MAX_STEP_OUTPUT, RunLimits};
pub use sharded_histogram::ShardedHistogram;

use sequence::Plan;

/// Settings of the runtime.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Compiled-code cache and pool size. `max_memory` is raised to the app's largest limit.
    pub engine: EngineConfig,
    /// The backends behind the capabilities (see [`Backends::connect`]).
    pub backends: Backends,
    /// Caps on a step's output and a run's state.
    pub run_limits: RunLimits,
    /// Where steps and instantiations are counted (shared by the apps a reload replaces).
    pub metrics: RuntimeMetrics,
}

/// Why an app cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The engine could not be set up.
    #[error("{0:#}")]
    Engine(anyhow::Error),
    /// Some components cannot be used; each error names one.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Components(Vec<ComponentError>),
}

/// A loaded app, ready to run its handlers.
pub struct Runtime {
    engine: KarmanEngine,
    app: Arc<App>,
    /// One plan per request handler, stream handler and schedule, in Directive order.
    plans: Vec<Plan>,
    stream_plans: Vec<Plan>,
    schedule_plans: Vec<Plan>,
    reports: Vec<ComponentReport>,
    health: Arc<health::BackendHealth>,
    /// The backends behind the capabilities (kept for a reload, which may reuse them).
    backends: Backends,
    /// Every component, in Directive order (routes call `wasi:http` ones directly).
    components: Vec<Arc<component::LoadedComponent>>,
    run_limits: RunLimits,
}

impl Runtime {
    /// Compiles and prepares every component of `app`. This is CPU-heavy on a cold cache:
    /// from async code, call it on a blocking thread.
    pub fn load(app: App, mut config: RuntimeConfig) -> Result<Self, LoadError> {
        let largest = app.components.iter().map(|c| c.limits.memory).max();
        config.engine.max_memory = config.engine.max_memory.max(largest.unwrap_or(0));
        let engine = KarmanEngine::new(&config.engine).map_err(LoadError::Engine)?;
        let mut linker = Linker::new(engine.engine());
        capabilities::add_to_linker(&mut linker).map_err(|e| {
            LoadError::Engine(anyhow::Error::from(e).context("cannot set up the linker"))
        })?;

        // The static directory, canonical (the Directive gives it canonical already; a path
        // that no longer resolves leaves every file `not-found`).
        let static_root: Option<Arc<std::path::Path>> = app.static_dir.as_deref().map(|dir| {
            std::fs::canonicalize(dir)
                .unwrap_or_else(|_| dir.to_path_buf())
                .into()
        });
        // Exporters load before their importers (the Directive refuses cycles); results and
        // errors go back to Directive order.
        let mut compiled: Vec<Option<_>> = component::compile_all(engine.engine(), &app.components)
            .into_iter()
            .map(Some)
            .collect();
        let mut slots: Vec<Option<Arc<component::LoadedComponent>>> =
            (0..app.components.len()).map(|_| None).collect();
        let mut report_slots: Vec<Option<ComponentReport>> =
            (0..app.components.len()).map(|_| None).collect();
        let mut errors: Vec<(usize, ComponentError)> = Vec::new();
        let exporters: std::collections::BTreeSet<&str> = app
            .components
            .iter()
            .flat_map(|c| c.imports.iter().map(|link| link.from.as_str()))
            .collect();
        let context = component::LoadContext {
            karman: &engine,
            linker: &linker,
            backends: &config.backends,
            queries: &app.queries,
            static_root: static_root.as_ref(),
            metrics: &config.metrics,
        };
        for index in load_order(&app) {
            let spec = &app.components[index];
            let compiled = match compiled[index].take().expect("each component loads once") {
                Ok(compiled) => compiled,
                Err(error) => {
                    errors.push((index, error));
                    continue;
                }
            };
            let mut imports = Vec::with_capacity(spec.imports.len());
            for link in &spec.imports {
                let exporter = app
                    .components
                    .iter()
                    .position(|c| c.name == link.from)
                    .and_then(|i| slots[i].clone());
                match exporter {
                    Some(exporter) => imports.push((link, exporter)),
                    None => errors.push((
                        index,
                        ComponentError {
                            name: spec.name.clone(),
                            location: link.location.clone(),
                            message: format!(
                                "imports `{}` from `{}`, which could not be loaded",
                                link.interface, link.from
                            ),
                        },
                    )),
                }
            }
            if imports.len() < spec.imports.len() {
                continue;
            }
            let links = component::LoadLinks {
                imports,
                exporter: exporters.contains(spec.name.as_str()),
            };
            match component::load(&context, compiled, links) {
                Ok((component, report)) => {
                    for warning in &report.warnings {
                        tracing::warn!(component = %report.name, "{warning}");
                    }
                    slots[index] = Some(Arc::new(component));
                    report_slots[index] = Some(report);
                }
                Err(error) => errors.push((index, error)),
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|(index, _)| *index);
            return Err(LoadError::Components(
                errors.into_iter().map(|(_, error)| error).collect(),
            ));
        }
        let loaded: Vec<Arc<component::LoadedComponent>> = slots.into_iter().flatten().collect();
        let reports: Vec<ComponentReport> = report_slots.into_iter().flatten().collect();
        let errors = check_roles(&app, &loaded);
        if !errors.is_empty() {
            return Err(LoadError::Components(errors));
        }

        let plan = |sequence: &Sequence| Plan::new(sequence, &loaded);
        let plans = app.handlers.iter().map(|h| plan(&h.sequence)).collect();
        let stream_plans = app.streams.iter().map(|h| plan(&h.sequence)).collect();
        let schedule_plans = app.schedules.iter().map(|s| plan(&s.sequence)).collect();

        Ok(Self {
            engine,
            app: Arc::new(app),
            plans,
            stream_plans,
            schedule_plans,
            reports,
            health: config.backends.health.clone(),
            backends: config.backends,
            components: loaded,
            run_limits: config.run_limits,
        })
    }

    /// The app this runtime serves.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// What loading found out about each component, in Directive order.
    pub fn reports(&self) -> &[ComponentReport] {
        &self.reports
    }

    /// Whether each backend is connected (for `/health`).
    pub fn health(&self) -> &health::BackendHealth {
        &self.health
    }

    /// The backends behind the capabilities.
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// The engine (for its compiled-code cache statistics).
    pub fn engine(&self) -> &KarmanEngine {
        &self.engine
    }

    /// Runs the handler at `index` (in [`App::handlers`]) for `request`.
    ///
    /// # Panics
    ///
    /// If `index` is not a handler of the app.
    pub async fn run_handler(&self, index: usize, request: Request) -> Result<Reply, Failure> {
        sequence::run(&self.plans[index], Arc::new(request), self.run_limits).await
    }

    /// Runs the Runnable `component` alone, as a handler of one step would (headless mode,
    /// `POST /_run/<component>`): its output is stored under its name and returned, its run
    /// error becomes the status, and `state` is what `req.state` reads.
    ///
    /// # Panics
    ///
    /// If `component` is not a component of the app.
    pub async fn run_component(
        &self,
        component: ComponentId,
        request: Request,
        state: std::collections::BTreeMap<String, bytes::Bytes>,
    ) -> Result<Reply, Failure> {
        let plan = Plan::single(
            &self.app.components[component.0].name,
            &self.components[component.0],
            state,
        );
        sequence::run(&plan, Arc::new(request), self.run_limits).await
    }

    /// Whether `component` is a Runnable (exports `run`), rather than a `wasi:http` component.
    ///
    /// # Panics
    ///
    /// If `component` is not a component of the app.
    pub fn is_runnable(&self, component: ComponentId) -> bool {
        !matches!(
            self.components[component.0].entry,
            component::Entry::Http(_)
        )
    }

    /// Runs the stream handler at `index` (in [`App::streams`]) for a message.
    ///
    /// # Panics
    ///
    /// If `index` is not a stream handler of the app.
    pub async fn run_stream(&self, index: usize, message: Request) -> Result<Reply, Failure> {
        sequence::run(
            &self.stream_plans[index],
            Arc::new(message),
            self.run_limits,
        )
        .await
    }

    /// The longest a run of the stream handler at `index` can take: the sum of its steps'
    /// timeouts (a group counts its slowest member).
    ///
    /// # Panics
    ///
    /// If `index` is not a stream handler of the app.
    pub fn stream_timeout(&self, index: usize) -> std::time::Duration {
        self.stream_plans[index].longest_run()
    }

    /// Serves one request with the `wasi:http` component `component` (a custom route, or
    /// `karman serve component.wasm`): a fresh instance runs its `incoming-handler`. The
    /// response body streams from the instance.
    ///
    /// # Panics
    ///
    /// If `component` is not a component of the app.
    pub async fn serve_http(
        &self,
        component: ComponentId,
        request: http::Request<HttpBody>,
        call: HttpCall,
    ) -> Result<http::Response<HttpBody>, Failure> {
        proxy::serve(&self.components[component.0], request, call).await
    }

    /// The longest a run of the schedule at `index` can take (as [`Self::stream_timeout`]).
    ///
    /// # Panics
    ///
    /// If `index` is not a schedule of the app.
    pub fn schedule_timeout(&self, index: usize) -> std::time::Duration {
        self.schedule_plans[index].longest_run()
    }

    /// Runs the schedule at `index` (in [`App::schedules`]).
    ///
    /// # Panics
    ///
    /// If `index` is not a schedule of the app.
    pub async fn run_schedule(&self, index: usize, run: Request) -> Result<Reply, Failure> {
        sequence::run(&self.schedule_plans[index], Arc::new(run), self.run_limits).await
    }
}

/// Steps must run Runnables, routes must be served by `wasi:http` components; a `wasi:http`
/// component no route uses is loaded for nothing (a warning).
/// The indexes of `app`'s components, each exporter before the components that import from
/// it (depth first, in Directive order otherwise). The Directive refuses cycles; a cycle here
/// would only repeat nothing, as each component is placed once.
fn load_order(app: &App) -> Vec<usize> {
    fn place(index: usize, app: &App, placed: &mut Vec<bool>, order: &mut Vec<usize>) {
        if placed[index] {
            return;
        }
        placed[index] = true;
        for link in &app.components[index].imports {
            if let Some(exporter) = app.components.iter().position(|c| c.name == link.from) {
                place(exporter, app, placed, order);
            }
        }
        order.push(index);
    }
    let mut placed = vec![false; app.components.len()];
    let mut order = Vec::with_capacity(app.components.len());
    for index in 0..app.components.len() {
        place(index, app, &mut placed, &mut order);
    }
    order
}

fn check_roles(app: &App, loaded: &[Arc<component::LoadedComponent>]) -> Vec<ComponentError> {
    let mut errors = Vec::new();
    let serves_http = |id: ComponentId| matches!(loaded[id.0].entry, component::Entry::Http(_));
    let exports_only = |id: ComponentId| matches!(loaded[id.0].entry, component::Entry::Library(_));
    let sequences = app
        .handlers
        .iter()
        .map(|h| &h.sequence)
        .chain(app.streams.iter().map(|h| &h.sequence))
        .chain(app.schedules.iter().map(|s| &s.sequence));
    for sequence in sequences {
        for call in sequence.steps.iter().flat_map(|step| step.calls()) {
            if exports_only(call.component) {
                let spec = app.component(call.component);
                errors.push(ComponentError {
                    name: spec.name.clone(),
                    location: call.location.clone(),
                    message: "this step runs a component that exports only interfaces other \
                              components import (no `run`): a step needs a Runnable"
                        .into(),
                });
            } else if serves_http(call.component) {
                let spec = app.component(call.component);
                errors.push(ComponentError {
                    name: spec.name.clone(),
                    location: call.location.clone(),
                    message: "this step runs a wasi:http component (it exports \
                              `wasi:http/incoming-handler`, not `run`): serve it under `routes:`"
                        .into(),
                });
            }
        }
    }
    for route in &app.routes {
        if !serves_http(route.component) {
            let spec = app.component(route.component);
            errors.push(ComponentError {
                name: spec.name.clone(),
                location: route.location.clone(),
                message: format!(
                    "plugin `{}` needs a component that exports `wasi:http/incoming-handler`; \
                     this one {}",
                    route.plugin,
                    if exports_only(route.component) {
                        "exports only interfaces other components import"
                    } else {
                        "is a Runnable (it exports `run`)"
                    }
                ),
            });
        }
    }
    for (index, spec) in app.components.iter().enumerate() {
        let id = ComponentId(index);
        if serves_http(id) && !app.routes.iter().any(|r| r.component == id) {
            tracing::warn!(component = %spec.name, "a wasi:http component that no route serves");
        }
    }
    errors
}
