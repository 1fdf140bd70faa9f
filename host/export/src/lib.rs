//! `karman export`: a Directive app as one `wasi:http/proxy` component (docs/export.md).
//!
//! The exported component is a composition ([`wac_graph`]) of:
//!
//! - the app's Runnables, each instantiated once per request (`wasmtime serve` and
//!   `karman serve` make a fresh instance of the whole component for every request);
//! - the adapter, which serves the `karman:runnable` capabilities they import (`req`, `resp`,
//!   `cache` on `wasi:keyvalue`, `log` on stderr) under each component's grants;
//! - the sequencer, which exports `wasi:http/incoming-handler`, routes a request with Karman's
//!   router and runs the handler's steps as Karman runs them, calling each Runnable's `run`
//!   through a slot;
//! - the plan: the handlers and the grants, the one part made for the app.
//!
//! The sequencer and the adapter are prebuilt guests shipped inside this crate
//! ([`prebuilt`]). What an export cannot serve is refused before anything is written, each
//! refusal naming the component or the Directive line ([`Refusal`]).
//!
//! ```no_run
//! # fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let app = karman_directive::load("examples/hello/Directive.yaml".as_ref())?;
//! let exported = karman_export::export(&app).map_err(|refusals| refusals[0].to_string())?;
//! std::fs::write("hello.wasm", &exported.component)?;
//! for note in &exported.notes {
//!     eprintln!("note: {note}");
//! }
//! # Ok(()) }
//! ```

mod compose;
mod imports;
mod plan;
mod plan_component;
pub mod prebuilt;

use std::fmt;

use karman_directive::App;

pub use plan::plan_of;
pub use plan_component::PLAN_WIT;

/// An exported app.
pub struct Exported {
    /// The `wasi:http/proxy` component.
    pub component: Vec<u8>,
    /// What the export left out of the app (stream handlers, schedules, …).
    pub notes: Vec<String>,
}

/// Why (part of) an app cannot be exported, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `file:line:column` in the Directive, when the refusal is about a line of it.
    pub location: Option<String>,
    pub message: String,
}

impl Refusal {
    pub(crate) fn new(location: Option<String>, message: impl Into<String>) -> Self {
        Self {
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(location) => write!(f, "{location}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Refusal {}

/// Exports `app`: every refusal at once when it cannot be.
pub fn export(app: &App) -> Result<Exported, Vec<Refusal>> {
    let (plan, notes) = plan_of(app)?;
    let mut refusals = Vec::new();
    let mut runnables = Vec::new();
    for component in &app.components {
        let location = Some(component.location.to_string());
        let bytes = match std::fs::read(&component.source) {
            Ok(bytes) => bytes,
            Err(e) => {
                refusals.push(Refusal::new(
                    location,
                    format!(
                        "component `{}`: cannot read {}: {e}",
                        component.name,
                        component.source.display()
                    ),
                ));
                continue;
            }
        };
        match imports::import_names(&bytes) {
            Err(e) => refusals.push(Refusal::new(
                location,
                format!(
                    "component `{}` ({}) cannot be read: {e}",
                    component.name,
                    component.source.display()
                ),
            )),
            Ok(names) => {
                for name in names {
                    if let Some(why) = imports::unserved(&name) {
                        refusals.push(Refusal::new(
                            location.clone(),
                            format!(
                                "component `{}` imports `{name}`, which an exported app cannot \
                                 serve: {why}",
                                component.name
                            ),
                        ));
                    }
                }
            }
        }
        runnables.push((component.name.clone(), bytes));
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let plan_component = plan_component::plan_component(&plan.to_bytes())
        .map_err(|e| vec![Refusal::new(None, e)])?;
    let component = compose::compose(&compose::Parts {
        plan: &plan_component,
        adapter: prebuilt::ADAPTER,
        sequencer: prebuilt::SEQUENCER,
        runnables: &runnables,
    })
    .map_err(|e| vec![Refusal::new(None, e)])?;
    Ok(Exported { component, notes })
}

#[cfg(test)]
mod tests;
