//! The `sql` capability on the real databases of this machine: SQLite (a file), PostgreSQL
//! (127.0.0.1:5432, db `test`) and MariaDB (127.0.0.1:3306, db `test`).

use karman::ServerConfig;

use crate::support::{Db, TestServer, runtime_config, sqlite_file, unique};

// ---------------------------------------------------------------------------------------------
// queries, grants, typed values

struct Fixture {
    db: Db,
    file: String,
    table: String,
    server: TestServer,
}

async fn fixture(db: Db) -> Fixture {
    let file = sqlite_file();
    let table = unique("people");
    let (blob, float) = match db {
        Db::Postgres => ("BYTEA", "DOUBLE PRECISION"),
        Db::MySql => ("BLOB", "DOUBLE"),
        Db::Sqlite => ("BLOB", "REAL"),
    };
    db.setup(
        &file,
        &[format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR(100), score {float}, photo {blob}, active BOOLEAN)"
        )],
    )
    .await;
    let p = |n| db.p(n);
    let yaml = format!(
        r#"
identifier: test.sql
appVersion: v1
{connection}queries:
  - name: insert-person
    query: INSERT INTO {table} (id, name, score, photo, active) VALUES ({p1}, {p2}, {p3}, {p4}, {p5})
  - name: select-person
    query: SELECT id, name, score, photo FROM {table} WHERE id = {p1}
  - name: count-people
    query: SELECT COUNT(*) AS n FROM {table}
components:
  - name: writer
    source: guest(sql-user)
    capabilities: {{ sql: {{ queries: [insert-person, select-person, count-people] }} }}
  - name: reader
    source: guest(sql-user)
    capabilities: {{ sql: {{ queries: [select-person, insert-person], write: false, raw: true }} }}
  - name: no-grant
    source: guest(sql-user)
handlers:
  - {{ type: request, method: POST, resource: /writer, steps: [ {{ fn: writer }} ] }}
  - {{ type: request, method: POST, resource: /reader, steps: [ {{ fn: reader }} ] }}
  - {{ type: request, method: POST, resource: /no-grant, steps: [ {{ fn: no-grant }} ] }}
"#,
        connection = db.connection(&file),
        p1 = p(1),
        p2 = p(2),
        p3 = p(3),
        p4 = p(4),
        p5 = p(5),
    );
    let server = TestServer::start(&yaml).await;
    Fixture {
        db,
        file,
        table,
        server,
    }
}

async fn typed_values_round_trip(db: Db) {
    let f = fixture(db).await;
    let reply = f
        .server
        .post(
            "/writer?op=execute&name=insert-person",
            "int:1\ntext:Ada Lovelace\nfloat:99.5\nblob:cafe\nbool:true",
        )
        .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "1"),
        "{}",
        reply.body
    );
    let reply = f
        .server
        .post(
            "/writer?op=execute&name=insert-person",
            "int:2\nnull\nnull\nnull\nnull",
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let reply = f
        .server
        .post("/writer?op=query&name=select-person", "int:1")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let rows = reply.json();
    assert_eq!(
        rows["columns"],
        serde_json::json!(["id", "name", "score", "photo"])
    );
    assert_eq!(
        rows["rows"],
        serde_json::json!([[1, "Ada Lovelace", 99.5, { "blob": "cafe" }]])
    );
    let nulls = f
        .server
        .post("/writer?op=query&name=select-person", "int:2")
        .await
        .json();
    assert_eq!(nulls["rows"], serde_json::json!([[2, null, null, null]]));
    assert_eq!(
        f.db.scalar(&f.file, &format!("SELECT COUNT(*) FROM {}", f.table))
            .await,
        2
    );
}

