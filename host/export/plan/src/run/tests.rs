use std::collections::BTreeMap;

use super::*;
use crate::{Component, Grants, Limits, OnErr, Retry};

/// A component of the fake: its output from the state it sees and its input.
type FakeComponent = Box<dyn FnMut(&[(String, Vec<u8>)], &[u8]) -> Result<Vec<u8>, RunError>>;

/// Components as functions of (state, input); every call and wait recorded.
struct Fake {
    components: Vec<FakeComponent>,
    calls: Vec<(u32, Vec<String>)>,
    waits: Vec<u64>,
    elapsed: u64,
}

impl Steps for Fake {
    fn call(
        &mut self,
        component: u32,
        state: Vec<(String, Vec<u8>)>,
        input: &[u8],
    ) -> Result<Vec<u8>, RunError> {
        self.calls
            .push((component, state.iter().map(|(k, _)| k.clone()).collect()));
        (self.components[component as usize])(&state, input)
    }
    fn elapsed_ms(&mut self) -> u64 {
        self.elapsed
    }
    fn wait_ms(&mut self, ms: u64) {
        self.waits.push(ms);
        self.elapsed += ms;
    }
    fn random(&mut self) -> u64 {
        u64::MAX
    }
}

fn plan(components: usize) -> Plan {
    Plan {
        components: (0..components)
            .map(|i| Component {
                name: format!("c{i}"),
                grants: Grants::default(),
                timeout_ms: 1000,
            })
            .collect(),
        handlers: vec![],
        limits: Limits::default(),
    }
}

fn handler(steps: Vec<Step>, response: &str) -> Handler {
    Handler {
        method: "GET".into(),
        resource: "/".into(),
        state: BTreeMap::from([("seed".to_string(), "s".to_string())]),
        steps,
        response: response.into(),
    }
}

fn text(state: &[(String, Vec<u8>)]) -> String {
    state
        .iter()
        .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v)))
        .collect::<Vec<_>>()
        .join(",")
}

fn fake(components: Vec<FakeComponent>) -> Fake {
    Fake {
        components,
        calls: vec![],
        waits: vec![],
        elapsed: 0,
    }
}

#[test]
fn steps_see_earlier_outputs_groups_see_the_state_before_them_and_with_renames() {
    let plan = plan(3);
    let mut with = Call::new(2, "last");
    with.with = Some(BTreeMap::from([
        ("a".to_string(), "first".to_string()),
        ("z".to_string(), "missing".to_string()),
    ]));
    let handler = handler(
        vec![
            Step::Fn(Call::new(0, "first")),
            Step::Group(vec![Call::new(1, "g1"), Call::new(1, "g2")]),
            Step::Fn(with),
        ],
        "last",
    );
    let mut steps = fake(vec![
        Box::new(|state, input| {
            Ok(format!("{}+{}", text(state), String::from_utf8_lossy(input)).into_bytes())
        }),
        Box::new(|state, _| Ok(text(state).into_bytes())),
        Box::new(|state, _| Ok(format!("[{}]", text(state)).into_bytes())),
    ]);
    let body = run(&plan, &handler, b"in", &mut steps).unwrap();
    assert_eq!(String::from_utf8(body).unwrap(), "[a=seed=s+in]");
    assert_eq!(
        steps.calls,
        [
            (0, vec!["seed".to_string()]),
            (1, vec!["first".to_string(), "seed".to_string()]),
            (1, vec!["first".to_string(), "seed".to_string()]),
            (2, vec!["a".to_string()]),
        ]
    );
}

