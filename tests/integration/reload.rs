//! Reloading a served app in place: requests in flight finish on the app they started on, new
//! ones go to the new app, nothing fails in between, and a reload that cannot load leaves the
//! app before it serving. In process (the app handed over directly) and through the binary
//! (SIGHUP after the Directive file changed).

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::support::{Binary, app, client, eventually, expand, start};

/// An app whose `GET /version` sleeps `?ms=` (in the `slow` component), then answers `version`,
/// and whose `GET /cache` sets and reads the cache.
fn versioned(version: &str) -> String {
    format!(
        r#"
identifier: com.example.reload
appVersion: {version}
components:
  - name: slow
    source: guest(slow)
  - name: cache-user
    source: guest(cache-user)
    capabilities: {{ cache: true }}
handlers:
  - type: request
    method: GET
    resource: /version
    state: {{ version: {version} }}
    steps:
      - fn: slow
    response: version
  - type: request
    method: GET
    resource: /cache
    steps:
      - fn: cache-user
"#
    )
}

async fn text(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_lets_requests_in_flight_finish_on_the_old_app_and_sends_new_ones_to_the_new() {
    let running = start(app(&versioned("v1"))).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (reload, reloads) = mpsc::channel(1);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(running.serve_with_reloads(
        listener,
        async {
            let _ = stopped.await;
        },
        reloads,
    ));
    let client = client();
    assert_eq!(
        text(&client, &format!("{base}/version?ms=0")).await,
        (200, "v1".to_string())
    );
    assert_eq!(
        text(&client, &format!("{base}/cache?op=set&key=kept&value=yes"))
            .await
            .0,
        200
    );

    // A request that is still running when the new app takes over.
    let slow = tokio::spawn({
        let (client, url) = (client.clone(), format!("{base}/version?ms=3000"));
        async move { text(&client, &url).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    reload.send(app(&versioned("v2"))).await.unwrap();
    let started = Instant::now();
    eventually("the new app to answer", Duration::from_secs(20), || {
        let (client, url) = (client.clone(), format!("{base}/version?ms=0"));
        async move {
            let answer = text(&client, &url).await;
            assert_eq!(
                answer.0, 200,
                "no request fails during a reload: {answer:?}"
            );
            (answer.1 == "v2").then_some(())
        }
    })
    .await;
    assert!(
        !slow.is_finished(),
        "the new app took over while the slow request ran (after {:?})",
        started.elapsed()
    );
    assert_eq!(slow.await.unwrap(), (200, "v1".to_string()));
    // The in-memory cache is the same backend: its entries survive the reload.
    assert_eq!(
        text(&client, &format!("{base}/cache?op=get&key=kept")).await,
        (200, "yes".to_string())
    );

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn sighup_reloads_the_directive_and_an_invalid_one_leaves_the_app_serving() {
    let mut binary = Binary::serve(&versioned("v1"));
    let directive = binary.directive().to_path_buf();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = client();
    let base = binary.url("");
    let get = |path: &str| runtime.block_on(text(&client, &format!("{base}{path}")));
    assert_eq!(get("/version?ms=0"), (200, "v1".to_string()));

    // An invalid Directive: the error names the place; the app before it keeps serving.
    std::fs::write(
        &directive,
        expand(&versioned("v2")).replace("fn: slow", "fn: missing"),
    )
    .unwrap();
    binary.hangup();
    let failures = binary.wait_for_log(Duration::from_secs(20), |entry| {
        entry["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("reload failed"))
    });
    let message = failures["fields"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{}:", directive.display()))
            && message.contains("step runs `missing`, which is not a declared component"),
        "{message}"
    );
    assert_eq!(get("/version?ms=0"), (200, "v1".to_string()));

    // Fixed: the next SIGHUP reloads, while a slow request finishes on the old app.
    std::fs::write(&directive, expand(&versioned("v2"))).unwrap();
    let slow = runtime.spawn({
        let (client, url) = (client.clone(), binary.url("/version?ms=3000"));
        async move { text(&client, &url).await }
    });
    std::thread::sleep(Duration::from_millis(300));
    binary.hangup();
    binary.wait_for_log(Duration::from_secs(20), |entry| {
        entry["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("reloaded"))
    });
    assert_eq!(get("/version?ms=0"), (200, "v2".to_string()));
    assert!(
        !slow.is_finished(),
        "the slow request ended before the reload"
    );
    assert_eq!(runtime.block_on(slow).unwrap(), (200, "v1".to_string()));
    assert!(binary.is_running());
}
