//! A guest with raw SQL trying to get past its grant, on each database: SQLite (a file in a
//! temp dir), PostgreSQL and MariaDB. Each test uses tables of its own (unique names).

use std::time::Duration;

use karman::ServerConfig;

use crate::support::{Db, TestServer, eventually, repo_root, runtime_config, sqlite_file, unique};

struct Hostile {
    db: Db,
    file: String,
    table: String,
    server: TestServer,
}

/// `sql` percent-encoded for a query string.
fn encode(sql: &str) -> String {
    form_urlencoded::byte_serialize(sql.as_bytes()).collect()
}

/// An app with a table of one row, a `reader` (`write: false`) and a `writer`, both with raw
/// SQL; `connection` adds keys to the `database` connection, `timeout` is the steps' timeout.
async fn hostile(db: Db, connection: &str, timeout: &str) -> Hostile {
    let file = sqlite_file();
    let table = unique("hostile");
    db.setup(
        &file,
        &[
            format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR(100))"),
            format!("INSERT INTO {table} (id, name) VALUES (1, 'one')"),
        ],
    )
    .await;
    let base = db.connection(&file);
    let connection = if connection.is_empty() {
        base
    } else {
        base.replace(" }\n", &format!(", {connection} }}\n"))
    };
    let yaml = format!(
        r#"
identifier: test.hostile
appVersion: v1
{connection}queries:
  - name: insert
    query: INSERT INTO {table} (id, name) VALUES ({p1}, 'named')
  - name: pragma-writable
    query: PRAGMA query_only = OFF
  - name: load-extension
    query: SELECT load_extension('{extension}')
components:
  - name: reader
    source: guest(sql-user)
    capabilities: {{ sql: {{ queries: [insert, pragma-writable], raw: true, write: false }} }}
    limits: {{ timeout: {timeout} }}
  - name: writer
    source: guest(sql-user)
    capabilities: {{ sql: {{ queries: [insert, load-extension], raw: true }} }}
    limits: {{ timeout: {timeout} }}
handlers:
  - {{ type: request, method: POST, resource: /reader, steps: [ {{ fn: reader }} ] }}
  - {{ type: request, method: POST, resource: /writer, steps: [ {{ fn: writer }} ] }}
"#,
        p1 = db.p(1),
        extension = repo_root()
            .join("target/karman-test-tmp/no-such-extension")
            .display(),
    );
    let server =
        TestServer::start_with_runtime(&yaml, runtime_config(), ServerConfig::default()).await;
    Hostile {
        db,
        file,
        table,
        server,
    }
}

impl Hostile {
    async fn raw(&self, who: &str, op: &str, sql: &str) -> crate::support::Reply {
        self.server
            .post(&format!("/{who}?op={op}&sql={}", encode(sql)), "")
            .await
    }

    async fn rows(&self) -> i64 {
        self.db
            .scalar(&self.file, &format!("SELECT COUNT(*) FROM {}", self.table))
            .await
    }

