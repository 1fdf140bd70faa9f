//! One module per `karman` command: its arguments (clap) and what it does.
//!
//! | command | module |
//! |---------|--------|
//! | `karman serve [Directive.yaml \| app.karman \| component.wasm]` | [`serve`] |
//! | `karman dev [Directive.yaml]` | [`dev`] |
//! | `karman check <Directive.yaml \| app.karman>` | [`check`] |
//! | `karman bundle [Directive.yaml] [-o app.karman]` | [`bundle`] |
//! | `karman build [Directive.yaml]` | [`build`] |
//! | `karman export [Directive.yaml] [-o app.wasm]` | [`export`], see [the export page](https://github.com/karman-dev/karman/blob/main/docs/export.md) |
//! | `karman graph [Directive.yaml] [--format mermaid\|dot\|svg] [-o FILE]` | [`graph`], see [the graph page](https://github.com/karman-dev/karman/blob/main/docs/graph.md) |
//! | `karman new <name> --lang rust\|js\|python` | [`new`], its files in [`templates`] |
//! | `karman wit [--out DIR] [--wasm FILE]` | [`wit`] |
//! | `karman schema [--out FILE]` | [`schema`] |

pub mod build;
pub mod bundle;
pub mod check;
pub mod dev;
pub mod export;
pub mod graph;
pub mod new;
pub mod schema;
pub mod serve;
pub mod templates;
pub mod wasi_options;
pub mod wit;

use std::path::{Path, PathBuf};
use std::time::Duration;

use karman_directive::App;
use karman_runtime::{EngineConfig, RunLimits, RuntimeConfig};

/// The compiled-code cache's flags, shared by `serve` and `check` (both compile the
/// components).
#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    /// Directory of the compiled-code cache [default: ~/.cache/karman/compiled].
    #[arg(long, env = "KARMAN_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every component at start-up instead of using the compiled-code cache.
    #[arg(long, env = "KARMAN_NO_COMPILE_CACHE", value_parser = parse_bool)]
    no_compile_cache: bool,
}

impl CompileArgs {
    /// The compiled-code cache's directory, if one is used.
    fn cache_dir(&self) -> Option<PathBuf> {
        if self.no_compile_cache {
            None
        } else {
            self.cache_dir
                .clone()
                .or_else(karman_runtime::default_cache_dir)
        }
    }

    /// The runtime configuration `check` loads with: this cache, default limits, no backends.
    fn runtime_config(&self) -> RuntimeConfig {
        RuntimeConfig {
            engine: EngineConfig {
                cache_dir: self.cache_dir(),
                ..EngineConfig::default()
            },
            ..RuntimeConfig::default()
        }
    }
}

/// The engine's flags for serving: the compiled-code cache, and the limits on running
/// instances (which `check`, running none, does not take).
#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    #[command(flatten)]
    compile: CompileArgs,
    /// Component instances that may exist at once; steps beyond it get 503.
    #[arg(long, env = "KARMAN_MAX_INSTANCES", default_value_t = karman_runtime::DEFAULT_MAX_INSTANCES)]
    max_instances: u32,
    /// Bytes the linear memories of all live instances may hold together (e.g. `4GiB`); a step
    /// whose memory would go past it gets 503 [default: half the memory of the machine or of
    /// the process's cgroup].
    #[arg(long, env = "KARMAN_MAX_GUEST_MEMORY", value_parser = parse_size)]
    max_guest_memory: Option<u64>,
    /// Most bytes one step may return (e.g. `16MiB`); a larger output ends the run with 500.
    #[arg(long, env = "KARMAN_MAX_STEP_OUTPUT", default_value = "16MiB", value_parser = parse_size)]
    max_step_output: u64,
    /// Most bytes a run's state (every step output it keeps) may hold (e.g. `64MiB`); beyond
    /// it the run ends with 500.
    #[arg(long, env = "KARMAN_MAX_STATE", default_value = "64MiB", value_parser = parse_size)]
    max_state: u64,
}

impl EngineArgs {
    /// The runtime configuration these flags describe (no backends yet).
    fn runtime_config(&self) -> RuntimeConfig {
        RuntimeConfig {
            engine: EngineConfig {
                cache_dir: self.compile.cache_dir(),
                max_instances: self.max_instances,
                max_guest_memory: self
                    .max_guest_memory
                    .unwrap_or_else(karman_runtime::default_guest_memory_budget),
                ..EngineConfig::default()
            },
            run_limits: RunLimits {
                max_step_output: self.max_step_output,
                max_state: self.max_state,
            },
            ..RuntimeConfig::default()
        }
    }
}

/// Loads and validates the Directive, with every diagnostic in the error.
pub(crate) fn load_directive(path: &Path) -> anyhow::Result<App> {
    karman_directive::load(path).map_err(|error| anyhow::anyhow!("invalid Directive\n{error}"))
}

pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    karman_directive::parse_byte_size(text)
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    karman_directive::parse_duration(text)
}

/// A boolean flag's value, or its environment variable's: `1`/`0`, `yes`/`no`, `true`/`false`,
/// in any case.
fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" => Ok(true),
        "0" | "no" | "false" => Ok(false),
        _ => Err(format!(
            "`{text}` is not a boolean: use 1/0, yes/no or true/false"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_bool;

    #[test]
    fn booleans_take_numbers_words_and_any_case() {
        for yes in ["1", "yes", "YES", "true", "True"] {
            assert_eq!(parse_bool(yes), Ok(true), "{yes}");
        }
        for no in ["0", "no", "No", "false", "FALSE"] {
            assert_eq!(parse_bool(no), Ok(false), "{no}");
        }
        for neither in ["", "2", "on", "maybe"] {
            let error = parse_bool(neither).unwrap_err();
            assert!(error.contains("1/0, yes/no or true/false"), "{error}");
        }
    }
}
