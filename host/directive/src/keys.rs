//! The keys of every mapping of the Directive, each set named beside the object of the JSON
//! Schema that describes it ([`JSON_SCHEMA`](crate::JSON_SCHEMA)).
//!
//! The parser checks the keys of a mapping only against a [`KeySet`], and a `KeySet` can only
//! be made here, where every one is listed in [`ALL`]: so every key the parser accepts is in
//! this file, and the test `tests/schema.rs` holds each set equal to the `properties` of its
//! schema object, both ways.
//!
//! ```
//! use karman_directive::keys;
//!
//! assert!(keys::COMPONENT.contains("capabilities"));
//! assert_eq!(keys::COMPONENT.schema_path(), "/$defs/component");
//! assert!(keys::ALL.iter().any(|set| set.schema_path().is_empty()), "the top level");
//! ```

/// The keys one kind of mapping accepts, and where the JSON Schema describes that mapping.
#[derive(Debug)]
pub struct KeySet {
    schema_path: &'static str,
    keys: &'static [&'static str],
}

impl KeySet {
    /// A JSON pointer into the schema to the object that describes this mapping (`""` for the
    /// top level). The object's `properties` may come through `$ref`, `allOf`, `anyOf`,
    /// `oneOf`, `then` and `else`.
    pub fn schema_path(&self) -> &'static str {
        self.schema_path
    }

    /// The accepted keys, in the order a hint lists them.
    pub fn keys(&self) -> &'static [&'static str] {
        self.keys
    }

    /// Whether `key` is accepted.
    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains(&key)
    }
}

/// Declares each key set as a constant, and [`ALL`] with every one of them.
macro_rules! key_sets {
    ($($(#[$doc:meta])* $name:ident at $path:literal = [$($key:literal),* $(,)?];)*) => {
        $(
            $(#[$doc])*
            pub const $name: KeySet = KeySet { schema_path: $path, keys: &[$($key),*] };
        )*
        /// Every key set of the Directive.
        pub const ALL: &[&KeySet] = &[$(&$name),*];
    };
}

key_sets! {
    /// The top level of the Directive.
    TOP_LEVEL at "" = [
        "identifier", "appVersion", "components", "handlers", "connections", "queries",
        "authentication", "schedules", "routes", "headless", "static",
    ];
    /// `headless: { auth }` (the mapping form of `headless:`).
    HEADLESS at "/$defs/headless" = ["auth"];
    /// `static: { dir, mount }` (the mapping form of `static:`).
    STATIC at "/$defs/static" = ["dir", "mount"];

    /// A component of `components:`.
    COMPONENT at "/$defs/component" = ["name", "source", "build", "capabilities", "limits", "reuse", "config", "imports"];
    /// The grants of a component (`capabilities:`).
    CAPABILITIES at "/$defs/capabilities" = ["cache", "log", "sql", "http", "graphql", "files"];
    /// `files: { path }`.
    FILES_GRANT at "/$defs/files-grant" = ["path"];
    /// `cache: { prefix }`.
    CACHE_GRANT at "/$defs/cache-grant" = ["prefix"];
    /// `sql: { queries, raw, write }`.
    SQL_GRANT at "/$defs/sql-grant" = ["queries", "raw", "write"];
    /// `http:` and `graphql:` grants.
    OUTBOUND_GRANT at "/$defs/outbound-grant" = ["allow", "allowPrivate"];
    /// A component's `limits:`.
    LIMITS at "/$defs/limits" = ["timeout", "memory"];
    /// A component's `reuse: { … }`.
    REUSE at "/$defs/reuse" = ["maxUses", "idleTimeout", "poolSize"];

    /// A handler of `handlers:`, request or stream (the keys of both).
    HANDLER at "/$defs/handler" = [
        "type", "method", "resource", "state", "steps", "response", "source", "respondTo",
        "stream", "durable", "maxDeliver", "deadLetter", "maxInFlight", "rateLimit",
    ];
    /// `rateLimit: { endpoint, caller }` of a handler or an endpoint.
    RATE_LIMIT at "/$defs/rate-limit" = ["endpoint", "caller"];
    /// A step of `steps:`.
    STEP at "/$defs/step" = ["fn", "group", "as", "with", "onErr", "retry"];
    /// A step of a `group:`.
    GROUP_MEMBER at "/$defs/group-member" = ["fn", "as", "with", "onErr", "retry"];
    /// A step's `onErr:`.
    ON_ERR at "/$defs/on-err" = ["any", "code", "other"];
    /// A step's `retry:`.
    RETRY at "/$defs/retry" = ["attempts", "backoff", "on"];

    /// `connections:`.
    CONNECTIONS at "/$defs/connections" = ["redis", "database", "nats", "kafka"];
    /// `connections.redis`.
    REDIS at "/$defs/redis" = ["serverAddress", "username", "password", "database", "caFile", "certFile", "keyFile"];
    /// `connections.database`.
    DATABASE at "/$defs/database" = [
        "type", "connectionString", "maxConnections", "maxRows", "maxResultBytes",
    ];
    /// `connections.nats`.
    NATS at "/$defs/nats" = ["serverAddress", "token", "user", "password", "nkey", "credentials", "tls"];
    /// `connections.nats.tls`.
    NATS_TLS at "/$defs/nats-tls" = ["caFile", "certFile", "keyFile", "required"];
    /// `connections.kafka`.
    KAFKA at "/$defs/kafka" = ["brokers", "group", "sessionTimeout", "properties"];

    /// A query of `queries:`.
    QUERY at "/$defs/query" = ["name", "query", "type", "varCount"];

    /// `authentication:`.
    AUTHENTICATION at "/$defs/authentication" = ["domains", "jwt"];
    /// The credential of a domain under `authentication.domains`.
    CREDENTIAL at "/$defs/credential" = ["headerType", "value"];
    /// `authentication.jwt`.
    JWT at "/$defs/jwt" = [
        "algorithm", "secret", "publicKey", "jwks", "issuer", "audience", "leeway", "rolesClaim",
    ];

    /// A schedule of `schedules:`.
    SCHEDULE at "/$defs/schedule" = ["name", "every", "cron", "state", "steps", "response"];
    /// A schedule's `every:`.
    EVERY at "/$defs/every" = ["seconds", "minutes", "hours", "days"];

    /// A route of `routes:`.
    ROUTE at "/$defs/route" = ["plugin", "component", "endpoints"];
    /// An endpoint of a route's `endpoints:`.
    ENDPOINT at "/$defs/endpoint" = ["method", "path", "auth", "rateLimit", "maxBody", "timeout"];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_key_sets_describe_the_same_schema_object() {
        let mut paths: Vec<&str> = ALL.iter().map(|set| set.schema_path()).collect();
        paths.sort_unstable();
        let count = paths.len();
        paths.dedup();
        assert_eq!(paths.len(), count, "a schema path appears twice: {paths:?}");
    }

    #[test]
    fn no_key_set_lists_a_key_twice() {
        for set in ALL {
            let mut keys = set.keys().to_vec();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), set.keys().len(), "{}", set.schema_path());
        }
    }
}
