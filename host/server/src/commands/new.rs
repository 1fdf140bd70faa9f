//! `karman new <name> --lang rust|js|python`: a new Runnable from the template built into the
//! binary ([`templates`](super::templates)), depending on the SDK by package name and version
//! (or on a `guest-sdks` directory with `--sdk-path`), and, with `--directive`, its entry in a
//! Directive (`source: build/<name>.wasm`, `build: <dir>`), ready for `karman build`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::build::Language;
use super::templates::{self, SdkSource};

/// The arguments of `karman new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The component's name (lower-case letters, digits and `-`).
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum)]
    lang: Lang,
    /// The directory to create it in (as `<dir>/<name>`).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// A Directive to add it to (`source: build/<name>.wasm`, `build: <its directory>`).
    #[arg(long)]
    directive: Option<PathBuf>,
    /// Depend on the SDK in this `guest-sdks` directory of a Karman checkout (by its absolute
    /// path) instead of the published package: for work on Karman itself.
    #[arg(long, env = "KARMAN_SDK_DIR", value_name = "DIR")]
    sdk_path: Option<PathBuf>,
}

/// The languages `karman new` writes in.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Lang {
    Rust,
    Js,
    Python,
}

/// Runs `karman new`.
pub fn run(args: &NewArgs) -> anyhow::Result<()> {
    let language = match args.lang {
        Lang::Rust => Language::Rust,
        Lang::Js => Language::JavaScript,
        Lang::Python => Language::Python,
    };
    let sdk = match &args.sdk_path {
        Some(dir) => SdkSource::path(dir, language)?,
        None => SdkSource::Published,
    };
    let created = create(
        &args.name,
        language,
        &sdk,
        &args.dir,
        args.directive.as_deref(),
    )?;
    eprintln!("created {}", created.display());
    if language == Language::Python {
        eprintln!(
            "set it up once: cd {} && python3 -m venv .venv && .venv/bin/pip install -r requirements.txt",
            created.display()
        );
    }
    match &args.directive {
        Some(directive) => eprintln!(
            "added `{}` to {}: build it with `karman build {}`",
            args.name,
            directive.display(),
            directive.display()
        ),
        None => eprintln!("add it to a Directive with `build: {}`", created.display()),
    }
    Ok(())
}

/// Creates the component `name` in `parent/name` from the template of `language`, with its SDK
/// from `sdk`, and adds it to `directive` when given.
pub fn create(
    name: &str,
    language: Language,
    sdk: &SdkSource,
    parent: &Path,
    directive: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "`{name}` is not a component name: use lower-case letters, digits and `-`, starting with a letter"
        );
    }
    let target = parent.join(name);
    if target.exists() {
        bail!("`{}` exists already", target.display());
    }
    for (path, text) in templates::render(name, language, sdk) {
        let path = target.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create `{}`", dir.display()))?;
        }
        std::fs::write(&path, text)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    if let Some(directive) = directive {
        add_to_directive(directive, name, &target)?;
    }
    Ok(target)
}

/// A new Directive for an app of one component: the schema line (so editors complete and check
/// its keys), a request handler that runs the component, and an empty `components:` section
/// that [`add_to_directive`] fills.
fn new_directive(name: &str) -> String {
    format!(
        "{comment}\nidentifier: com.example.{name}\nappVersion: v0.1.0\n\ncomponents:\n\n\
         handlers:\n  - type: request\n    method: GET\n    resource: /{name}/:name\n    \
         steps:\n      - fn: {name}\n",
        comment = karman_directive::SCHEMA_COMMENT
    )
}

/// Adds the component under `components:` of the Directive (creating the section when absent).
fn add_to_directive(directive: &Path, name: &str, dir: &Path) -> anyhow::Result<()> {
    let text = match std::fs::read_to_string(directive) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => new_directive(name),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read `{}`", directive.display()));
        }
    };
    let base = directive.parent().unwrap_or(Path::new("."));
    let base = std::fs::canonicalize(if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    })?;
    let dir = std::fs::canonicalize(dir)?;
    let relative = dir
        .strip_prefix(&base)
        .map(Path::to_path_buf)
        .unwrap_or(dir);
    let entry = format!(
        "  - {{ name: {name}, source: build/{}.wasm, build: {} }}\n",
        name.replace('-', "_"),
        relative.display()
    );
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let text = match lines
        .iter()
        .position(|line| line.trim_end() == "components:")
    {
        Some(index) => {
            lines.insert(index + 1, &entry);
            lines.concat()
        }
        None => {
            let separator = if text.ends_with('\n') || text.is_empty() {
                ""
            } else {
                "\n"
            };
            format!("{text}{separator}components:\n{entry}")
        }
    };
    std::fs::write(directive, text)
        .with_context(|| format!("cannot write `{}`", directive.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_is_added_under_components_or_in_a_new_section() {
        let dir = std::env::temp_dir().join(format!("karman-new-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("greet")).unwrap();
        let directive = dir.join("Directive.yaml");

        std::fs::write(
            &directive,
            "identifier: x\ncomponents:\n  - { name: a, source: a.wasm }\n",
        )
        .unwrap();
        add_to_directive(&directive, "greet", &dir.join("greet")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&directive).unwrap(),
            "identifier: x\ncomponents:\n  - { name: greet, source: build/greet.wasm, build: greet }\n  - { name: a, source: a.wasm }\n"
        );

        std::fs::write(&directive, "identifier: x").unwrap();
        add_to_directive(&directive, "greet", &dir.join("greet")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&directive).unwrap(),
            "identifier: x\ncomponents:\n  - { name: greet, source: build/greet.wasm, build: greet }\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directive_is_created_with_the_schema_line_and_a_handler() {
        let dir = std::env::temp_dir().join(format!("karman-new-fresh-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("greet")).unwrap();
        let directive = dir.join("Directive.yaml");
        add_to_directive(&directive, "greet", &dir.join("greet")).unwrap();
        let text = std::fs::read_to_string(&directive).unwrap();
        assert!(
            text.starts_with(&format!("{}\n", karman_directive::SCHEMA_COMMENT)),
            "{text}"
        );
        assert!(
            text.contains(
                "components:\n  - { name: greet, source: build/greet.wasm, build: greet }\n"
            ),
            "{text}"
        );
        std::fs::create_dir_all(dir.join("build")).unwrap();
        // The Directive names a component file; a component header is enough to parse it.
        std::fs::write(dir.join("build/greet.wasm"), b"\0asm\x0d\x00\x01\x00").unwrap();
        let app = karman_directive::parse(
            &text,
            &karman_directive::ParseOptions::new("Directive.yaml", &dir),
        )
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(app.components.len(), 1);
        assert_eq!(app.handlers.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
