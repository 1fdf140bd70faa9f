//! The app: everything one Directive declares, validated and resolved.

use crate::model::auth::Authentication;
use crate::model::component::{Component, ComponentId};
use crate::model::connections::Connections;
use crate::model::handler::{RequestHandler, Schedule, StreamHandler};
use crate::model::query::Query;
use crate::model::route::Route;

/// A whole Karman app, as declared by one Directive.
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
}

impl App {
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
