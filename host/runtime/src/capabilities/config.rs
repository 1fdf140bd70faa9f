//! `wasi:config/store`: the values the Directive declares for the component (`config:`), and
//! nothing else — never the host's environment. A component without `config:` reads an empty
//! configuration.
//!
//! ```yaml
//! components:
//!   - name: greet
//!     source: greet.wasm
//!     config: { greeting: Hello, retries: "3" }
//! ```

use std::sync::Arc;

use crate::bindings::config_store::{Error, Host};

/// The configuration of one component's instances (shared by all of them).
#[derive(Clone, Default)]
pub(crate) struct ConfigCtx {
    /// The pairs, in the Directive's order.
    pub(crate) values: Arc<[(String, String)]>,
}

impl Host for ConfigCtx {
    fn get(&mut self, key: String) -> Result<Option<String>, Error> {
        Ok(self
            .values
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value.clone()))
    }

    fn get_all(&mut self) -> Result<Vec<(String, String)>, Error> {
        Ok(self.values.to_vec())
    }
}
