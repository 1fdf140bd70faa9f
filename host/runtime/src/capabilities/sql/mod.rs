//! `karman:runnable/sql`: named queries, raw SQL, transactions and batches on SQLite,
//! PostgreSQL or MySQL/MariaDB (sqlx pools, shared by all instances).
//!
//! | grant in the Directive                  | the component may                               |
//! |-----------------------------------------|-------------------------------------------------|
//! | (none)                                  | nothing: every call fails with `denied`         |
//! | `sql: { queries: [a, b] }`              | run the named queries `a` and `b`               |
//! | `sql: { …, raw: true }`                 | also run raw SQL, with bound parameters         |
//! | `sql: { …, write: false }`              | only read: every statement runs in a read-only transaction, so the database refuses writes |
//!
//! A transaction holds a connection of its own until `commit` or `rollback`; dropped otherwise
//! (by the guest, or with the instance after a trap or a timeout) it is rolled back.
//!
//! One code path serves the three: [`pools`] runs pools, statements, transactions and rows
//! for any [`dialect::Dialect`], and each backend file ([`sqlite`], [`postgres`], [`mysql`])
//! implements only what differs (connect options, NULL binding, read-only mode, decoding).

pub(crate) mod access;
mod backend;
mod dialect;
mod error;
mod host;
mod mysql;
mod pools;
mod postgres;
mod sqlite;

pub(crate) use access::{SqlAccess, SqlCtx};
pub use backend::SqlBackend;
pub use error::SqlError;
pub(crate) use host::{Sql, SqlView};
