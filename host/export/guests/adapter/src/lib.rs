//! The adapter of an exported app (docs/export.md): `karman:runnable`'s capabilities served
//! inside the exported component, on standard WASI, under the grants of the plan.
//!
//! | capability | served on | what it enforces |
//! |------------|-----------|------------------|
//! | `req` | the request the sequencer set (`karman:exported/context`) | a step sees the state its `with:` gives it |
//! | `resp` | the response the sequencer reads back | the host's headers, the count and size caps |
//! | `cache` | `wasi:keyvalue/store`, bucket `""` | the grant and its prefix; TTLs |
//! | `log` | stderr, a line per call | the grant |
//! | `http` | `wasi:http/outgoing-handler` ([`http`]) | the grant's allow list, literal private addresses, the bounds |
//!
//! The rules are Karman's own ([`karman_protocol`]): a Runnable gets the same answers, refusals
//! and error texts as on the host. One instance of the adapter serves every Runnable of the
//! exported app; the sequencer tells it which component runs (`begin-step`), and the grants
//! are that component's.

mod cache;
mod http;

use std::cell::RefCell;
use std::collections::BTreeMap;

use karman_export_plan::{Grants, Plan};

#[allow(warnings)]
mod bindings {
    wit_bindgen::generate!({
        path: ["../../../../wit", "../../wit"],
        world: "karman:exported/adapter",
        generate_all,
    });
}

use bindings::exports::karman::exported::context::{self, Request, ResponseParts as Response};
use bindings::exports::karman::runnable::log::{self, Level};
use bindings::exports::karman::runnable::types::CapError;
use bindings::exports::karman::runnable::{http as outbound, req, resp};

/// What the adapter serves from: the plan (read once), the request, the running step.
struct Serving {
    plan: Option<Plan>,
    request: Option<Request>,
    component: u32,
    /// The state as the running step sees it.
    state: BTreeMap<String, Vec<u8>>,
    response: Response,
}

/// The response before any step set anything.
fn no_response() -> Response {
    Response {
        status: None,
        headers: Vec::new(),
    }
}

thread_local! {
    static SERVING: RefCell<Serving> = RefCell::new(Serving {
        plan: None,
        request: None,
        component: 0,
        state: BTreeMap::new(),
        response: no_response(),
    });
}

/// Runs `f` on what the adapter serves from.
fn serving<T>(f: impl FnOnce(&mut Serving) -> T) -> T {
    SERVING.with(|serving| f(&mut serving.borrow_mut()))
}

impl Serving {
    fn request(&self) -> &Request {
        self.request
            .as_ref()
            .expect("the sequencer begins a request before any step runs")
    }

    fn plan(&mut self) -> &Plan {
        self.plan.get_or_insert_with(|| {
            Plan::from_bytes(&bindings::karman::exported::plan::plan())
                .unwrap_or_else(|e| panic!("{e}"))
        })
    }

    /// The grants of the running step's component.
    fn grants(&mut self) -> Grants {
        let component = self.component as usize;
        self.plan().components[component].grants.clone()
    }

    /// The name of the running step's component.
    fn component_name(&mut self) -> String {
        let component = self.component as usize;
        self.plan().components[component].name.clone()
    }
}

struct Adapter;

impl context::Guest for Adapter {
    fn begin_request(request: Request) {
        serving(|serving| {
            serving.request = Some(request);
            serving.state.clear();
            serving.response = no_response();
        });
    }

    fn begin_step(component: u32, state: Vec<(String, Vec<u8>)>) {
        serving(|serving| {
            serving.component = component;
            serving.state = state.into_iter().collect();
        });
    }

    fn response() -> Response {
        serving(|serving| serving.response.clone())
    }
}

impl req::Guest for Adapter {
    fn method() -> String {
        serving(|s| s.request().method.clone())
    }

    fn url() -> String {
        serving(|s| s.request().url.clone())
    }

    fn id() -> String {
        serving(|s| s.request().id.clone())
    }

    fn body() -> Vec<u8> {
        serving(|s| s.request().body.clone())
    }

    fn header(name: String) -> Option<String> {
        serving(|s| karman_protocol::header(&s.request().headers, &name))
    }

    fn headers() -> Vec<(String, String)> {
        serving(|s| s.request().headers.clone())
    }

    fn url_param(name: String) -> Option<String> {
        serving(|s| karman_protocol::url_param(&s.request().params, &name))
    }

    fn query_param(name: String) -> Option<String> {
        serving(|s| karman_protocol::query_param(&s.request().url, &name))
    }

    fn state(key: String) -> Option<Vec<u8>> {
        serving(|s| s.state.get(&key).cloned())
    }

    fn state_keys() -> Vec<String> {
        serving(|s| s.state.keys().cloned().collect())
    }

    fn body_field(name: String) -> Option<String> {
        serving(|s| karman_protocol::body_field(&s.request().body, &name))
    }
}

/// A refusal of `resp` or `http`, as the `cap-error` the guest gets.
pub(crate) fn cap_error(refusal: karman_protocol::Refusal) -> CapError {
    match refusal {
        karman_protocol::Refusal::Invalid(text) => CapError::Invalid(text),
        karman_protocol::Refusal::Denied(text) => CapError::Denied(text),
    }
}

impl resp::Guest for Adapter {
    fn set_header(name: String, value: String) -> Result<(), CapError> {
        let (name, value) = karman_protocol::response_header(&name, &value).map_err(cap_error)?;
        let value = value.to_str().expect("a checked value is text").to_string();
        serving(|s| {
            let headers = &mut s.response.headers;
            headers.retain(|(existing, _)| existing != name.as_str());
            let existing = headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
            // Past a cap the run ends, as on the host: here the whole component traps.
            if let Err(exceeded) =
                karman_protocol::fits_response_headers(existing, name.as_str(), value.as_bytes())
            {
                panic!("{exceeded}");
            }
            headers.push((name.as_str().to_string(), value));
        });
        Ok(())
    }

    fn set_status(code: u16) -> Result<(), CapError> {
        let code = karman_protocol::response_status(code).map_err(cap_error)?;
        serving(|s| s.response.status = Some(code));
        Ok(())
    }
}

impl log::Guest for Adapter {
    fn log(level: Level, message: String) {
        let (granted, component, id) =
            serving(|s| (s.grants().log, s.component_name(), s.request().id.clone()));
        if granted {
            let level = match level {
                Level::Trace => "TRACE",
                Level::Debug => "DEBUG",
                Level::Info => "INFO",
                Level::Warn => "WARN",
                Level::Error => "ERROR",
            };
            let message = karman_protocol::escape_controls(&message);
            eprintln!("{level} {component} request_id={id}: {message}");
        }
    }
}

impl outbound::Guest for Adapter {
    fn send(request: outbound::Request) -> Result<outbound::Response, CapError> {
        let grant = serving(|s| s.grants().http);
        http::send(grant, request)
    }
}

bindings::export!(Adapter with_types_in bindings);
