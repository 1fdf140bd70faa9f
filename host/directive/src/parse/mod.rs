//! From YAML nodes to a validated [`App`](crate::App): one parser per section of the Directive,
//! over the shared value parsers of `values`. Structure first, then cross-references (steps name
//! known components, `with:` names keys earlier steps produce, …).

mod app;
mod authentication;
mod components;
mod connections;
mod imports;
mod queries;
mod routes;
mod schedules;
mod sequences;
mod static_files;
mod streams;
mod values;

pub(crate) use app::parse_app;
