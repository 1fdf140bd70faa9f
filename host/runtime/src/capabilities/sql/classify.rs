//! What raw SQL may be, checked before it reaches the database, the same way on every dialect
//! (each gives its [`Rules`]):
//!
//! - one statement per call (a single trailing `;` is fine);
//! - no transaction control (`BEGIN`, `COMMIT`, `SAVEPOINT`, …): transactions go through the
//!   capability's `begin`, so a read-only transaction cannot be ended from inside;
//! - no session state (`SET`, `RESET`, `PREPARE`, `set_config(…)`, …): a pooled connection
//!   serves other components next;
//! - nothing that reaches the host's files (`ATTACH`, `VACUUM`, `PRAGMA`, `load_extension`,
//!   `COPY`, `INTO OUTFILE`, …) or administers the server (`ALTER SYSTEM`, `KILL`, …);
//! - under a read-only grant, only reads (`SELECT`, `WITH`, `VALUES`, `TABLE`, `SHOW`, …),
//!   inside the read-only transaction or connection the dialect enforces besides.
//!
//! Words are read by [`super::lexer`], so text in literals, quoted names and comments neither
//! hides a statement nor trips a check.

use super::error::SqlError;
use super::lexer::{Lexicon, Statement, statements};

/// Why a statement is refused.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Reason {
    /// It begins, ends or marks a transaction.
    Transaction,
    /// It changes the connection's session, which the pool shares.
    Session,
    /// It reaches the host's files.
    HostFiles,
    /// It administers the server.
    Administration,
    /// It runs code this check cannot read.
    Code,
}

impl Reason {
    fn explain(self) -> &'static str {
        match self {
            Reason::Transaction => {
                "transactions are begun and ended through the sql capability (`begin`, `commit`, `rollback`)"
            }
            Reason::Session => {
                "it changes the connection's session, which the pool shares with other components"
            }
            Reason::HostFiles => "it reaches the host's files",
            Reason::Administration => "it administers the database server",
            Reason::Code => "it runs code this check cannot read",
        }
    }
}

/// A dialect's rules for raw SQL.
#[derive(Debug)]
pub(super) struct Rules {
    /// How it reads quotes and comments.
    pub(super) lexicon: Lexicon,
    /// Statements refused by their first words.
    pub(super) leading: &'static [(&'static [&'static str], Reason)],
    /// Words (keywords, function names, quoted or not) refused wherever they appear.
    pub(super) anywhere: &'static [(&'static str, Reason)],
    /// Catalog tables that may be read, not written (a statement naming one, even as a string,
    /// may not hold a writing keyword).
    pub(super) catalog: &'static [&'static str],
}

/// Words that begin a statement that only reads.
const READS: &[&str] = &[
    "SELECT", "WITH", "VALUES", "TABLE", "SHOW", "DESCRIBE", "DESC",
];

/// Words that make a statement write.
const WRITES: &[&str] = &[
    "INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "UPSERT",
];

/// Words before the statement an `EXPLAIN` shows (or runs).
const EXPLAIN: &[&str] = &["EXPLAIN", "ANALYZE", "ANALYSE", "VERBOSE", "QUERY", "PLAN"];

/// Checks raw SQL against `rules`; `read_only` for a component granted `write: false`.
pub(super) fn check_raw(sql: &str, rules: &Rules, read_only: bool) -> Result<(), SqlError> {
    let statements: Vec<Statement> = statements(sql, &rules.lexicon)?
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let statement = match statements.as_slice() {
        [one] => one,
        [] => return Err(SqlError::Invalid("sql: the SQL holds no statement".into())),
        many => {
            return Err(SqlError::Invalid(format!(
                "sql: raw SQL is one statement per call; this holds {} (separated by `;`)",
                many.len()
            )));
        }
    };
    check_statement(statement, rules, read_only)
}