#[test]
fn run_errors_continue_or_end_the_run_as_on_err_says() {
    let plan = plan(2);
    let mut tolerant = Call::new(0, "maybe");
    tolerant.on_err = OnErr {
        codes: BTreeMap::from([(404, true)]),
        other_continues: false,
    };
    let handler = handler(
        vec![Step::Fn(tolerant), Step::Fn(Call::new(1, "out"))],
        "out",
    );
    let failing = |code: u16| -> FakeComponent {
        Box::new(move |_, _| {
            Err(RunError {
                code,
                message: "no \"such\" thing".into(),
            })
        })
    };
    let echo_state: FakeComponent =
        Box::new(|state, _| Ok(state.iter().find(|(k, _)| k == "maybe").unwrap().1.clone()));

    let mut steps = fake(vec![failing(404), echo_state]);
    let body = run(&plan, &handler, b"", &mut steps).unwrap();
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"code":404,"message":"no \"such\" thing"}"#
    );

    let mut steps = fake(vec![failing(418), Box::new(|_, _| Ok(vec![]))]);
    assert_eq!(
        run(&plan, &handler, b"", &mut steps),
        Err(Failure {
            status: 418,
            code: 418,
            message: "no \"such\" thing".into()
        })
    );
    assert_eq!(steps.calls.len(), 1, "the run ended at the failing step");

    let mut steps = fake(vec![failing(42), Box::new(|_, _| Ok(vec![]))]);
    assert_eq!(
        run(&plan, &handler, b"", &mut steps).unwrap_err().status,
        500
    );
}

#[test]
fn retries_try_again_while_tries_and_time_are_left() {
    let plan = plan(1);
    let mut call = Call::new(0, "flaky");
    call.retry = Some(Retry {
        attempts: 3,
        backoff_ms: 100,
        on: vec![503],
    });
    let handler = handler(vec![Step::Fn(call.clone())], "flaky");
    let mut tries = 0;
    let mut steps = fake(vec![Box::new(move |_, _| {
        tries += 1;
        if tries < 3 {
            Err(RunError {
                code: 503,
                message: "busy".into(),
            })
        } else {
            Ok(b"done".to_vec())
        }
    })]);
    assert_eq!(run(&plan, &handler, b"", &mut steps).unwrap(), b"done");
    // The longest waits (the fake's random number is the largest): 100 ms, then 200 ms.
    assert_eq!(steps.waits, [100, 200]);

    // A code it does not retry ends the call at once; so does a wait past the request's time.
    let mut steps = fake(vec![Box::new(|_, _| {
        Err(RunError {
            code: 500,
            message: "no".into(),
        })
    })]);
    assert_eq!(run(&plan, &handler, b"", &mut steps).unwrap_err().code, 500);
    assert_eq!(steps.calls.len(), 1);
    let mut steps = fake(vec![Box::new(|_, _| {
        Err(RunError {
            code: 503,
            message: "busy".into(),
        })
    })]);
    steps.elapsed = plan.limits.request_timeout_ms - 50;
    assert_eq!(run(&plan, &handler, b"", &mut steps).unwrap_err().code, 503);
    assert_eq!((steps.calls.len(), steps.waits.len()), (1, 0));
}

#[test]
fn a_large_output_or_state_ends_the_run_naming_the_step_and_the_cap() {
    let mut plan = plan(1);
    plan.limits.max_step_output = 4;
    plan.limits.max_state = 6;
    let handler = handler(vec![Step::Fn(Call::new(0, "big"))], "big");
    let mut steps = fake(vec![Box::new(|_, _| Ok(b"12345".to_vec()))]);
    let failure = run(&plan, &handler, b"", &mut steps).unwrap_err();
    assert_eq!((failure.status, failure.code), (500, 500));
    assert!(
        failure
            .message
            .starts_with("step `big` returned 5 bytes; a step may return at most 4 bytes"),
        "{}",
        failure.message
    );

    // The seed is one byte: 1 + 4 + 4 bytes pass the state's cap of 6.
    let handler = super::super::Handler {
        steps: vec![Step::Fn(Call::new(0, "a")), Step::Fn(Call::new(0, "b"))],
        ..handler
    };
    let mut steps = fake(vec![Box::new(|_, _| Ok(b"1234".to_vec()))]);
    let failure = run(&plan, &handler, b"", &mut steps).unwrap_err();
    assert!(
        failure
            .message
            .starts_with("the state reached 9 bytes with the output of step `b`"),
        "{}",
        failure.message
    );
}
