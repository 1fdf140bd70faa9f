//! Karman's integration tests: the real server on port 0 (or the real binary), real guest
//! components built by `scripts/build-guests`, real HTTP requests.
//!
//! One test binary for the whole project; each module covers one area.

mod background;
mod bundle;
mod capabilities;
mod conformance;
mod dev;
mod examples;
mod export;
mod faults;
mod flags;
mod graph;
mod guests;
mod headless;
mod hostile;
mod install;
mod kafka;
mod links;
mod loading;
mod observability;
mod outages;
mod outbound;
mod outside;
mod packages;
mod reload;
mod replicas;
mod retries;
mod reuse;
mod routes;
mod schema;
mod sequences;
mod server;
mod sql;
mod standard;
mod static_files;
mod streams;
mod support;
mod tls;
mod toolchain;
mod traces;
mod upstream;
mod wasmtime_serve;
mod wit_copies;
