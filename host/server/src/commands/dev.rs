//! `karman dev`: serves the app as `karman serve` does, and keeps it in step with its files.
//!
//! It builds the components that name a source directory (`build:`) first, as `karman build`
//! does, then watches (by polling, every `--poll-interval`):
//!
//! | file | on a change |
//! |------|-------------|
//! | the Directive | read again, then reload |
//! | a component's `build:` directory (but `target/`, `node_modules/`, `.venv/`, `__pycache__/`, dot-directories and the built component) | rebuild that component, then reload |
//! | a component's `source` without `build:` | reload |
//!
//! A change is acted on once the files have stopped changing for one interval. The reload is
//! the one SIGHUP makes (see [`crate::Running::serve_with_reloads`]): requests in
//! flight finish on the app they started on. An invalid Directive or a failed build is logged
//! with its location, and the last good app keeps serving.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use karman_directive::App;
use tokio::sync::mpsc;

use super::build::build_components;
use super::parse_duration;
use super::serve::{ServeArgs, check_unused_flags, serve_app};

/// The arguments of `karman dev`: those of `karman serve`, and how often to look for changes.
#[derive(Debug, clap::Args)]
pub struct DevArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// How often the files are checked for changes (e.g. `300ms`).
    #[arg(long, env = "KARMAN_POLL_INTERVAL", default_value = "300ms", value_parser = parse_duration)]
    poll_interval: Duration,
}

/// Runs `karman dev`; `given` tells which flags the command line or the environment set.
pub fn run(args: DevArgs, given: &clap::ArgMatches) -> anyhow::Result<()> {
    let DevArgs {
        serve,
        poll_interval,
    } = args;
    check_unused_flags(serve.serving(), given)?;
    if let Ok(unbuilt) = karman_directive::load_unbuilt(&serve.directive) {
        build_components(&unbuilt, |_| true)?;
    }
    let app = serve.load_app()?;
    let watched = Watched::of(&serve.directive, &app);
    // Taken now, so that a change made while the app starts is seen.
    let seen = watched.snapshot();
    let (reload, reloads) = mpsc::channel(1);
    serve_app(serve, app, reloads, move |args, _certificates| {
        std::thread::Builder::new()
            .name("karman-dev-watch".to_string())
            .spawn(move || watch(&args, watched, seen, poll_interval, &reload))
            .expect("a thread starts");
    })
}

/// Polls the watched files; on each settled change from `seen`, rebuilds what changed and
/// hands the app to `reload`. Returns when the server is gone.
fn watch(
    args: &ServeArgs,
    mut watched: Watched,
    mut seen: Snapshot,
    interval: Duration,
    reload: &mpsc::Sender<App>,
) {
    loop {
        std::thread::sleep(interval);
        let mut now = watched.snapshot();
        if now == seen {
            continue;
        }
        loop {
            std::thread::sleep(interval);
            let again = watched.snapshot();
            if again == now {
                break;
            }
            now = again;
        }
        let changed = watched.changed_builds(&seen, &now);
        if let Some(app) = rebuild(args, &changed) {
            watched = Watched::of(&args.directive, &app);
            if reload.blocking_send(app).is_err() {
                return;
            }
        }
        // What the builds wrote (lock files, outputs) is not a change of the user's.
        seen = watched.snapshot();
    }
}

/// Rebuilds the components named in `changed` (and any whose output is missing), then reads
/// the app; logs what fails and returns the app when all went well.
fn rebuild(args: &ServeArgs, changed: &[String]) -> Option<App> {
    if let Ok(unbuilt) = karman_directive::load_unbuilt(&args.directive) {
        let wanted = |c: &karman_directive::Component| {
            changed.contains(&c.name) || (c.build.is_some() && !c.source.exists())
        };
        if unbuilt
            .components
            .iter()
            .any(|c| c.build.is_some() && wanted(c))
        {
            tracing::info!(components = %changed.join(", "), "sources changed: rebuilding");
            if let Err(error) = build_components(&unbuilt, wanted) {
                tracing::error!("build failed; the app before it keeps serving: {error:#}");
                return None;
            }
        }
    }
    match args.load_app() {
        Ok(app) => Some(app),
        Err(error) => {
            tracing::error!("reload failed; the app before it keeps serving: {error:#}");
            None
        }
    }
}

/// What `karman dev` watches.
#[derive(Debug)]
struct Watched {
    /// The Directive (or the one component served).
    directive: PathBuf,
    /// Each component with a `build:` directory: its name and the directory.
    builds: Vec<(String, PathBuf)>,
    /// Component files that are not built here.
    sources: Vec<PathBuf>,
    /// Built components (inside a `build:` directory or not), never a change of the user's.
    outputs: Vec<PathBuf>,
}

/// Every watched file's modification time and size, by path.
type Snapshot = BTreeMap<PathBuf, (SystemTime, u64)>;

