//! Messages per second through a one-step NATS stream handler (the `echo` Runnable, fresh
//! instance per message, and with `reuse:`) against a raw async-nats subscribe → publish loop,
//! in one run on the same NATS server.
//!
//! ```sh
//! scripts/build-guests
//! cargo run --release -p karman-bench --bin stream-throughput          # 20000 messages
//! MESSAGES=50000 NATS_URL=127.0.0.1:4222 cargo run --release -p karman-bench --bin stream-throughput
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use karman_directive::ParseOptions;
use karman_runtime::{Backends, Runtime, RuntimeConfig};
use karman_streams::{Streams, StreamsConfig};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// Publishes `count` messages to `input` and waits for as many on `output`; messages/s.
async fn measure(client: &async_nats::Client, input: &str, output: &str, count: usize) -> f64 {
    let mut results = client.subscribe(output.to_string()).await.unwrap();
    client.flush().await.unwrap();
    let started = Instant::now();
    let publisher = {
        let (client, input) = (client.clone(), input.to_string());
        tokio::spawn(async move {
            for n in 0..count {
                client
                    .publish(input.clone(), n.to_string().into())
                    .await
                    .unwrap();
            }
            client.flush().await.unwrap();
        })
    };
    let mut received = 0;
    while received < count {
        match tokio::time::timeout(Duration::from_secs(30), results.next()).await {
            Ok(Some(_)) => received += 1,
            _ => panic!("only {received} of {count} results arrived"),
        }
    }
    publisher.await.unwrap();
    count as f64 / started.elapsed().as_secs_f64()
}

async fn karman(url: &str, prefix: &str, reuse: bool) -> Streams {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let echo = root.join("target/wasm32-wasip2/guest/echo.wasm");
    assert!(echo.exists(), "run scripts/build-guests first");
    let yaml = format!(
        r#"
identifier: bench.streams.{suffix}
appVersion: v1
connections: {{ nats: {{ serverAddress: "{url}" }} }}
components:
  - {{ name: echo, source: "{echo}", reuse: {reuse} }}
handlers:
  - {{ type: stream, source: nats, resource: {prefix}.in, respondTo: {prefix}.out, maxInFlight: 64, steps: [ {{ fn: echo }} ] }}
"#,
        suffix = prefix.replace('.', "-"),
        echo = echo.display(),
    );
    let app = karman_directive::parse(&yaml, &ParseOptions::new("bench.yaml", root)).unwrap();
    let config = RuntimeConfig {
        backends: Backends::connect(&app).await.unwrap(),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::load(app, config).unwrap();
    Streams::start(Arc::new(runtime), StreamsConfig::default())
        .await
        .unwrap()
}

#[tokio::main]
async fn main() {
    let url = env_or("NATS_URL", "127.0.0.1:4222");
    let count: usize = env_or("MESSAGES", "20000")
        .parse()
        .expect("MESSAGES is a number");
    let client = async_nats::connect(url.as_str())
        .await
        .expect("NATS is reachable");
    let run = std::process::id();

    // The baseline: subscribe → publish, no WebAssembly.
    let raw_prefix = format!("bench.{run}.raw");
    let mut raw_in = client.subscribe(format!("{raw_prefix}.in")).await.unwrap();
    let raw_out = format!("{raw_prefix}.out");
    let echo_client = client.clone();
    let raw = tokio::spawn(async move {
        while let Some(message) = raw_in.next().await {
            echo_client
                .publish(raw_out.clone(), message.payload)
                .await
                .unwrap();
        }
    });
    measure(
        &client,
        &format!("{raw_prefix}.in"),
        &format!("{raw_prefix}.out"),
        count / 10,
    )
    .await;
    let raw_rate = measure(
        &client,
        &format!("{raw_prefix}.in"),
        &format!("{raw_prefix}.out"),
        count,
    )
    .await;
    raw.abort();

    let mut rows = vec![("raw async-nats loop", raw_rate)];
    for (label, reuse) in [
        ("karman, fresh instance", false),
        ("karman, reuse: true", true),
    ] {
        let prefix = format!("bench.{run}.{}", if reuse { "reuse" } else { "fresh" });
        let streams = karman(&url, &prefix, reuse).await;
        let (input, output) = (format!("{prefix}.in"), format!("{prefix}.out"));
        measure(&client, &input, &output, count / 10).await;
        rows.push((label, measure(&client, &input, &output, count).await));
        streams.shutdown().await;
    }

    println!("{count} messages, one-step echo handler, NATS at {url}");
    println!("{:<26} {:>12}  {:>8}", "target", "msg/s", "vs raw");
    for (label, rate) in &rows {
        println!("{label:<26} {rate:>12.0}  {:>7.2}x", rate / raw_rate);
    }
}
