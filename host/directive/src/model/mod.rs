//! The model: the types of a validated, resolved [`App`], which the runtime reads. No parsing
//! here beyond a type's own small `parse` ([`Resource::parse`], [`HostPattern::parse`]): the
//! parsers live in `crate::parse`, above.

mod app;
mod auth;
mod component;
mod connections;
mod grants;
mod handler;
mod query;
mod resource;
mod route;
mod sequence;
mod subject;

pub use app::{App, DEFAULT_STATIC_DIR, StaticMount};
pub use auth::{
    Authentication, DEFAULT_JWT_LEEWAY, DEFAULT_ROLES_CLAIM, DomainCredential, Jwt, JwtKey,
};
pub use component::{
    Component, ComponentId, ComponentLink, DEFAULT_MEMORY, DEFAULT_REUSE_IDLE_TIMEOUT,
    DEFAULT_REUSE_MAX_USES, DEFAULT_REUSE_POOL_SIZE, DEFAULT_TIMEOUT, Limits, MAX_MEMORY,
    MAX_TIMEOUT, Reuse,
};
pub use connections::{
    ClientCertificate, Connections, DEFAULT_KAFKA_SESSION_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RESULT_BYTES, DEFAULT_MAX_ROWS, DEFAULT_SQLITE_FILE, DatabaseConnection,
    DatabaseKind, KafkaConnection, NatsConnection, NatsTls, RedisConnection, redact_url,
};
pub use grants::{CacheGrant, FilesGrant, Grants, HostPattern, OutboundGrant, SqlGrant};
pub use handler::{
    DEFAULT_MAX_DELIVER, DEFAULT_MAX_IN_FLIGHT, JetStreamOptions, RequestHandler, Schedule,
    StreamHandler, StreamSource, Trigger,
};
pub use query::Query;
pub use resource::{Resource, Segment};
pub use route::{Access, Endpoint, EndpointTerms, Headless, RateLimit, RateLimits, Route};
pub use sequence::{
    DEFAULT_RETRY_BACKOFF, DEFAULT_RETRY_ON, ErrAction, FnStep, MAX_RETRY_ATTEMPTS,
    MAX_RETRY_BACKOFF, MAX_RETRY_WAIT, OnErr, Retry, Sequence, Step,
};
pub use subject::subject_matches;
