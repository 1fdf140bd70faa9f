//! Directive tests as data: each `ui/<case>.yaml` beside the `ui/<case>.err` text it must
//! produce (`ok-*.yaml` cases must load; their content is checked below).
//!
//! After an intended change of messages, regenerate the `.err` files with
//! `KARMAN_BLESS=1 cargo test -p karman-directive --test ui` and review the diff.

use std::path::{Path, PathBuf};
use std::time::Duration;

use karman_directive::{
    Access, App, DEFAULT_MAX_DELIVER, DEFAULT_MAX_IN_FLIGHT, DirectiveError, ErrAction,
    ParseOptions, RateLimit, RateLimits, Segment, Step, StreamSource, Trigger,
};

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

fn test_env(name: &str) -> Option<String> {
    match name {
        "APP_VERSION" => Some("v2.0.0".to_string()),
        "JWT_SECRET" => Some("a-test-secret-of-at-least-32-bytes!".to_string()),
        "DATABASE_URL" => Some("postgres://app@db.internal:5432/notes".to_string()),
        _ => None,
    }
}

fn parse_case(name: &str) -> Result<App, DirectiveError> {
    let file = format!("{name}.yaml");
    let text = std::fs::read_to_string(ui_dir().join(&file)).unwrap();
    let options = ParseOptions {
        file_name: file,
        base_dir: ui_dir(),
        env: &test_env,
        unbuilt_sources: false,
        unset_env: karman_directive::UnsetEnv::Error,
    };
    karman_directive::parse(&text, &options)
}

#[test]
fn error_cases_report_what_their_err_file_says() {
    let bless = std::env::var_os("KARMAN_BLESS").is_some();
    let mut cases = 0;
    let mut mismatches = Vec::new();
    for entry in std::fs::read_dir(ui_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.extension().is_none_or(|e| e != "yaml") || name.starts_with("ok-") {
            continue;
        }
        cases += 1;
        let actual = match parse_case(&name) {
            Ok(_) => "(loaded without errors)\n".to_string(),
            Err(error) => format!("{error}\n"),
        };
        let expected_path = path.with_extension("err");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            mismatches.push(format!(
                "--- {name}.err (expected)\n{expected}+++ actual\n{actual}"
            ));
        }
    }
    assert!(cases >= 20, "only {cases} cases found");
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}

#[test]
fn a_full_directive_resolves_every_key() {
    let app = parse_case("ok-full").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(app.identifier, "com.example.full");
    assert_eq!(app.app_version, "v2.0.0", "env(APP_VERSION) is substituted");

    let get_user = &app.components[0];
    assert_eq!(get_user.grants.cache.as_ref().unwrap().prefix, "users:");
    assert!(!get_user.grants.log);
    assert_eq!(get_user.limits.timeout, Duration::from_secs(2));
    assert_eq!(get_user.limits.memory, 16 << 20);
    assert!(get_user.source.is_absolute() || get_user.source.starts_with(ui_dir()));
    let enrich = &app.components[1];
    assert_eq!(enrich.grants.cache.as_ref().unwrap().prefix, "");
    assert_eq!(enrich.reuse, Some(karman_directive::Reuse::default()));
    assert_eq!(get_user.reuse, None, "a fresh instance per step by default");
    let render_component = &app.components[3];
    let reuse = render_component.reuse.unwrap();
    assert_eq!(
        (reuse.max_uses, reuse.idle_timeout, reuse.pool_size),
        (50, Duration::from_secs(10), 4)
    );
    let config: Vec<(&str, &str)> = render_component
        .config
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    assert_eq!(
        config,
        [("theme", "dark"), ("pageSize", "20"), ("version", "v2.0.0")],
        "in order, scalars as their text, env(…) resolved"
    );
    assert!(get_user.config.is_empty(), "no `config:`, no values");
    let audit_links = &app.components[2].imports;
    assert_eq!(audit_links.len(), 1);
    assert_eq!(
        (
            audit_links[0].interface.as_str(),
            audit_links[0].from.as_str()
        ),
        ("acme:pricing/calc@0.1.0", "render")
    );
    assert!(audit_links[0].names("acme:pricing/calc@0.1.0"));
    assert!(
        !audit_links[0].names("acme:pricing/calc@0.2.0"),
        "a versioned link takes that version only"
    );
    let audit = &app.components[2];
    assert_eq!(audit.grants.cache, None, "deny by default");
    assert!(audit.grants.log, "log is on by default");
    assert_eq!(audit.limits.timeout, karman_directive::DEFAULT_TIMEOUT);

    let handler = &app.handlers[0];
    assert_eq!(handler.method, "GET");
    assert_eq!(
        handler.resource.segments(),
        [
            Segment::Literal("users".into()),
            Segment::Param("id".into()),
            Segment::Literal("files".into()),
            Segment::Wildcard("path".into()),
        ]
    );
    assert_eq!(
        handler.sequence.response, "render",
        "the last step's key by default"
    );
    let Step::Group(group) = &handler.sequence.steps[1] else {
        panic!("a group")
    };
    assert_eq!(group[0].on_err.action(404), ErrAction::Continue);
    assert_eq!(group[0].on_err.action(500), ErrAction::Return);
    assert_eq!(group[1].key, "audited");
    assert_eq!(group[1].on_err.action(500), ErrAction::Continue);
    let Step::Fn(render) = &handler.sequence.steps[2] else {
        panic!("a fn step")
    };
    let with = render.with.as_ref().unwrap();
    assert_eq!(with["user"], "get-user");
    assert_eq!(with["extra"], "enrich");
    assert_eq!(render.location.line, 34);

    assert_eq!(app.handlers[1].sequence.response, "enrich");
    assert_eq!(app.handlers[1].resource.to_matchit(), "/");
}

