//! What differs between SQLite, PostgreSQL and MySQL: the [`Dialect`] trait each backend file
//! implements, and how its `decode` turns a column into a `value` ([`ReadValue`]). Everything
//! else is written once over it, in [`super::pools`].

use std::sync::Arc;

use sqlx::types::chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::types::{Decimal, JsonValue, Uuid};
use sqlx::{ColumnIndex, Connection, Database, Decode, Encode, Row, Type};

use super::classify::Rules;
use crate::bindings::sql::Value;

/// A boxed future that may move between threads.
pub(super) type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The options a database's connections are opened with.
pub(super) type Options<DB> = <<DB as Database>::Connection as Connection>::Options;

/// The options of a read-only pool, from the writer pool's.
pub(super) type ReaderOptions<DB> = fn(&Options<DB>) -> Options<DB>;

/// How a dialect keeps a component with a read-only grant from writing.
#[derive(Debug)]
pub(super) enum ReadOnly<T> {
    /// Its statements run on a second pool whose connections cannot write.
    Pool(T),
    /// Its statements run on the writer pool, in transactions begun with this statement.
    Begin(&'static str),
}

impl<T> ReadOnly<T> {
    /// The same way, with what stands for the second pool turned into another thing.
    pub(super) fn map<U>(self, open: impl FnOnce(T) -> U) -> ReadOnly<U> {
        match self {
            Self::Pool(pool) => ReadOnly::Pool(open(pool)),
            Self::Begin(statement) => ReadOnly::Begin(statement),
        }
    }
}

/// A database sqlx drives, with what differs between the databases Karman supports.
pub(super) trait Dialect: Database {
    /// The database as a metric label: `sqlite`, `postgres` or `mysql`.
    const LABEL: &'static str;

    /// What a `null` parameter is bound as.
    type Null: for<'q> Encode<'q, Self> + Type<Self> + Default;

    /// The options of the Directive's connection URL.
    fn connect_options(url: &str) -> Result<Options<Self>, sqlx::Error> {
        url.parse()
    }

    /// How a read-only grant is enforced (for a second pool: its options, from the writer's).
    const READ_ONLY: ReadOnly<ReaderOptions<Self>>;

    /// What raw SQL may be on this database.
    const RULES: &'static Rules;

    /// What cancels the statement one connection runs, from another task.
    type Cancel: Send + 'static;

    /// Arms a cancel for the statement about to run on `conn` (`options` open the connection a
    /// server-side cancel is sent from).
    fn arm<'c>(
        conn: &'c mut Self::Connection,
        options: &Arc<Options<Self>>,
    ) -> BoxFuture<'c, Result<Self::Cancel, sqlx::Error>>;

    /// Cancels the statement `conn` runs, if it still runs, so the connection is free again.
    fn cancel(cancel: Self::Cancel, conn: &mut Self::Connection) -> BoxFuture<'_, ()>;

    /// The value of column `index`, not NULL, whose type the database names `type_name`.
    fn decode(row: &Self::Row, index: usize, type_name: &str) -> Result<Value, sqlx::Error>;

    /// How many rows a statement affected.
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

/// A column read back as a `value`: what [`Dialect::decode`] does with each type it knows.
pub(super) trait ReadValue: Row {
    /// Column `index` read as a `T`, as the `value` a `T` becomes.
    fn read<'r, T>(&'r self, index: usize) -> Result<Value, sqlx::Error>
    where
        T: IntoValue + Decode<'r, Self::Database> + Type<Self::Database>;

    /// Column `index`, of a type the dialect has no other reading for: its text, if it has one.
    fn text(&self, index: usize, type_name: &str) -> Result<Value, sqlx::Error>
    where
        for<'r> String: Decode<'r, Self::Database> + Type<Self::Database>,
    {
        self.read::<String>(index).map_err(|_| {
            sqlx::Error::Decode(
                format!("columns of type {type_name} are not supported; cast the column to text")
                    .into(),
            )
        })
    }
}

impl<R: Row> ReadValue for R
where
    usize: ColumnIndex<R>,
{
    fn read<'r, T>(&'r self, index: usize) -> Result<Value, sqlx::Error>
    where
        T: IntoValue + Decode<'r, R::Database> + Type<R::Database>,
    {
        self.try_get::<T, _>(index).map(T::into_value)
    }
}

/// A Rust value read from a column, and the `value` the guest gets for it. Timestamps, dates,
/// decimals, UUIDs and JSON become text (RFC 3339 for timestamps); an unsigned 64-bit integer
/// too large for `s64` becomes its digits.
pub(super) trait IntoValue {
    /// The `value` for the guest.
    fn into_value(self) -> Value;
}

/// `IntoValue` for types that convert into a variant's payload.
macro_rules! into_value {
    ($($variant:ident: $($t:ty),+;)+) => {$($(
        impl IntoValue for $t {
            fn into_value(self) -> Value {
                Value::$variant(self.into())
            }
        }
    )+)+};
}

into_value! {
    Boolean: bool;
    Int: i8, i16, i32, i64, u8, u16, u32;
    Float: f32, f64;
    Text: String;
    Blob: Vec<u8>;
}

/// `IntoValue` for types given as their `Display` text.
macro_rules! into_text {
    ($($t:ty),+) => {$(
        impl IntoValue for $t {
            fn into_value(self) -> Value {
                Value::Text(self.to_string())
            }
        }
    )+};
}

into_text!(Decimal, NaiveDate, NaiveTime, JsonValue, Uuid);

impl IntoValue for u64 {
    fn into_value(self) -> Value {
        i64::try_from(self).map_or_else(|_| Value::Text(self.to_string()), Value::Int)
    }
}

impl IntoValue for DateTime<Utc> {
    fn into_value(self) -> Value {
        Value::Text(self.to_rfc3339())
    }
}

impl IntoValue for NaiveDateTime {
    fn into_value(self) -> Value {
        Value::Text(self.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
    }
}
