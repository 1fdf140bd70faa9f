//! The app: everything one Directive declares, validated and resolved.

use std::path::{Path, PathBuf};

use crate::error::{Diagnostic, DirectiveError, Location};
use crate::model::auth::Authentication;
use crate::model::component::{Component, ComponentId, Limits};
use crate::model::connections::Connections;
use crate::model::grants::Grants;
use crate::model::handler::{RequestHandler, Schedule, StreamHandler};
use crate::model::query::Query;
use crate::model::route::{Headless, Route};

/// A whole Karman app, as declared by one Directive.
///
/// An `App` comes only from [`crate::load`], [`crate::load_unbuilt`], [`crate::parse()`] or
/// [`App::serving_component`], so every value in it has passed validation. Its fields are public
/// for reading; build none by hand.
#[derive(Debug, Clone)]
pub struct App {
    /// Reverse-DNS name of the app, e.g. `com.example.shop`.
    pub identifier: String,
    /// The app's version, e.g. `v0.1.0`.
    pub app_version: String,
    /// The components, in Directive order; steps refer to them by index.
    pub components: Vec<Component>,
    /// The request handlers, in Directive order.
    pub handlers: Vec<RequestHandler>,
    /// The stream handlers (`type: stream`), in Directive order.
    pub streams: Vec<StreamHandler>,
    /// The schedules, in Directive order.
    pub schedules: Vec<Schedule>,
    /// The backends the capabilities use.
    pub connections: Connections,
    /// The named SQL queries.
    pub queries: Vec<Query>,
    /// Credentials the host adds to outbound requests, and how tokens of callers are verified.
    pub authentication: Authentication,
    /// Custom routes: `wasi:http` components mounted at `/ext/<plugin>/`.
    pub routes: Vec<Route>,
    /// Headless mode: every Runnable at `POST /_run/<name>` (`None`: off, the default).
    pub headless: Option<Headless>,
    /// The app's static files (`static:`, by default `static/` beside the Directive when it
    /// exists): a canonical directory, read by components granted `files`.
    pub static_dir: Option<PathBuf>,
    /// Where the static files are served over HTTP (`static: { mount }`), if anywhere.
    pub static_mount: Option<StaticMount>,
}

/// The directory of an app's static files when the Directive names none.
pub const DEFAULT_STATIC_DIR: &str = "static";

/// `static: { mount }`: the static files served at a URL prefix (GET and HEAD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMount {
    /// The URL prefix: `/`, or `/` + segments without a trailing slash (`/assets`).
    pub prefix: String,
    /// Where the Directive declares it.
    pub location: Location,
}

impl App {
    /// The app `karman serve component.wasm` serves: the one component at `path`, named after
    /// the file's stem, its source the canonical path; nothing granted but `log` (its stdout and
    /// stderr go to the log); the given limits; no handlers, streams, schedules, routes,
    /// connections, queries or authentication. The app's identifier is the component's name, its
    /// version `-`, and the component is located at line 1, column 1 of `path` as given.
    ///
    /// # Errors
    ///
    /// When `path` cannot be read: ``cannot read `<path>`: <reason>``.
    pub fn serving_component(path: &Path, limits: Limits) -> Result<App, DirectiveError> {
        let source = std::fs::canonicalize(path).map_err(|e| {
            DirectiveError::single(Diagnostic::new(
                None,
                format!("cannot read `{}`: {e}", path.display()),
            ))
        })?;
        let name = source
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| "component".to_string());
        let location = Location {
            file: path.display().to_string().into(),
            line: 1,
            column: 1,
        };
        Ok(App {
            identifier: name.clone(),
            app_version: "-".to_string(),
            components: vec![Component {
                name,
                source,
                grants: Grants::default(),
                limits,
                reuse: None,
                config: Vec::new(),
                imports: Vec::new(),
                build: None,
                location,
            }],
            handlers: Vec::new(),
            streams: Vec::new(),
            schedules: Vec::new(),
            connections: Connections::default(),
            queries: Vec::new(),
            authentication: Authentication::default(),
            routes: Vec::new(),
            headless: None,
            static_dir: None,
            static_mount: None,
        })
    }

    /// The component a step runs.
    pub fn component(&self, id: ComponentId) -> &Component {
        &self.components[id.0]
    }

    /// Looks a component up by name.
    pub fn component_named(&self, name: &str) -> Option<(ComponentId, &Component)> {
        self.components
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
            .map(|(i, c)| (ComponentId(i), c))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn serving_a_component_makes_an_app_of_it_alone() {
        let dir = std::env::temp_dir().join(format!("karman-directive-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hello.wasm");
        std::fs::write(&path, b"\0asm\x0d\0\x01\0").unwrap();
        let limits = Limits {
            timeout: Duration::from_secs(2),
            memory: 32 << 20,
        };
        let app = App::serving_component(&path, limits).unwrap();
        let canonical = std::fs::canonicalize(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(app.identifier, "hello");
        assert_eq!(app.app_version, "-");
        assert_eq!(app.components.len(), 1);
        let component = &app.components[0];
        assert_eq!(component.name, "hello");
        assert_eq!(component.source, canonical);
        assert!(component.source.is_absolute());
        assert_eq!(component.grants, Grants::default());
        assert_eq!(component.grants.to_string(), "log");
        assert_eq!(component.limits, limits);
        assert!(component.reuse.is_none() && component.build.is_none());
        assert_eq!(
            component.location.to_string(),
            format!("{}:1:1", path.display())
        );
        assert!(app.handlers.is_empty() && app.streams.is_empty() && app.schedules.is_empty());
        assert!(app.routes.is_empty() && app.queries.is_empty());
        assert!(app.static_dir.is_none() && app.static_mount.is_none());
        assert_eq!(app.connections, Connections::default());
        assert!(app.authentication.domains.is_empty() && app.authentication.jwt.is_none());
        assert_eq!(
            app.component_named("hello").map(|(id, _)| id),
            Some(ComponentId(0))
        );
    }

    #[test]
    fn serving_a_missing_component_says_which_file() {
        let path = Path::new("/nonexistent/karman/missing.wasm");
        let error = App::serving_component(path, Limits::default()).unwrap_err();
        assert_eq!(error.diagnostics.len(), 1);
        let message = error.to_string();
        assert!(
            message.starts_with("cannot read `/nonexistent/karman/missing.wasm`: "),
            "{message}"
        );
    }
}
