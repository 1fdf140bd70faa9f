//! The standing hostile suites: guests, clients and upstreams that try to escape their grants
//! or exhaust the host. Each case asserts the exact answer and that the host still serves
//! afterwards; docs/security.md names the test behind each limit.

mod guests;
mod http;
mod outbound;
mod sql;
mod ssrf;
mod streams;
