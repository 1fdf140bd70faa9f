//! The SQL databases of this machine, for tests that run the same case on each: SQLite (a
//! file under `target/`), PostgreSQL (127.0.0.1:5432, db `test`) and MariaDB (127.0.0.1:3306,
//! db `test`).

use sqlx::AssertSqlSafe;

use super::{repo_root, unique};

/// One of the three databases.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Db {
    Sqlite,
    Postgres,
    MySql,
}

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

impl Db {
    /// The `connections.database` of a test app.
    pub fn connection(self, sqlite_file: &str) -> String {
        match self {
            Db::Sqlite => format!(
                "connections:\n  database: {{ type: sqlite, connectionString: {sqlite_file} }}\n"
            ),
            Db::Postgres => format!(
                "connections:\n  database: {{ type: postgresql, connectionString: \"{POSTGRES_URL}\" }}\n"
            ),
            Db::MySql => format!(
                "connections:\n  database: {{ type: mysql, connectionString: \"{MYSQL_URL}\" }}\n"
            ),
        }
    }

    /// The `n`-th parameter placeholder.
    pub fn p(self, n: usize) -> String {
        match self {
            Db::MySql => "?".into(),
            _ => format!("${n}"),
        }
    }

    /// Runs setup statements directly (not through Karman).
    pub async fn setup(self, sqlite_file: &str, statements: &[String]) {
        match self {
            Db::Sqlite => {
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    repo_root().join(sqlite_file).display()
                );
                let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
                for s in statements {
                    sqlx::query(AssertSqlSafe(s.clone()))
                        .execute(&pool)
                        .await
                        .unwrap();
                }
            }
            Db::Postgres => {
                let pool = sqlx::PgPool::connect(POSTGRES_URL).await.unwrap();
                for s in statements {
                    sqlx::query(AssertSqlSafe(s.clone()))
                        .execute(&pool)
                        .await
                        .unwrap();
                }
            }
            Db::MySql => {
                let pool = sqlx::MySqlPool::connect(MYSQL_URL).await.unwrap();
                for s in statements {
                    sqlx::query(AssertSqlSafe(s.clone()))
                        .execute(&pool)
                        .await
                        .unwrap();
                }
            }
        }
    }

    /// A single integer from the database.
    pub async fn scalar(self, sqlite_file: &str, sql: &str) -> i64 {
        let sql = AssertSqlSafe(sql.to_string());
        match self {
            Db::Sqlite => {
                let url = format!("sqlite://{}", repo_root().join(sqlite_file).display());
                let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
            Db::Postgres => {
                let pool = sqlx::PgPool::connect(POSTGRES_URL).await.unwrap();
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
            Db::MySql => {
                let pool = sqlx::MySqlPool::connect(MYSQL_URL).await.unwrap();
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        }
    }
}

pub fn sqlite_file() -> String {
    std::fs::create_dir_all(repo_root().join("target/karman-test-tmp")).unwrap();
    format!("target/karman-test-tmp/{}.sqlite", unique("db"))
}