    /// Asserts a refusal with this status whose message starts with `message`.
    async fn refused(&self, who: &str, op: &str, sql: &str, status: u16, message: &str) {
        let reply = self.raw(who, op, sql).await;
        assert_eq!(reply.status, status, "{sql}: {}", reply.body);
        let text = reply.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(text.starts_with(message), "{sql}: {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// write: false cannot be undone from inside

async fn read_only_cannot_be_undone(db: Db) {
    let h = hostile(db, "maxConnections: 1", "5s").await;
    let insert = format!("INSERT INTO {} (id, name) VALUES (2, 'two')", h.table);
    let tx_control = "sql: raw SQL may not use";
    // Ending the wrapping read-only transaction, or making it (or the session) writable.
    let mut attempts = vec![
        "COMMIT",
        "ROLLBACK",
        "END",
        "BEGIN",
        "SAVEPOINT s",
        "RELEASE s",
        "SET TRANSACTION READ WRITE",
        "SET SESSION TRANSACTION READ WRITE",
        "SET autocommit = 1",
        "START TRANSACTION READ WRITE",
        "PRAGMA query_only = OFF",
    ];
    if db == Db::Postgres {
        attempts.push("SELECT set_config('default_transaction_read_only', 'off', false)");
        attempts.push("DO $$ BEGIN EXECUTE 'COMMIT'; END $$");
    }
    for sql in attempts {
        let reply = h.raw("reader", "execute-raw", sql).await;
        assert_eq!(reply.status, 403, "{sql}: {}", reply.body);
        let message = reply.json()["message"].as_str().unwrap().to_string();
        assert!(
            message.starts_with(tx_control)
                || message == "sql: this component is granted read-only access",
            "{sql}: {message}"
        );
    }
    // …then writing, raw, named, or with a statement that commits by itself (MySQL DDL).
    h.refused(
        "reader",
        "execute-raw",
        &insert,
        403,
        "sql: this component is granted read-only access",
    )
    .await;
    h.refused(
        "reader",
        "execute-raw",
        &format!("CREATE TABLE {}_x (a INT)", h.table),
        403,
        "sql: this component is granted read-only access",
    )
    .await;
    let named = h
        .server
        .post("/reader?op=execute&name=insert", "int:3")
        .await;
    assert_eq!(named.status, 403, "{}", named.body);
    assert_eq!(h.rows().await, 1);
    // Reads still work.
    let read = h
        .raw(
            "reader",
            "query-raw",
            &format!("SELECT name FROM {}", h.table),
        )
        .await;
    assert_eq!(
        read.json()["rows"],
        serde_json::json!([["one"]]),
        "{}",
        read.body
    );
}

#[tokio::test]
async fn sqlite_read_only_cannot_be_undone() {
    read_only_cannot_be_undone(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_read_only_cannot_be_undone() {
    read_only_cannot_be_undone(Db::Postgres).await;
}

#[tokio::test]
async fn mysql_read_only_cannot_be_undone() {
    read_only_cannot_be_undone(Db::MySql).await;
}

/// Even a `PRAGMA query_only = OFF` that gets through (an operator's named query) leaves
/// SQLite's read-only connections read-only: they are opened read-only, and the one pooled
/// connection the reader uses stays so.
#[tokio::test]
async fn sqlite_read_only_connections_are_opened_read_only() {
    let h = hostile(Db::Sqlite, "maxConnections: 1", "5s").await;
    let pragma = h
        .server
        .post("/reader?op=execute&name=pragma-writable", "")
        .await;
    assert_eq!(pragma.status, 200, "{}", pragma.body);
    let named = h
        .server
        .post("/reader?op=execute&name=insert", "int:3")
        .await;
    assert_eq!(named.status, 403, "{}", named.body);
    assert_eq!(
        named.json()["message"],
        "sql: this component is granted read-only access"
    );
    assert_eq!(h.rows().await, 1);
}

// ---------------------------------------------------------------------------------------------
// the host's files are out of reach, also with write: true

async fn raw_sql_cannot_reach_host_files(db: Db) {
    let h = hostile(db, "", "5s").await;
    let dir = repo_root().join("target/karman-test-tmp");
    let target = dir.join(unique("escape"));
    let path = target.display().to_string();
    let attempts: Vec<String> = match db {
        Db::Sqlite => vec![
            format!("ATTACH DATABASE '{path}' AS evil"),
            format!("attach '{path}' as evil"),
            "DETACH DATABASE main".into(),
            format!("VACUUM INTO '{path}'"),
            "PRAGMA writable_schema = ON".into(),
            "PRAGMA query_only = OFF".into(),
            format!("SELECT load_extension('{path}')"),
            format!("SELECT \"load_extension\"('{path}')"),
            "UPDATE sqlite_master SET sql = 'x' WHERE 0".into(),
            "DELETE FROM 'sqlite_master' WHERE 0".into(),
        ],
        Db::Postgres => vec![
            format!("COPY (SELECT 1) TO '{path}'"),
            format!("COPY (SELECT 1) TO PROGRAM 'touch {path}'"),
            "SELECT pg_read_file('/etc/hostname')".into(),
            format!("SELECT lo_export(1, '{path}')"),
            "LOAD 'plpgsql'".into(),
            "ALTER SYSTEM SET work_mem = '1GB'".into(),
        ],
        Db::MySql => vec![
            format!("SELECT 1 INTO OUTFILE '{path}'"),
            format!("SELECT 1 INTO DUMPFILE '{path}'"),
            "SELECT LOAD_FILE('/etc/hostname')".into(),
            format!("LOAD DATA INFILE '{path}' INTO TABLE {}", h.table),
        ],
    };
    for sql in &attempts {
        for op in ["query-raw", "execute-raw"] {
            h.refused("writer", op, sql, 403, "sql: raw SQL may not")
                .await;
        }
    }
    assert!(!target.exists(), "{path} was written");
    assert_eq!(h.rows().await, 1);
}

#[tokio::test]
async fn sqlite_raw_sql_cannot_reach_host_files() {
    raw_sql_cannot_reach_host_files(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_raw_sql_cannot_reach_host_files() {
    raw_sql_cannot_reach_host_files(Db::Postgres).await;
}

#[tokio::test]
async fn mysql_raw_sql_cannot_reach_host_files() {
    raw_sql_cannot_reach_host_files(Db::MySql).await;
}

/// SQLite's own `load_extension` is disabled too: even an operator's named query fails.
#[tokio::test]
async fn sqlite_load_extension_is_disabled_in_the_library() {
    let h = hostile(Db::Sqlite, "", "5s").await;
    let reply = h
        .server
        .post("/writer?op=query&name=load-extension", "")
        .await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert_eq!(reply.json()["message"], "not authorized");
}

// ---------------------------------------------------------------------------------------------
// one string, one statement

async fn one_string_is_one_statement(db: Db) {
    let h = hostile(db, "", "5s").await;
    let delete = format!("SELECT 1; DELETE FROM {}", h.table);
    for op in ["query-raw", "execute-raw"] {
        h.refused(
            "writer",
            op,
            &delete,
            400,
            "sql: raw SQL is one statement per call; this holds 2",
        )
        .await;
    }
    assert_eq!(h.rows().await, 1);
    // A trailing `;`, and `;` in a literal or a comment, are no separators.
    let reply = h
        .raw("writer", "query-raw", "SELECT ';' AS s /* ; */ ; -- ;\n")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["rows"], serde_json::json!([[";"]]));
}

#[tokio::test]
async fn sqlite_one_string_is_one_statement() {
    one_string_is_one_statement(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_one_string_is_one_statement() {
    one_string_is_one_statement(Db::Postgres).await;
}

#[tokio::test]
async fn mysql_one_string_is_one_statement() {
    one_string_is_one_statement(Db::MySql).await;
}

// ---------------------------------------------------------------------------------------------
// results are bounded while they stream

/// Queries of endless (or 10^8) rows: only streaming ends them before the step's timeout.
fn endless(db: Db, value: &str) -> String {
    match db {
        Db::Sqlite => format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT {value} FROM c"
        ),
        // In the select list, a set-returning function streams (in FROM it is materialized).
        Db::Postgres => {
            format!("SELECT {value} FROM (SELECT generate_series(1, 100000000) AS x) AS c")
        }
        Db::MySql => format!("SELECT {value} FROM seq_1_to_100000000 AS c"),
    }
}

async fn results_are_capped_while_they_stream(db: Db) {
    let h = hostile(
        db,
        "maxConnections: 1, maxRows: 100, maxResultBytes: 64KiB",
        "20s",
    )
    .await;
    h.refused(
        "writer",
        "query-raw",
        &endless(db, "1"),
        400,
        "sql: the query returns more than 100 rows (`maxRows`)",
    )
    .await;
    let blob = match db {
        Db::Sqlite => "randomblob(10000)",
        Db::Postgres => "repeat('x', 10000)",
        Db::MySql => "REPEAT('x', 10000)",
    };
    h.refused(
        "writer",
        "query-raw",
        &endless(db, blob),
        400,
        "sql: the query returns more than 65536 bytes (`maxResultBytes`)",
    )
    .await;
    // The one connection is healthy and free again.
    let reply = h
        .raw(
            "writer",
            "query-raw",
            &format!("SELECT name FROM {}", h.table),
        )
        .await;
    assert_eq!(
        reply.json()["rows"],
        serde_json::json!([["one"]]),
        "{}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_results_are_capped_while_they_stream() {
    results_are_capped_while_they_stream(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_results_are_capped_while_they_stream() {
    results_are_capped_while_they_stream(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_results_are_capped_while_they_stream() {
    results_are_capped_while_they_stream(Db::MySql).await;
}

// ---------------------------------------------------------------------------------------------
// a statement never outlives its step

/// As many endless statements as the pool has connections, each timing out; then a normal
/// query answers within a bound shorter than the pool's acquire timeout (5 s).
async fn a_timed_out_statement_is_cancelled(db: Db) {
    const CONNECTIONS: usize = 2;
    let h = hostile(db, &format!("maxConnections: {CONNECTIONS}"), "1s").await;
    let endless = match db {
        Db::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
        }
        Db::Postgres => "SELECT pg_sleep(600)",
        Db::MySql => "SELECT SLEEP(600)",
    };
    let url = h
        .server
        .url(&format!("/writer?op=query-raw&sql={}", encode(endless)));
    let stuck: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, url) = (h.server.client.clone(), url.clone());
            tokio::spawn(async move { client.post(url).send().await.unwrap().status().as_u16() })
        })
        .collect();
    for task in stuck {
        assert_eq!(task.await.unwrap(), 504);
    }
    // The cancelled statements' connections come back to the pool healthy: a normal query
    // answers within a few seconds (without the cancel, both would be held for 600 s). On a
    // loaded machine the cancel itself (a second connection, `KILL QUERY` on MySQL) may take
    // longer than the step's wait for a connection, so the first tries may get 503.
    let normal = h.server.url(&format!(
        "/writer?op=query-raw&sql={}",
        encode(&format!("SELECT name FROM {}", h.table))
    ));
    let body = eventually(
        "a normal query answers once the timed-out ones are cancelled",
        Duration::from_secs(10),
        || {
            let (client, normal) = (h.server.client.clone(), normal.clone());
            async move {
                let reply = client.post(normal).send().await.ok()?;
                match reply.status().as_u16() {
                    200 => reply.text().await.ok(),
                    503 => None,
                    other => panic!("a normal query answered {other}"),
                }
            }
        },
    )
    .await;
    assert_eq!(body, r#"{"columns":["name"],"rows":[["one"]]}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_timed_out_statement_is_cancelled() {
    a_timed_out_statement_is_cancelled(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_timed_out_statement_is_cancelled() {
    a_timed_out_statement_is_cancelled(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_a_timed_out_statement_is_cancelled() {
    a_timed_out_statement_is_cancelled(Db::MySql).await;
}

// ---------------------------------------------------------------------------------------------
// open transactions: capped per instance, none carried over to the next request

/// One warm instance of `sql-tx-user` (`reuse`, pool of 1) on a table of one row.
async fn warm_tx_user(db: Db) -> Hostile {
    let file = sqlite_file();
    let table = unique("held");
    db.setup(
        &file,
        &[
            format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR(100))"),
            format!("INSERT INTO {table} (id, name) VALUES (1, 'one')"),
        ],
    )
    .await;
    let yaml = format!(
        r#"
identifier: test.held
appVersion: v1
{connection}components:
  - name: holder
    source: guest(sql-tx-user)
    capabilities: {{ sql: {{ raw: true }} }}
    reuse: {{ maxUses: 100, poolSize: 1 }}
handlers:
  - {{ type: request, method: POST, resource: /holder, steps: [ {{ fn: holder }} ] }}
"#,
        connection = db.connection(&file),
    );
    let server =
        TestServer::start_with_runtime(&yaml, runtime_config(), ServerConfig::default()).await;
    Hostile {
        db,
        file,
        table,
        server,
    }
}

async fn open_transactions_are_capped_per_instance(db: Db) {
    let h = warm_tx_user(db).await;
    let four = h.server.post("/holder?op=begin&n=4", "").await;
    assert_eq!(
        (four.status, four.body.as_str()),
        (200, "4"),
        "{}",
        four.body
    );
    // A fresh instance (the warm one's were rolled back at the end of its run) may hold 4,
    // not 5.
    let five = h.server.post("/holder?op=begin&n=5", "").await;
    assert_eq!(five.status, 400, "{}", five.body);
    assert_eq!(
        five.json()["message"],
        "sql: this instance already holds 4 open transactions; commit or roll one back first"
    );
}

#[tokio::test]
async fn sqlite_open_transactions_are_capped_per_instance() {
    open_transactions_are_capped_per_instance(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_open_transactions_are_capped_per_instance() {
    open_transactions_are_capped_per_instance(Db::Postgres).await;
}

#[tokio::test]
async fn mysql_open_transactions_are_capped_per_instance() {
    open_transactions_are_capped_per_instance(Db::MySql).await;
}

async fn a_warm_instance_carries_no_transaction_over(db: Db) {
    let h = warm_tx_user(db).await;
    let insert = format!("INSERT INTO {} (id, name) VALUES (2, 'two')", h.table);
    let left = h
        .server
        .post(&format!("/holder?op=leave&sql={}", encode(&insert)), "")
        .await;
    assert_eq!(left.status, 200, "{}", left.body);
    // The next request, on the same warm instance, finds the transaction rolled back.
    let commit = h.server.post("/holder?op=commit", "").await;
    assert_eq!(commit.status, 400, "{}", commit.body);
    assert_eq!(
        commit.json()["message"],
        "sql: the transaction is already committed or rolled back"
    );
    assert_eq!(h.rows().await, 1);
    // The instance goes on: a transaction of its own request commits.
    let again = h
        .server
        .post(&format!("/holder?op=leave&sql={}", encode(&insert)), "")
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
}

#[tokio::test]
async fn sqlite_a_warm_instance_carries_no_transaction_over() {
    a_warm_instance_carries_no_transaction_over(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_warm_instance_carries_no_transaction_over() {
    a_warm_instance_carries_no_transaction_over(Db::Postgres).await;
}

#[tokio::test]
async fn mysql_a_warm_instance_carries_no_transaction_over() {
    a_warm_instance_carries_no_transaction_over(Db::MySql).await;
}