#[test]
fn sql_queries_and_grants_resolve_with_a_default_sqlite_database() {
    let app = parse_case("ok-sql").unwrap_or_else(|e| panic!("{e}"));
    let select = &app.queries[0];
    assert_eq!((select.name.as_str(), select.params), ("select-user", 1));
    assert_eq!(app.queries[1].params, 2);
    let atmo: Vec<(&str, usize)> = app.queries[2..]
        .iter()
        .map(|q| (q.name.as_str(), q.params))
        .collect();
    assert_eq!(
        atmo,
        [("atmo-insert", 2), ("atmo-select", 0), ("atmo-cte", 0)],
        "Atmo's `type` and `varCount` are accepted"
    );

    let reader = app.components[0].grants.sql.as_ref().unwrap();
    assert_eq!(reader.queries, ["select-user"]);
    assert!(!reader.write && !reader.raw);
    let admin = app.components[1].grants.sql.as_ref().unwrap();
    assert!(admin.write && admin.raw, "write defaults to true");

    // No `database` connection: SQLite in a file beside the Directive.
    let database = app.connections.database.as_ref().unwrap();
    assert_eq!(database.kind, karman_directive::DatabaseKind::Sqlite);
    let expected = format!(
        "sqlite://{}?mode=rwc",
        ui_dir().join("karman.sqlite").display()
    );
    assert_eq!(database.url, expected);
}

#[test]
fn env_values_fall_back_to_their_default_and_the_database_type_follows_the_url() {
    let app = parse_case("ok-env-defaults").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(app.app_version, "v3");
    let database = app.connections.database.unwrap();
    assert_eq!(database.kind, karman_directive::DatabaseKind::Sqlite);
    assert_eq!(
        database.url,
        format!(
            "sqlite://{}?mode=rwc",
            ui_dir().join("notes.sqlite").display()
        )
    );

    let app = parse_case("ok-env-inferred").unwrap_or_else(|e| panic!("{e}"));
    let database = app.connections.database.unwrap();
    assert_eq!(database.kind, karman_directive::DatabaseKind::Postgres);
    assert_eq!(database.url, "postgres://app@db.internal:5432/notes");
    assert_eq!(database.max_connections, 3);
    assert_eq!(
        (database.max_rows, database.max_result_bytes),
        (500, 1 << 20)
    );
}

