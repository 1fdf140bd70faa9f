//! The sequencer of an exported app (docs/export.md): the Directive's request handlers served
//! as `wasi:http/incoming-handler`, answering as Karman does.
//!
//! For each request it picks the request id (the client's `x-request-id` when plain, else a
//! new one), routes the method and path with Karman's router, reads the body within the cap,
//! hands the request to the adapter (`karman:exported/context`), runs the handler's steps
//! ([`karman_export_plan::run`]) with each component's `run` imported as a slot, and answers
//! with the status and headers the steps set, or with Karman's JSON error.

mod http_io;

use std::cell::OnceCell;

use karman_directive::routing::{Entry, Match, Router};
use karman_directive::{Location, Resource};
use karman_export_plan::{Plan, RunError, Steps};

#[allow(warnings)]
mod bindings {
    wit_bindgen::generate!({
        path: ["../../../../wit", "../../wit"],
        world: "karman:exported/sequencer",
        generate_all,
    });
}

use bindings::exports::wasi::http::incoming_handler::Guest;
use bindings::karman::exported::context;
use bindings::karman::runnable::types::RunError as SlotError;
use bindings::wasi::clocks::monotonic_clock;
use bindings::wasi::http::types::{IncomingRequest, ResponseOutparam};
use http_io::{Answer, BodyError, RequestHead};

/// The app: its plan and the router of its handlers, made once per instance.
struct App {
    plan: Plan,
    router: Router,
}

impl App {
    fn load() -> Self {
        let plan = Plan::from_bytes(&bindings::karman::exported::plan::plan())
            .unwrap_or_else(|e| panic!("{e}"));
        let resources: Vec<Resource> = plan
            .handlers
            .iter()
            .map(|h| Resource::parse(&h.resource).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let location = Location {
            file: "Directive.yaml".into(),
            line: 1,
            column: 1,
        };
        let entries = plan
            .handlers
            .iter()
            .zip(&resources)
            .map(|(h, resource)| Entry {
                method: &h.method,
                resource,
                location: &location,
            });
        let router = Router::build(entries).unwrap_or_else(|e| panic!("{e}"));
        Self { plan, router }
    }
}

thread_local! {
    static APP: OnceCell<App> = const { OnceCell::new() };
}

struct Sequencer;

impl Guest for Sequencer {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let head = RequestHead::of(&request);
        let request_id = karman_protocol::supplied_request_id(head.header_bytes("x-request-id"))
            .map_or_else(new_request_id, str::to_string);
        let to_head = head.method == "HEAD";
        let answer = APP.with(|app| answer(app.get_or_init(App::load), head, request, &request_id));
        answer.send(response_out, &request_id, to_head);
    }
}

/// Routes and runs one request.
fn answer(app: &App, head: RequestHead, request: IncomingRequest, request_id: &str) -> Answer {
    let plan = &app.plan;
    let (index, params) = match app.router.route(&head.method, head.path()) {
        Match::Handler { index, params } => (index, params),
        Match::NotFound => {
            return Answer::error(404, 404, karman_protocol::NO_HANDLER, request_id);
        }
        Match::MethodNotAllowed { allow } => {
            let mut answer = Answer::error(
                405,
                405,
                &karman_protocol::method_not_allowed(&allow),
                request_id,
            );
            answer.headers.push(("allow".into(), allow.into_bytes()));
            return answer;
        }
    };
    let max = plan.limits.max_body_bytes;
    let body = match http_io::read_body(&head, request, max) {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            let message = karman_protocol::body_too_large(max);
            return Answer::error(413, 413, &message, request_id);
        }
        Err(BodyError::Unreadable) => {
            return Answer::error(400, 400, karman_protocol::BODY_UNREADABLE, request_id);
        }
    };
    context::begin_request(&context::Request {
        method: head.method.clone(),
        url: head.url.clone(),
        id: request_id.to_string(),
        headers: head.text_headers(),
        body: body.clone(),
        params,
    });
    let mut steps = Slots {
        started: monotonic_clock::now(),
    };
    match karman_export_plan::run(plan, &plan.handlers[index], &body, &mut steps) {
        Ok(body) => Answer::reply(context::response(), body),
        Err(failure) => {
            let mut answer =
                Answer::error(failure.status, failure.code, &failure.message, request_id);
            if let Some(seconds) = karman_protocol::failure_retry_after(failure.status) {
                answer
                    .headers
                    .push(("retry-after".into(), seconds.as_bytes().to_vec()));
            }
            answer
        }
    }
}

/// A new request id: 32 hex digits of a random (version 4) UUID, as Karman makes them.
fn new_request_id() -> String {
    let mut bytes = bindings::wasi::random::random::get_random_bytes(16);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The app's components, each imported as a slot.
struct Slots {
    started: monotonic_clock::Instant,
}

impl Steps for Slots {
    fn call(
        &mut self,
        component: u32,
        state: Vec<(String, Vec<u8>)>,
        input: &[u8],
    ) -> Result<Vec<u8>, RunError> {
        context::begin_step(component, &state);
        let slot = match component {
            0 => bindings::slot_0,
            1 => bindings::slot_1,
            2 => bindings::slot_2,
            3 => bindings::slot_3,
            4 => bindings::slot_4,
            5 => bindings::slot_5,
            6 => bindings::slot_6,
            7 => bindings::slot_7,
            8 => bindings::slot_8,
            9 => bindings::slot_9,
            10 => bindings::slot_10,
            11 => bindings::slot_11,
            12 => bindings::slot_12,
            13 => bindings::slot_13,
            14 => bindings::slot_14,
            15 => bindings::slot_15,
            _ => panic!("the plan names component {component}, past the sequencer's slots"),
        };
        slot(input).map_err(|SlotError { code, message }| RunError { code, message })
    }

    fn elapsed_ms(&mut self) -> u64 {
        monotonic_clock::now().saturating_sub(self.started) / 1_000_000
    }

    fn wait_ms(&mut self, ms: u64) {
        monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000)).block();
    }

    fn random(&mut self) -> u64 {
        bindings::wasi::random::random::get_random_u64()
    }
}

bindings::export!(Sequencer with_types_in bindings);
