//! In-process cost of running handlers, without HTTP: a one-step hello (instantiate + run +
//! drop of a trivial Runnable), and a three-step sequence of it, on the same runtime.
//!
//! Needs the guests: `scripts/build-guests`, then `cargo bench -p karman-bench --bench steps`.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use karman_directive::ParseOptions;
use karman_runtime::{Request, Runtime, RuntimeConfig};
// Karman's allocator, as every bench target has it.
use karman_bench as _;

fn hello_wasm() -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/guest/hello.wasm");
    assert!(
        path.exists(),
        "build the guests first: scripts/build-guests"
    );
    path
}

fn runtime() -> Runtime {
    let yaml = format!(
        r#"
identifier: bench.steps
appVersion: v1
components:
  - {{ name: hello, source: {} }}
handlers:
  - {{ type: request, method: GET, resource: /one/:name, steps: [ {{ fn: hello }} ] }}
  - type: request
    method: GET
    resource: /three/:name
    steps: [ {{ fn: hello }}, {{ fn: hello, as: again }}, {{ fn: hello, as: third }} ]
"#,
        hello_wasm().display()
    );
    let app = karman_directive::parse(&yaml, &ParseOptions::new("bench.yaml", ".")).unwrap();
    Runtime::load(app, RuntimeConfig::default()).unwrap()
}

fn request(url: &str) -> Request {
    Request {
        method: "GET".into(),
        url: url.into(),
        id: "bench".into(),
        params: vec![("name".into(), "bench".into())],
        ..Request::default()
    }
}

fn steps(c: &mut Criterion) {
    let runtime = runtime();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("handler");
    group.bench_function("hello, 1 step (instantiate + run + drop)", |b| {
        b.iter(|| {
            tokio
                .block_on(runtime.run_handler(0, request("/one/bench")))
                .unwrap()
        })
    });
    group.bench_function("hello, 3 steps", |b| {
        b.iter(|| {
            tokio
                .block_on(runtime.run_handler(1, request("/three/bench")))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, steps);
criterion_main!(benches);
