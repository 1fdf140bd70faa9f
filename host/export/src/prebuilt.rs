//! The prebuilt guests of an exported app, built from `host/export/guests/` by
//! `scripts/build-guests` (which refreshes them here, with `inputs.sha256`, the fingerprint of
//! the sources they were built from; under `CI=true` it fails instead when they are out of date).

/// The sequencer (`host/export/guests/sequencer`): the handlers as `wasi:http`.
pub const SEQUENCER: &[u8] = include_bytes!("../prebuilt/karman_export_sequencer.wasm");
/// The adapter (`host/export/guests/adapter`): the capabilities on standard WASI.
pub const ADAPTER: &[u8] = include_bytes!("../prebuilt/karman_export_adapter.wasm");