#[test]
fn outbound_grants_and_credentials_resolve() {
    let app = parse_case("ok-outbound").unwrap_or_else(|e| panic!("{e}"));
    let grants = &app.components[0].grants;
    let http = grants.http.as_ref().unwrap();
    assert_eq!(http.allow.len(), 4);
    assert!(
        http.allow[3].matches("https", "status.example.net", 443),
        "env(NAME, default) in an allow entry"
    );
    assert!(
        !http.allow_private,
        "private addresses are refused by default"
    );
    assert!(http.allow[1].matches("https", "api.example.com", 443));
    assert!(!http.allow[2].matches("https", "pay.example.org", 443));
    assert!(grants.graphql.as_ref().unwrap().allow_private);

    let auth = &app.authentication;
    let github = auth.credential_for("API.GitHub.com").unwrap();
    assert_eq!(
        (github.header.as_str(), github.value.as_str()),
        ("authorization", "Bearer v2.0.0")
    );
    let wildcard = auth.credential_for("shop.example.com").unwrap();
    assert_eq!(wildcard.value, "Basic dXNlcjpwYXNz");
    let custom = auth.credential_for("internal.example.org").unwrap();
    assert_eq!(
        (custom.header.as_str(), custom.value.as_str()),
        ("x-api-key", "k3y")
    );
    assert!(auth.credential_for("example.com").is_none());
    assert!(
        !format!("{github:?}").contains("v2.0.0"),
        "credentials are never printed"
    );

    let state = &app.handlers[0].sequence.state;
    assert_eq!(state["endpoint"], "https://api.github.com/graphql");
    assert_eq!(state["release"], "v2.0.0");
}

#[test]
fn stream_handlers_and_schedules_resolve() {
    let app = parse_case("ok-streams").unwrap_or_else(|e| panic!("{e}"));
    let nats = app.connections.nats.as_ref().unwrap();
    assert_eq!(
        nats.addresses,
        ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"]
    );
    assert_eq!(nats.token.as_deref(), Some("v2.0.0"));
    assert!(
        !format!("{nats:?}").contains("v2.0.0"),
        "tokens are never printed"
    );

    assert!(app.handlers.is_empty());
    let [login, orders, socket, kafka, jobs, tasks] = &app.streams[..] else {
        panic!("six stream handlers: {:?}", app.streams);
    };
    assert_eq!(
        (jobs.source.clone(), jobs.jetstream.is_none()),
        (StreamSource::Nats, true)
    );
    assert_eq!(jobs.dead_letter.as_deref(), Some("jobs.dead"));
    assert_eq!(tasks.source, StreamSource::Bus);
    assert_eq!(tasks.dead_letter.as_deref(), Some("tasks.dead"));
    let Step::Fn(record) = &jobs.sequence.steps[0] else {
        panic!("a fn step first");
    };
    let retry = record.retry.as_ref().expect("retry");
    assert_eq!(retry.attempts, 3);
    assert_eq!(retry.backoff, Duration::from_millis(250));
    assert_eq!(retry.on.iter().copied().collect::<Vec<_>>(), [500, 503]);
    let Step::Group(group) = &jobs.sequence.steps[1] else {
        panic!("a group second");
    };
    let defaults = group[0].retry.as_ref().expect("retry in a group");
    assert_eq!(
        (defaults.attempts, defaults.backoff),
        (2, karman_directive::DEFAULT_RETRY_BACKOFF)
    );
    assert_eq!(
        defaults.on.iter().copied().collect::<Vec<_>>(),
        karman_directive::DEFAULT_RETRY_ON
    );
    assert!(group[1].retry.is_none());
    assert_eq!(kafka.source, StreamSource::Kafka);
    assert_eq!(kafka.dead_letter.as_deref(), Some("orders.dead"));
    let connection = app.connections.kafka.as_ref().unwrap();
    assert_eq!(connection.brokers, ["127.0.0.1:9092", "127.0.0.1:9093"]);
    assert_eq!(connection.session_timeout, Duration::from_secs(10));
    assert_eq!(connection.group, None, "the app's identifier by default");
    assert_eq!(login.source, StreamSource::Nats);
    assert_eq!(login.resource, "user.login");
    assert_eq!(login.respond_to.as_deref(), Some("user.login.done"));
    let jetstream = login.jetstream.as_ref().unwrap();
    assert_eq!(
        (jetstream.stream.as_str(), jetstream.durable.as_str()),
        ("LOGINS", "karman-LOGINS")
    );
    assert_eq!((login.max_deliver, login.max_in_flight), (3, 4));
    assert_eq!(login.dead_letter.as_deref(), Some("user.login.dead"));
    assert_eq!(login.sequence.response, "email");
    assert_eq!(
        orders.source,
        StreamSource::Bus,
        "the bus is the default source"
    );
    assert_eq!(orders.max_deliver, DEFAULT_MAX_DELIVER);
    assert_eq!(orders.max_in_flight, DEFAULT_MAX_IN_FLIGHT);
    assert_eq!(socket.resource, "audit.>");

    let [tick, nightly, short, weekdays] = &app.schedules[..] else {
        panic!("four schedules");
    };
    assert_eq!(tick.trigger, Trigger::Every(Duration::from_secs(90)));
    assert_eq!(tick.sequence.state["kind"], "tick");
    assert_eq!(nightly.trigger, Trigger::Cron("0 0 3 * * *".into()));
    assert_eq!(short.trigger, Trigger::Every(Duration::from_secs(300)));
    assert_eq!(
        weekdays.trigger,
        Trigger::Cron("0 30 2 * * MON,TUE,WED,THU,FRI".into()),
        "five fields, crontab's, become six"
    );
}

