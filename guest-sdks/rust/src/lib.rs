//! Write Karman Runnables in Rust.
//!
//! A Runnable is a WebAssembly component of the `karman:runnable/runnable` world (the WIT
//! package ships in this crate's `wit/`). This crate generates its bindings with `wit-bindgen`
//! and adds a thin layer: the [`Runnable`] trait, the [`export!`] macro, [`RunErr`], and one
//! module per capability.
//!
//! ```
//! use karman_sdk::{req, RunErr, Runnable};
//!
//! struct Hello;
//!
//! impl Runnable for Hello {
//!     fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
//!         let name = req::url_param("name").unwrap_or_else(|| "world".into());
//!         Ok(format!("Hello, {name}!").into_bytes())
//!     }
//! }
//!
//! karman_sdk::export!(Hello);
//! ```
//!
//! Build with `cargo build --target wasm32-wasip2 --release` (crate type `cdylib`) or
//! `cargo component build --release`. Only the capabilities a Runnable calls end up among its
//! imports, so a Runnable that never touches the cache does not import it.

extern crate self as karman_sdk;

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// The raw bindings generated from the WIT package, for what the modules below do not cover.
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "karman:runnable/runnable",
        pub_export_macro: true,
        export_macro_name: "__export_runnable",
        default_bindings_module: "::karman_sdk::bindings",
        runtime_path: "::karman_sdk::__wit_bindgen::rt",
    });
}

use bindings::karman::runnable::types::{CapError, RunError};

/// A step of a Directive handler. Implement it and pass the type to [`export!`].
pub trait Runnable {
    /// Runs the step. `input` is the request body (or message payload). The output is stored
    /// in the state under the step's name and, for the last step, is the response body.
    fn run(input: Vec<u8>) -> Result<Vec<u8>, RunErr>;
}

/// An error ending a step: `code` becomes the HTTP status unless the Directive's `onErr`
/// continues the sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunErr {
    /// An HTTP-style status code.
    pub code: u16,
    /// The reason, returned to the client.
    pub message: String,
}

impl RunErr {
    /// An error with `code` and `message`.
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for RunErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// A failed capability call becomes a run error with a fitting status, so `?` works in `run`:
/// denied → 403, not-found → 404, invalid → 400, unavailable → 503, other → 500.
impl From<CapError> for RunErr {
    fn from(error: CapError) -> Self {
        match error {
            CapError::Denied(message) => RunErr::new(403, message),
            CapError::NotFound(message) => RunErr::new(404, message),
            CapError::Invalid(message) => RunErr::new(400, message),
            CapError::Unavailable(message) => RunErr::new(503, message),
            CapError::Other(message) => RunErr::new(500, message),
        }
    }
}

impl From<RunErr> for RunError {
    fn from(error: RunErr) -> Self {
        RunError {
            code: error.code,
            message: error.message,
        }
    }
}

/// Exports a [`Runnable`] as the component's `run`.
#[macro_export]
macro_rules! export {
    ($runnable:ty) => {
        const _: () = {
            struct KarmanExport;

            impl $crate::bindings::Guest for KarmanExport {
                fn run(
                    input: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<u8>,
                    $crate::bindings::karman::runnable::types::RunError,
                > {
                    <$runnable as $crate::Runnable>::run(input).map_err(::std::convert::Into::into)
                }
            }

    $crate::bindings::__export_runnable!(KarmanExport with_types_in $crate::bindings);
        };
    };
}

/// The request or message that started the run, and the state shared by its steps.
pub mod req {
    pub use crate::bindings::karman::runnable::req::*;

    /// The request body as text (lossy UTF-8).
    pub fn body_text() -> String {
        String::from_utf8_lossy(&body()).into_owned()
    }

    /// A state value as text (lossy UTF-8).
    pub fn state_text(key: &str) -> Option<String> {
        state(key).map(|value| String::from_utf8_lossy(&value).into_owned())
    }
}

/// The app's static files (needs a `files` grant, possibly confined to a sub-directory):
/// the directory the Directive's `static:` names, read-only.
///
/// ```no_run
/// # fn run() -> Result<(), karman_sdk::RunErr> {
/// let page = karman_sdk::file::get_static_text("templates/page.html")?;
/// # Ok(()) }
/// ```
///
/// `?` maps failures as usual: an absolute name or one with `..` is `invalid` (400), a name
/// outside the granted sub-directory `denied` (403), a missing file `not-found` (404).
pub mod file {
    use crate::CapabilityError;
    pub use crate::bindings::karman::runnable::file::*;

    /// The contents of the static file `name` as text (lossy UTF-8).
    pub fn get_static_text(name: &str) -> Result<String, CapabilityError> {
        get_static(name).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Status and headers of the HTTP response.
pub mod resp {
    pub use crate::bindings::karman::runnable::resp::*;
}

/// The key-value cache (needs a `cache` grant).
pub mod cache {
    pub use crate::bindings::karman::runnable::cache::*;
}

/// SQL on the app's database (needs an `sql` grant): named queries, raw SQL, transactions
/// (`begin()` → a `Transaction`, rolled back unless committed) and atomic batches.
pub mod sql {
    pub use crate::bindings::karman::runnable::sql::*;
}

/// Outbound HTTP (needs an `http` grant listing the hosts). Credentials the Directive
/// configures for a domain are added by the host; the component never sees them.
///
/// ```no_run
/// # fn run() -> Result<(), karman_sdk::RunErr> {
/// let response = karman_sdk::http::get("https://api.example.com/items")?;
/// let items = response.text();
/// # Ok(()) }
/// ```
pub mod http {
    use crate::CapabilityError;
    pub use crate::bindings::karman::runnable::http::{Request, Response, send};

    /// Sends a `GET` with no headers.
    pub fn get(url: &str) -> Result<Response, CapabilityError> {
        send(&Request {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
        })
    }

    /// Sends a `POST` of `body` with its content type.
    pub fn post(url: &str, content_type: &str, body: Vec<u8>) -> Result<Response, CapabilityError> {
        send(&Request {
            method: "POST".into(),
            url: url.into(),
            headers: vec![("content-type".into(), content_type.into())],
            body,
            timeout_ms: None,
        })
    }

    impl Response {
        /// The body as text (lossy UTF-8).
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }

        /// The first value of a header (names compare case-insensitively).
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }
}

/// GraphQL queries (needs a `graphql` grant listing the hosts), with the same credentials as
/// [`http`]. `?` turns server errors into a 502 run error carrying their messages.
///
/// ```no_run
/// # fn run() -> Result<(), karman_sdk::RunErr> {
/// let data = karman_sdk::graphql::query(
///     "https://api.example.com/graphql",
///     "query($id: ID!) { user(id: $id) { name } }",
///     r#"{"id": "42"}"#,
/// )?;
/// # Ok(()) }
/// ```
pub mod graphql {
    pub use crate::bindings::karman::runnable::graphql::{QueryError, query};

    impl From<QueryError> for crate::RunErr {
        fn from(error: QueryError) -> Self {
            match error {
                QueryError::Capability(error) => error.into(),
                QueryError::Server(messages) => crate::RunErr::new(502, messages.join("; ")),
            }
        }
    }
}

/// Logging into the host log, tagged with the component and the request id.
pub mod log {
    pub use crate::bindings::karman::runnable::log::{Level, log};

    /// Logs at `debug`.
    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }

    /// Logs at `info`.
    pub fn info(message: &str) {
        log(Level::Info, message);
    }

    /// Logs at `warn`.
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }

    /// Logs at `error`.
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
}

pub use bindings::karman::runnable::types::CapError as CapabilityError;
