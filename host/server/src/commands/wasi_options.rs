//! `-S <option>` of `karman serve component.wasm`: the `wasmtime serve` options for the standard
//! interfaces, so that a component's command line carries over unchanged.
//!
//! | option | effect |
//! |--------|--------|
//! | `keyvalue` (`keyvalue=y`) | grants `cache: true`: `wasi:keyvalue` opens the in-memory cache (bucket `""`) |
//! | `config-var=NAME=VALUE` | a value `wasi:config/store` answers (repeat for more) |
//! | `config`, `cli`, `http` (`=y`) | accepted: Karman always serves these |
//!
//! Without `-S keyvalue` a component's `wasi:keyvalue` `open` fails with `access-denied`
//! (wasmtime refuses to link it instead).
//!
//! ```
//! # use karman::commands::wasi_options::{WasiOption, parse_wasi_option};
//! assert_eq!(parse_wasi_option("keyvalue"), Ok(WasiOption::Keyvalue(true)));
//! assert_eq!(
//!     parse_wasi_option("config-var=greeting=hi=there"),
//!     Ok(WasiOption::ConfigVar("greeting".into(), "hi=there".into()))
//! );
//! assert!(parse_wasi_option("tcp").unwrap_err().contains("keyvalue"));
//! ```

use karman_directive::{CacheGrant, Component};

/// One `-S` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WasiOption {
    /// `keyvalue[=y|n]`.
    Keyvalue(bool),
    /// `config-var=NAME=VALUE`.
    ConfigVar(String, String),
    /// `config`, `cli` or `http` (`=y|n`): always served; `=n` is refused.
    AlwaysOn(&'static str),
}

const SUPPORTED: &str = "karman serve takes -S keyvalue, -S config-var=NAME=VALUE, and accepts \
                         -S config, -S cli and -S http (always on)";

/// A flag value as wasmtime reads it: absent, `y`, `yes`, `true` are on; `n`, `no`, `false` off.
fn switch(name: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("y" | "yes" | "true") => Ok(true),
        Some("n" | "no" | "false") => Ok(false),
        Some(other) => Err(format!("-S {name}={other}: expected y or n")),
    }
}

/// Parses one `-S` option (clap's value parser).
pub fn parse_wasi_option(text: &str) -> Result<WasiOption, String> {
    let (name, value) = match text.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (text, None),
    };
    match name {
        "keyvalue" => Ok(WasiOption::Keyvalue(switch(name, value)?)),
        "config-var" => {
            let Some((key, value)) = value.and_then(|v| v.split_once('=')) else {
                return Err(
                    "-S config-var needs NAME=VALUE, e.g. -S config-var=greeting=hi".into(),
                );
            };
            if key.is_empty() {
                return Err("-S config-var=NAME=VALUE: the name is empty".into());
            }
            Ok(WasiOption::ConfigVar(key.to_string(), value.to_string()))
        }
        "config" | "cli" | "http" => {
            let always = match name {
                "config" => "config",
                "cli" => "cli",
                _ => "http",
            };
            if switch(name, value)? {
                Ok(WasiOption::AlwaysOn(always))
            } else {
                Err(format!("-S {name}=n: Karman always serves {name}"))
            }
        }
        _ => Err(format!("unknown -S option `{name}`: {SUPPORTED}")),
    }
}

/// Gives the served component what `options` grant.
pub(crate) fn apply(options: &[WasiOption], component: &mut Component) {
    for option in options {
        match option {
            WasiOption::Keyvalue(true) => {
                component.grants.cache = Some(CacheGrant {
                    prefix: String::new(),
                })
            }
            WasiOption::Keyvalue(false) => component.grants.cache = None,
            WasiOption::ConfigVar(name, value) => {
                component.config.retain(|(known, _)| known != name);
                component.config.push((name.clone(), value.clone()));
            }
            WasiOption::AlwaysOn(_) => {}
        }
    }
}