#[test]
fn custom_routes_and_jwt_resolve() {
    let app = parse_case("ok-routes").unwrap_or_else(|e| panic!("{e}"));
    let jwt = app.authentication.jwt.as_ref().unwrap();
    assert_eq!(jwt.key.algorithm(), "HS256");
    assert_eq!(jwt.issuer.as_deref(), Some("https://id.example.com"));
    assert_eq!(jwt.audience.as_deref(), Some("billing"));
    assert_eq!(jwt.leeway, Duration::from_secs(10));
    assert_eq!(jwt.roles_claim, "groups");
    assert!(
        !format!("{jwt:?}").contains("a-test-secret"),
        "secrets are never printed"
    );

    let [route] = &app.routes[..] else {
        panic!("one route: {:?}", app.routes);
    };
    assert_eq!(route.plugin, "billing");
    assert_eq!(app.component(route.component).name, "billing");
    let [debit, balance, status] = &route.endpoints[..] else {
        panic!("three endpoints");
    };
    assert_eq!(
        (debit.method.as_str(), debit.auth.clone()),
        ("POST", Access::Authenticated)
    );
    assert_eq!(debit.mounted_path("billing"), "/ext/billing/debit");
    assert_eq!(balance.method, "GET");
    assert_eq!(balance.auth, Access::Role("reader".into()));
    assert_eq!(
        balance.rate_limit,
        RateLimits {
            endpoint: Some(RateLimit {
                count: 50,
                per: Duration::from_secs(1)
            }),
            caller: None,
        }
    );
    assert_eq!(balance.max_body, Some(16 << 10));
    assert_eq!(balance.timeout, Some(Duration::from_secs(2)));
    assert_eq!(status.auth, Access::Public);
    assert_eq!(
        (status.max_body, status.timeout, status.rate_limit),
        (None, None, RateLimits::default())
    );
    let per = |count, secs| {
        Some(RateLimit {
            count,
            per: Duration::from_secs(secs),
        })
    };
    assert_eq!(
        app.handlers[0].rate_limit,
        RateLimits {
            endpoint: per(100, 1),
            caller: per(10, 60),
        }
    );
}

#[test]
fn static_files_and_files_grants_resolve() {
    let app = parse_case("ok-static").unwrap_or_else(|e| panic!("{e}"));
    let public = std::fs::canonicalize(ui_dir().join("fixtures/public")).unwrap();
    assert_eq!(app.static_dir.as_deref(), Some(public.as_path()));
    let mount = app.static_mount.as_ref().expect("a mount");
    assert_eq!(mount.prefix, "/assets", "the trailing slash is dropped");
    assert_eq!(mount.location.to_string(), "ok-static.yaml:3:40");
    let grant = |name: &str| app.component_named(name).unwrap().1.grants.files.clone();
    assert_eq!(grant("everything").unwrap().path, "");
    assert_eq!(grant("images").unwrap().path, "img", "`./img/` normalized");
    assert_eq!(grant("nothing"), None);
    assert_eq!(
        app.component_named("images").unwrap().1.grants.to_string(),
        "log, files (path \"img/\")"
    );
}

#[test]
fn without_static_the_default_directory_is_used_only_when_it_exists() {
    let dir = std::env::temp_dir().join(format!("karman-ui-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = "identifier: t\nappVersion: v1\n";
    let options = ParseOptions {
        file_name: "Directive.yaml".to_string(),
        base_dir: dir.clone(),
        env: &test_env,
        unbuilt_sources: false,
        unset_env: karman_directive::UnsetEnv::Error,
    };
    let without = karman_directive::parse(text, &options).unwrap();
    std::fs::create_dir_all(dir.join("static")).unwrap();
    let with = karman_directive::parse(text, &options).unwrap();
    let canonical = std::fs::canonicalize(dir.join("static")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(without.static_dir, None);
    assert_eq!(with.static_dir, Some(canonical));
    assert_eq!(with.static_mount, None, "not served unless mounted");
}