fn refuse(word: &str, reason: Reason) -> SqlError {
    SqlError::Refused(format!(
        "sql: raw SQL may not use `{word}`: {}",
        reason.explain()
    ))
}

fn check_statement(statement: &Statement, rules: &Rules, read_only: bool) -> Result<(), SqlError> {
    let explained = statement
        .words
        .iter()
        .position(|w| !EXPLAIN.contains(&w.as_str()))
        .unwrap_or(statement.words.len());
    for words in [&statement.words[..], &statement.words[explained..]] {
        for (prefix, reason) in rules.leading {
            if words.len() >= prefix.len() && words.iter().zip(prefix.iter()).all(|(w, p)| w == p) {
                return Err(refuse(&prefix.join(" "), *reason));
            }
        }
    }
    let names = statement.words.iter().chain(&statement.quoted_names);
    for name in names {
        if let Some((word, reason)) = rules.anywhere.iter().find(|(w, _)| w == name) {
            return Err(refuse(word, *reason));
        }
    }
    let mut mentioned = statement
        .words
        .iter()
        .chain(&statement.quoted_names)
        .chain(&statement.strings);
    if let Some(table) = mentioned.find(|n| rules.catalog.contains(&n.as_str()))
        && let Some(write) = statement
            .words
            .iter()
            .find(|w| WRITES.contains(&w.as_str()))
    {
        return Err(SqlError::Refused(format!(
            "sql: raw SQL may not `{write}` with the catalog table `{}`",
            table.to_lowercase()
        )));
    }
    let first = statement.words.get(explained).map(String::as_str);
    if read_only && !first.is_some_and(|w| READS.contains(&w)) {
        return Err(SqlError::ReadOnly);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::mysql::RULES as MYSQL;
    use super::super::postgres::RULES as POSTGRES;
    use super::super::sqlite::RULES as SQLITE;
    use super::*;

    const ALL: [(&str, &Rules); 3] = [
        ("sqlite", &SQLITE),
        ("postgres", &POSTGRES),
        ("mysql", &MYSQL),
    ];

    fn check(sql: &str, rules: &Rules, read_only: bool) -> Result<(), String> {
        check_raw(sql, rules, read_only).map_err(|e| e.to_string())
    }

    #[test]
    fn one_statement_with_an_optional_trailing_semicolon() {
        for (name, rules) in ALL {
            assert_eq!(check("SELECT 1", rules, false), Ok(()), "{name}");
            assert_eq!(check("SELECT 1;", rules, false), Ok(()), "{name}");
            assert_eq!(
                check("SELECT 1 ; -- done\n", rules, false),
                Ok(()),
                "{name}"
            );
            assert_eq!(
                check("SELECT 1; SELECT 2", rules, false),
                Err(
                    "sql: raw SQL is one statement per call; this holds 2 (separated by `;`)"
                        .into()
                ),
                "{name}"
            );
            assert_eq!(
                check("SELECT 1;DELETE FROM t;", rules, false).unwrap_err(),
                "sql: raw SQL is one statement per call; this holds 2 (separated by `;`)",
                "{name}"
            );
            // A `;` in a literal, a quoted name or a comment separates nothing.
            assert_eq!(check("SELECT ';' AS x", rules, false), Ok(()), "{name}");
            assert_eq!(
                check("SELECT 1 /* ; DELETE FROM t */", rules, false),
                Ok(()),
                "{name}"
            );
            assert_eq!(
                check("SELECT 1 -- ; DELETE FROM t", rules, false),
                Ok(()),
                "{name}"
            );
            assert_eq!(
                check("SELECT 'it''s; fine'", rules, false),
                Ok(()),
                "{name}"
            );
            assert!(check("", rules, false).is_err(), "{name}");
            assert!(
                check("SELECT 'unterminated", rules, false).is_err(),
                "{name}"
            );
            assert!(
                check("SELECT 1 /* unterminated", rules, false).is_err(),
                "{name}"
            );
        }
        assert_eq!(check("SELECT \"a;b\" FROM t", &SQLITE, false), Ok(()));
        assert_eq!(check("SELECT [a;b] FROM t", &SQLITE, false), Ok(()));
        assert_eq!(check("SELECT `a;b` FROM t", &MYSQL, false), Ok(()));
        assert_eq!(check("SELECT $x$;COMMIT$x$", &POSTGRES, false), Ok(()));
        assert_eq!(check("SELECT $$;$$", &POSTGRES, false), Ok(()));
        assert_eq!(check("SELECT E'\\';COMMIT'", &POSTGRES, false), Ok(()));
        assert_eq!(check("SELECT 1 /* /* ; */ ; */", &POSTGRES, false), Ok(()));
        assert_eq!(check("SELECT 1 # ; COMMIT", &MYSQL, false), Ok(()));
    }

    #[test]
    fn the_lexer_reads_as_each_database_does() {
        // PostgreSQL: `[` is a subscript, not a quote; `#` is an operator, not a comment.
        assert!(check("SELECT a[1];COMMIT]", &POSTGRES, false).is_err());
        assert!(check("SELECT 1 # 2;COMMIT", &POSTGRES, false).is_err());
        // SQLite and PostgreSQL: `/*` comments do not nest in SQLite.
        assert!(check("SELECT 1 /* /* */ ; COMMIT */", &SQLITE, false).is_err());
        // MySQL: `--` without a space is two minus signs, so what follows is code.
        assert!(check("SELECT 1--1;COMMIT", &MYSQL, false).is_err());
        // MySQL: `/*! … */` runs its content.
        assert!(check("SELECT 1 /*! ; COMMIT */", &MYSQL, false).is_err());
        assert!(check("SELECT 1 /*!50000 , 2 */", &MYSQL, false).is_err());
        // A backslash in a plain literal depends on a server setting: refused there.
        assert!(check("SELECT 'a\\'; COMMIT; --'", &MYSQL, false).is_err());
        assert!(check("SELECT 'a\\'; COMMIT; --'", &POSTGRES, false).is_err());
        assert!(check("SELECT \"a\\\"; COMMIT; --\"", &MYSQL, false).is_err());
        assert_eq!(check("SELECT 'a\\'", &SQLITE, false), Ok(()));
        // In SQLite a backslash is an ordinary character.
        assert!(check("SELECT 'a\\'; COMMIT; --'", &SQLITE, false).is_err());
    }

    #[test]
    fn transaction_control_and_session_state_are_refused() {
        for (name, rules) in ALL {
            for sql in [
                "COMMIT",
                "commit;",
                "ROLLBACK",
                "BEGIN",
                "SAVEPOINT s",
                "RELEASE s",
                "  /* hi */ Rollback",
            ] {
                let error = check(sql, rules, false).unwrap_err();
                assert!(
                    error.contains("transactions are begun and ended"),
                    "{name} {sql}: {error}"
                );
            }
        }
        for (name, rules) in [("postgres", &POSTGRES), ("mysql", &MYSQL)] {
            for sql in [
                "SET TRANSACTION READ WRITE",
                "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
                "set autocommit = 1",
                "START TRANSACTION",
                "PREPARE s FROM 'x'",
                "EXECUTE s",
                "RESET ALL",
            ] {
                assert!(check(sql, rules, false).is_err(), "{name} {sql}");
            }
        }
        for sql in [
            "END",
            "ABORT",
            "DISCARD ALL",
            "PREPARE TRANSACTION 'x'",
            "SELECT set_config('transaction_read_only', 'off', false)",
            "SELECT \"set_config\"('x', 'y', false)",
            "DO $$ BEGIN EXECUTE 'SET ROLE postgres'; END $$",
            "LISTEN x",
            "SET ROLE postgres",
        ] {
            assert!(check(sql, &POSTGRES, false).is_err(), "{sql}");
        }
        for sql in ["USE mysql", "LOCK TABLES t WRITE", "XA START 'x'"] {
            assert!(check(sql, &MYSQL, false).is_err(), "{sql}");
        }
        // Words that only look alike pass.
        assert_eq!(check("UPDATE t SET a = 1", &POSTGRES, false), Ok(()));
        assert_eq!(
            check("SELECT CASE WHEN a THEN 1 END FROM t", &POSTGRES, false),
            Ok(())
        );
        assert_eq!(
            check("SELECT 'COMMIT', \"commit_id\" FROM t", &POSTGRES, false),
            Ok(())
        );
        assert_eq!(
            check(
                "CREATE TEMP TABLE t (a INT) ON COMMIT DROP",
                &POSTGRES,
                false
            ),
            Ok(())
        );
    }

    #[test]
    fn the_host_files_are_out_of_reach() {
        for sql in [
            "ATTACH DATABASE '/tmp/x.db' AS x",
            "attach '/tmp/x.db' as x",
            "DETACH x",
            "VACUUM INTO '/tmp/copy.db'",
            "VACUUM",
            "PRAGMA query_only = OFF",
            "pragma writable_schema = 1",
            "EXPLAIN PRAGMA query_only = OFF",
            "SELECT load_extension('/tmp/evil.so')",
            "SELECT \"load_extension\"('/tmp/evil.so')",
            "SELECT [load_extension]('/tmp/evil.so')",
            "UPDATE sqlite_master SET sql = 'x'",
            "DELETE FROM 'sqlite_master'",
            "INSERT INTO \"sqlite_schema\" VALUES (1)",
        ] {
            let error = check(sql, &SQLITE, false).unwrap_err();
            assert!(error.starts_with("sql: raw SQL may not"), "{sql}: {error}");
        }
        assert_eq!(
            check("SELECT name FROM sqlite_master", &SQLITE, false),
            Ok(())
        );
        assert_eq!(
            check("SELECT 'attach', 'pragma' AS x", &SQLITE, false),
            Ok(())
        );
        for sql in [
            "COPY t TO '/tmp/x'",
            "COPY (SELECT 1) TO PROGRAM 'id'",
            "SELECT pg_read_file('/etc/passwd')",
            "SELECT lo_import('/etc/passwd')",
            "LOAD '/tmp/evil.so'",
            "ALTER SYSTEM SET work_mem = '1GB'",
            "SELECT pg_terminate_backend(1)",
        ] {
            assert!(check(sql, &POSTGRES, false).is_err(), "{sql}");
        }
        for sql in [
            "SELECT * FROM t INTO OUTFILE '/tmp/x'",
            "SELECT 1 INTO DUMPFILE '/tmp/x'",
            "SELECT LOAD_FILE('/etc/passwd')",
            "LOAD DATA INFILE '/etc/passwd' INTO TABLE t",
            "KILL 1",
        ] {
            assert!(check(sql, &MYSQL, false).is_err(), "{sql}");
        }
    }

    #[test]
    fn a_read_only_grant_runs_only_reads() {
        for (name, rules) in ALL {
            for sql in [
                "SELECT 1",
                "WITH a AS (SELECT 1) SELECT * FROM a",
                "(SELECT 1)",
                "EXPLAIN SELECT 1",
            ] {
                assert_eq!(check(sql, rules, true), Ok(()), "{name} {sql}");
            }
            for sql in [
                "DELETE FROM t",
                "INSERT INTO t VALUES (1)",
                "CREATE TABLE t (a INT)",
                "DROP TABLE t",
                "TRUNCATE t",
                "CALL p()",
            ] {
                assert_eq!(
                    check(sql, rules, true),
                    Err("sql: this component is granted read-only access".into()),
                    "{name} {sql}"
                );
                assert_eq!(check(sql, rules, false), Ok(()), "{name} {sql}");
            }
        }
    }
}