#[tokio::test]
async fn sqlite_typed_values_round_trip() {
    typed_values_round_trip(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_typed_values_round_trip() {
    typed_values_round_trip(Db::Postgres).await;
}

#[tokio::test]
async fn mysql_typed_values_round_trip() {
    typed_values_round_trip(Db::MySql).await;
}

async fn grants_are_enforced(db: Db) {
    let f = fixture(db).await;
    // No grant at all.
    let reply = f
        .server
        .post("/no-grant?op=query&name=select-person", "int:1")
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.json()["message"],
        "sql: this component is not granted the sql capability"
    );
    // A query the grant does not list.
    let reply = f
        .server
        .post("/reader?op=query&name=count-people", "")
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.json()["message"],
        "sql: this component is not granted the query `count-people`"
    );
    // Raw SQL without `raw: true`.
    let reply = f
        .server
        .post("/writer?op=query-raw&sql=SELECT%201", "")
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.json()["message"],
        "sql: this component is not granted raw SQL"
    );
    // The wrong number of parameters never reaches the database.
    let reply = f
        .server
        .post("/writer?op=query&name=select-person", "int:1\nint:2")
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["message"],
        "sql: query `select-person` takes 1 parameters, not 2"
    );
    // A read-only grant: reads work, writes are refused by the database, raw or named.
    f.server
        .post(
            "/writer?op=execute&name=insert-person",
            "int:7\ntext:Grace\nnull\nnull\nnull",
        )
        .await;
    assert_eq!(
        f.server
            .post("/reader?op=query&name=select-person", "int:7")
            .await
            .status,
        200
    );
    let reply = f
        .server
        .post(
            "/reader?op=execute&name=insert-person",
            "int:8\ntext:Mallory\nnull\nnull\nnull",
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(
        reply.json()["message"],
        "sql: this component is granted read-only access"
    );
    let delete = format!("DELETE FROM {}", f.table);
    let reply = f
        .server
        .post(
            &format!("/reader?op=execute-raw&sql={}", delete.replace(' ', "%20")),
            "",
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(
        f.db.scalar(&f.file, &format!("SELECT COUNT(*) FROM {}", f.table))
            .await,
        1
    );
    // Raw SQL with the grant, parameters bound (never interpolated).
    let select = format!("SELECT name FROM {} WHERE name = {}", f.table, db.p(1))
        .replace(' ', "%20")
        .replace('$', "%24")
        .replace('?', "%3F");
    let reply = f
        .server
        .post(
            &format!("/reader?op=query-raw&sql={select}"),
            "text:Grace' OR '1'='1",
        )
        .await;
    assert_eq!(
        reply.json()["rows"],
        serde_json::json!([]),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn sqlite_grants_are_enforced() {
    grants_are_enforced(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_grants_are_enforced() {
    grants_are_enforced(Db::Postgres).await;
}

#[tokio::test]
async fn mysql_grants_are_enforced() {
    grants_are_enforced(Db::MySql).await;
}

async fn a_batch_is_all_or_nothing(db: Db) {
    let f = fixture(db).await;
    let reply = f
        .server
        .post("/writer?op=batch", "insert-person;1;int:1;text:a;null;null;null\ninsert-person;1;int:2;text:b;null;null;null")
        .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "[1, 1]"),
        "{}",
        reply.body
    );
    // The second statement fails (duplicate key): the first is rolled back with it.
    let reply = f
        .server
        .post("/writer?op=batch", "insert-person;1;int:3;text:c;null;null;null\ninsert-person;1;int:1;text:dup;null;null;null")
        .await;
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("statement 1:"),
        "{}",
        reply.body
    );
    assert_eq!(
        f.db.scalar(&f.file, &format!("SELECT COUNT(*) FROM {}", f.table))
            .await,
        2
    );
}

#[tokio::test]
async fn sqlite_batches_are_all_or_nothing() {
    a_batch_is_all_or_nothing(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_batches_are_all_or_nothing() {
    a_batch_is_all_or_nothing(Db::Postgres).await;
}

#[tokio::test]
async fn mysql_batches_are_all_or_nothing() {
    a_batch_is_all_or_nothing(Db::MySql).await;
}

// ---------------------------------------------------------------------------------------------
// transactions: the debit

struct Bank {
    db: Db,
    file: String,
    accounts: String,
    ledger: String,
    server: TestServer,
}

async fn bank(db: Db, balance: i64, max_instances: u32) -> Bank {
    let file = sqlite_file();
    let (accounts, ledger) = (unique("accounts"), unique("ledger"));
    db.setup(
        &file,
        &[
            format!("CREATE TABLE {accounts} (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)"),
            format!("CREATE TABLE {ledger} (idem VARCHAR(64) PRIMARY KEY, account BIGINT NOT NULL, amount BIGINT NOT NULL)"),
            format!("INSERT INTO {accounts} (id, balance) VALUES (1, {balance})"),
        ],
    )
    .await;
    let lock = if db == Db::Sqlite { "" } else { " FOR UPDATE" };
    let p = |n| db.p(n);
    let yaml = format!(
        r#"
identifier: test.bank
appVersion: v1
{connection}queries:
  - name: lock-account
    query: SELECT balance FROM {accounts} WHERE id = {p1}{lock}
  - name: find-debit
    query: SELECT idem FROM {ledger} WHERE idem = {p1}
  - name: insert-debit
    query: INSERT INTO {ledger} (idem, account, amount) VALUES ({p1}, {p2}, {p3})
  - name: update-balance
    query: UPDATE {accounts} SET balance = balance - {p1} WHERE id = {p2}
components:
  - name: debit
    source: guest(debit)
    capabilities: {{ sql: {{ queries: [lock-account, find-debit, insert-debit, update-balance] }} }}
    limits: {{ timeout: 1s }}
handlers:
  - {{ type: request, method: POST, resource: /debit, steps: [ {{ fn: debit }} ] }}
"#,
        connection = db.connection(&file),
        p1 = p(1),
        p2 = p(2),
        p3 = p(3),
    );
    let mut config = runtime_config();
    config.engine.max_instances = max_instances;
    let server = TestServer::start_with_runtime(&yaml, config, ServerConfig::default()).await;
    Bank {
        db,
        file,
        accounts,
        ledger,
        server,
    }
}

impl Bank {
    async fn balance(&self) -> i64 {
        self.db
            .scalar(
                &self.file,
                &format!("SELECT balance FROM {} WHERE id = 1", self.accounts),
            )
            .await
    }

    async fn ledger_rows(&self) -> i64 {
        self.db
            .scalar(&self.file, &format!("SELECT COUNT(*) FROM {}", self.ledger))
            .await
    }
}

async fn a_trap_or_timeout_rolls_the_transaction_back(db: Db) {
    let bank = bank(db, 100, 64).await;
    let ok = bank
        .server
        .post("/debit?account=1&amount=10&key=k1", "")
        .await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "90"), "{}", ok.body);
    let trapped = bank
        .server
        .post("/debit?account=1&amount=10&key=k2&trap=1", "")
        .await;
    assert_eq!(trapped.status, 500);
    let timed_out = bank
        .server
        .post("/debit?account=1&amount=10&key=k3&sleep=3000", "")
        .await;
    assert_eq!(timed_out.status, 504);
    // Neither left a ledger row, nor held a lock: the next debit goes through.
    assert_eq!(bank.ledger_rows().await, 1);
    assert_eq!(bank.balance().await, 90);
    let next = bank
        .server
        .post("/debit?account=1&amount=5&key=k4", "")
        .await;
    assert_eq!(
        (next.status, next.body.as_str()),
        (200, "85"),
        "{}",
        next.body
    );
    let short = bank
        .server
        .post("/debit?account=1&amount=1000&key=k5", "")
        .await;
    assert_eq!(short.status, 402);
    let replay = bank
        .server
        .post("/debit?account=1&amount=5&key=k4", "")
        .await;
    assert_eq!(replay.body, "duplicate");
    assert_eq!(bank.balance().await, 85);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_trap_or_timeout_rolls_the_transaction_back() {
    a_trap_or_timeout_rolls_the_transaction_back(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_trap_or_timeout_rolls_the_transaction_back() {
    a_trap_or_timeout_rolls_the_transaction_back(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_a_trap_or_timeout_rolls_the_transaction_back() {
    a_trap_or_timeout_rolls_the_transaction_back(Db::MySql).await;
}

/// 100 concurrent debits of 7 (plus 20 replays of their keys) against a balance of 500: the
/// balance never goes below zero and every key is recorded once.
async fn concurrent_debits_never_overdraw(db: Db) {
    const BALANCE: i64 = 500;
    const AMOUNT: i64 = 7;
    let bank = bank(db, BALANCE, 256).await;
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let key = format!("key-{}", i % 100);
            let (client, url) = (
                bank.server.client.clone(),
                bank.server
                    .url(&format!("/debit?account=1&amount={AMOUNT}&key={key}")),
            );
            tokio::spawn(async move {
                let reply = client.post(url).send().await.unwrap();
                (reply.status().as_u16(), reply.text().await.unwrap())
            })
        })
        .collect();
    let mut debited = 0;
    let mut short = 0;
    for task in tasks {
        match task.await.unwrap() {
            (200, body) if body == "duplicate" => {}
            (200, _) => debited += 1,
            (402, _) => short += 1,
            (status, body) => panic!("unexpected {status}: {body}"),
        }
    }
    let balance = bank.balance().await;
    assert!(balance >= 0, "overdrawn: {balance}");
    assert_eq!(
        debited,
        BALANCE / AMOUNT,
        "as many debits as the balance allows"
    );
    assert_eq!(balance, BALANCE - debited * AMOUNT);
    assert_eq!(bank.ledger_rows().await, debited, "each recorded once");
    assert!(short > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_debits_never_overdraw() {
    concurrent_debits_never_overdraw(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_concurrent_debits_never_overdraw() {
    concurrent_debits_never_overdraw(Db::MySql).await;
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_fails_at_start_up_naming_it() {
    let app = crate::support::app(
        "identifier: t\nappVersion: v1\nconnections:\n  database: { type: postgresql, connectionString: \"postgres://karman:s3cret@127.0.0.1:1/x\" }\n",
    );
    let error = karman_runtime::Backends::connect(&app)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "test.yaml:4:15: cannot connect to the database postgres://<credentials>@127.0.0.1:1/x: error communicating with database: Connection refused"
        ),
        "{error}"
    );
    assert!(!error.contains("s3cret"));
}
