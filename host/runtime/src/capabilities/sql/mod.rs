//! `karman:runnable/sql`: named queries, raw SQL, transactions and batches on SQLite,
//! PostgreSQL or MySQL/MariaDB (sqlx pools, shared by all instances).
//!
//! | grant in the Directive                  | the component may                               |
//! |-----------------------------------------|-------------------------------------------------|
//! | (none)                                  | nothing: every call fails with `denied`         |
//! | `sql: { queries: [a, b] }`              | run the named queries `a` and `b`               |
//! | `sql: { …, raw: true }`                 | also run raw SQL, with bound parameters         |
//! | `sql: { …, write: false }`              | only read: raw SQL must be a read, and every statement runs on a read-only connection (SQLite) or in a read-only transaction (PostgreSQL, MySQL), so the database refuses writes |
//!
//! Raw SQL is checked first ([`classify`]): one statement; no transaction control, session
//! state, host files or server administration.
//!
//! A transaction holds a connection of its own until `commit` or `rollback`; dropped otherwise
//! (by the guest, or with the instance after a trap or a timeout) it is rolled back.
//!
//! One code path serves the three: [`pools`] runs pools, statements, transactions and rows
//! for any [`dialect::Dialect`], and each backend file ([`sqlite`], [`postgres`], [`mysql`])
//! implements only what differs (connect options, NULL binding, read-only mode, decoding).

pub(crate) mod access;
mod backend;
mod classify;
mod dialect;
mod error;
mod host;
mod lexer;
mod mysql;
mod pools;
mod postgres;
mod running;
mod sqlite;

pub(crate) use access::{SqlAccess, SqlCtx};
pub use backend::SqlBackend;
pub use error::SqlError;
pub(crate) use host::{Sql, SqlView};