/// Directories inside a source directory that tools write to.
const SKIPPED_DIRECTORIES: &[&str] = &["target", "node_modules", ".venv", "__pycache__"];

impl Watched {
    fn of(directive: &Path, app: &App) -> Self {
        let mut watched = Watched {
            directive: directive.to_path_buf(),
            builds: Vec::new(),
            sources: Vec::new(),
            outputs: Vec::new(),
        };
        if directive.extension().is_some_and(|e| e == "wasm") {
            return watched;
        }
        for component in &app.components {
            match &component.build {
                Some(dir) => {
                    watched.builds.push((component.name.clone(), dir.clone()));
                    watched.outputs.push(component.source.clone());
                }
                None => watched.sources.push(component.source.clone()),
            }
        }
        watched
    }

    fn snapshot(&self) -> Snapshot {
        let mut files = Snapshot::new();
        for file in std::iter::once(&self.directive).chain(&self.sources) {
            record(file, &mut files);
        }
        for (_, dir) in &self.builds {
            self.walk(dir, &mut files);
        }
        files
    }

    fn walk(&self, dir: &Path, files: &mut Snapshot) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if !name.starts_with('.') && !SKIPPED_DIRECTORIES.contains(&name.as_ref()) {
                    self.walk(&path, files);
                }
            } else if !self.outputs.iter().any(|output| same_file(output, &path)) {
                record(&path, files);
            }
        }
    }

    /// The components whose `build:` directory holds a file that differs between the two
    /// snapshots.
    fn changed_builds(&self, before: &Snapshot, after: &Snapshot) -> Vec<String> {
        let differs = |path: &PathBuf| before.get(path) != after.get(path);
        let mut changed: Vec<String> = self
            .builds
            .iter()
            .filter(|(_, dir)| {
                before
                    .keys()
                    .chain(after.keys())
                    .any(|path| path.starts_with(dir) && differs(path))
            })
            .map(|(name, _)| name.clone())
            .collect();
        changed.dedup();
        changed
    }
}

/// Records `path`'s modification time and size, when it exists.
fn record(path: &Path, files: &mut Snapshot) {
    if let Ok(meta) = std::fs::metadata(path) {
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        files.insert(path.to_path_buf(), (modified, meta.len()));
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || std::path::absolute(a).ok() == std::path::absolute(b).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("karman-dev-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn watched(dir: &Path) -> Watched {
        Watched {
            directive: dir.join("Directive.yaml"),
            builds: vec![("greet".to_string(), dir.join("greet"))],
            sources: vec![dir.join("other.wasm")],
            outputs: vec![dir.join("greet/build/greet.wasm")],
        }
    }

    #[test]
    fn a_change_in_a_source_directory_names_its_component() {
        let dir = scratch("sources");
        std::fs::create_dir_all(dir.join("greet/src")).unwrap();
        std::fs::write(dir.join("Directive.yaml"), "a").unwrap();
        std::fs::write(dir.join("greet/src/lib.rs"), "fn a() {}").unwrap();
        let watched = watched(&dir);
        let before = watched.snapshot();
        assert!(before.contains_key(&dir.join("greet/src/lib.rs")));
        assert!(before.contains_key(&dir.join("Directive.yaml")));

        std::fs::write(dir.join("greet/src/lib.rs"), "fn ab() {}").unwrap();
        let after = watched.snapshot();
        assert_ne!(before, after);
        assert_eq!(watched.changed_builds(&before, &after), ["greet"]);

        std::fs::write(dir.join("greet/src/new.rs"), "").unwrap();
        let added = watched.snapshot();
        assert_eq!(watched.changed_builds(&after, &added), ["greet"]);

        std::fs::write(dir.join("Directive.yaml"), "ab").unwrap();
        let directive = watched.snapshot();
        assert_ne!(added, directive, "the Directive is watched");
        assert!(watched.changed_builds(&added, &directive).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn what_tools_write_is_not_watched() {
        let dir = scratch("tools");
        for skipped in [
            "target/debug",
            "node_modules/x",
            ".venv/lib",
            "__pycache__",
            "build",
        ] {
            std::fs::create_dir_all(dir.join("greet").join(skipped)).unwrap();
        }
        std::fs::write(dir.join("greet/target/debug/out"), "1").unwrap();
        std::fs::write(dir.join("greet/node_modules/x/index.js"), "1").unwrap();
        std::fs::write(dir.join("greet/.venv/lib/site.py"), "1").unwrap();
        std::fs::write(dir.join("greet/__pycache__/app.pyc"), "1").unwrap();
        std::fs::write(dir.join("greet/build/greet.wasm"), "1").unwrap();
        std::fs::write(dir.join("other.wasm"), "1").unwrap();
        let snapshot = watched(&dir).snapshot();
        let paths: Vec<&PathBuf> = snapshot.keys().collect();
        assert_eq!(paths, [&dir.join("other.wasm")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
