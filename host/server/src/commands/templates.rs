//! The project templates of `karman new`, built into the binary (`host/server/templates/`), so
//! that no Karman checkout is needed to start a component.
//!
//! A template names the SDK through one placeholder, `{{sdk}}`: by package name and the version
//! of this binary ([`SdkSource::Published`]), or, for work on Karman itself, by the path of a
//! `guest-sdks` directory ([`SdkSource::Path`]). Only the latter ever writes an absolute path.
//!
//! | language | files | the SDK dependency |
//! |----------|-------|--------------------|
//! | Rust | `Cargo.toml`, `src/lib.rs` | `karman-sdk = "0.1"` or `{ path = "DIR/rust" }` |
//! | JavaScript | `package.json`, `app.js` | `"@karman/sdk": "^0.1.0"` or `"file:DIR/js"` |
//! | Python | `app.py`, `requirements.txt` | `karman-sdk==0.1.0` or `-e DIR/python` |
//!
//! Each also has a `README.md` (how to build it) and a `.gitignore`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::build::Language;

/// The SDK version a new project asks for: the major and minor version of this binary, which
/// implements the capability API those SDK versions bind.
pub const SDK_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION_MAJOR"),
    ".",
    env!("CARGO_PKG_VERSION_MINOR")
);

/// Where a new project takes its SDK from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// The published package, by name and version (crates.io, npm, PyPI).
    Published,
    /// A `guest-sdks` directory (holding `rust/`, `js/` and `python/`), as an absolute path.
    Path(PathBuf),
}

impl SdkSource {
    /// The `guest-sdks` directory `dir`, checked to hold the SDK of `language`.
    pub fn path(dir: &Path, language: Language) -> anyhow::Result<Self> {
        let dir = std::fs::canonicalize(dir)
            .with_context(|| format!("--sdk-path `{}` does not exist", dir.display()))?;
        let (sdk, manifest) = sdk_of(language);
        if !dir.join(sdk).join(manifest).is_file() {
            bail!(
                "--sdk-path `{}` is not a Karman `guest-sdks` directory: it has no {sdk}/{manifest}",
                dir.display()
            );
        }
        if dir.to_str().is_none() {
            bail!("--sdk-path `{}` is not valid UTF-8", dir.display());
        }
        Ok(SdkSource::Path(dir))
    }
}

/// The SDK's folder in `guest-sdks` and the manifest that marks it.
fn sdk_of(language: Language) -> (&'static str, &'static str) {
    match language {
        Language::Rust => ("rust", "Cargo.toml"),
        Language::JavaScript => ("js", "package.json"),
        Language::Python => ("python", "pyproject.toml"),
    }
}

/// A template file: its path in the project (`/`-separated) and its text.
type File = (&'static str, &'static str);

const RUST: &[File] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml.template"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/rust/src/lib.rs"),
    ),
    ("README.md", include_str!("../../templates/rust/README.md")),
    (
        ".gitignore",
        include_str!("../../templates/rust/.gitignore"),
    ),
];

const JAVASCRIPT: &[File] = &[
    (
        "package.json",
        include_str!("../../templates/js/package.json"),
    ),
    ("app.js", include_str!("../../templates/js/app.js")),
    ("README.md", include_str!("../../templates/js/README.md")),
    (".gitignore", include_str!("../../templates/js/.gitignore")),
];

const PYTHON: &[File] = &[
    ("app.py", include_str!("../../templates/python/app.py")),
    (
        "requirements.txt",
        include_str!("../../templates/python/requirements.txt"),
    ),
    (
        "README.md",
        include_str!("../../templates/python/README.md"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/python/.gitignore"),
    ),
];

/// The files of a new `language` project called `name`: each path relative to the project's
/// directory, with its text.
pub fn render(name: &str, language: Language, sdk: &SdkSource) -> Vec<(PathBuf, String)> {
    let files = match language {
        Language::Rust => RUST,
        Language::JavaScript => JAVASCRIPT,
        Language::Python => PYTHON,
    };
    let dependency = sdk_dependency(language, sdk);
    let crate_name = name.replace('-', "_");
    files
        .iter()
        .map(|(path, text)| {
            let text = text
                .replace("{{name}}", name)
                .replace("{{crate}}", &crate_name)
                .replace("{{sdk}}", &dependency);
            (path.split('/').collect(), text)
        })
        .collect()
}

/// The SDK dependency as the language's manifest writes it (what replaces `{{sdk}}`).
fn sdk_dependency(language: Language, sdk: &SdkSource) -> String {
    match sdk {
        SdkSource::Published => match language {
            Language::Rust => format!("\"{SDK_VERSION}\""),
            Language::JavaScript => format!("\"^{SDK_VERSION}.0\""),
            Language::Python => format!("karman-sdk=={SDK_VERSION}.0"),
        },
        SdkSource::Path(dir) => {
            let path = dir.join(sdk_of(language).0);
            let path = path
                .to_str()
                .expect("checked to be UTF-8 in SdkSource::path");
            match language {
                Language::Rust => format!("{{ path = {} }}", toml_string(path)),
                Language::JavaScript => serde_json::Value::from(format!("file:{path}")).to_string(),
                Language::Python => format!("-e {}", requirement_path(path)),
            }
        }
    }
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A path as a pip requirements file takes it after `-e`: quoted (pip splits the options of a
/// line like a shell) when it holds a space or a quote.
fn requirement_path(path: &str) -> String {
    if path
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\'')
    {
        format!("'{}'", path.replace('\'', r"'\''"))
    } else {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LANGUAGES: [Language; 3] = [Language::Rust, Language::JavaScript, Language::Python];

    fn file(files: &[(PathBuf, String)], path: &str) -> String {
        files
            .iter()
            .find(|(p, _)| p == Path::new(path))
            .unwrap_or_else(|| panic!("no {path} in {files:?}"))
            .1
            .clone()
    }

    fn guest_sdks() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../guest-sdks")
            .canonicalize()
            .unwrap()
    }

    #[test]
    fn the_sdk_version_is_the_binary_s_major_and_minor() {
        let version = env!("CARGO_PKG_VERSION");
        assert!(version.starts_with(&format!("{SDK_VERSION}.")), "{version}");
        assert_eq!(SDK_VERSION.split('.').count(), 2);
    }

    #[test]
    fn without_a_sdk_path_the_sdk_is_named_by_package_and_version() {
        let rust = render("greet-me", Language::Rust, &SdkSource::Published);
        let manifest = file(&rust, "Cargo.toml");
        assert!(
            manifest.contains(&format!("\nkarman-sdk = \"{SDK_VERSION}\"\n")),
            "{manifest}"
        );
        assert!(manifest.contains("name = \"greet-me\""), "{manifest}");
        assert!(manifest.contains("crate-type = [\"cdylib\"]"), "{manifest}");
        assert!(manifest.contains("\n[workspace]\n"), "{manifest}");

        let js = render("greet-me", Language::JavaScript, &SdkSource::Published);
        let package: serde_json::Value = serde_json::from_str(&file(&js, "package.json")).unwrap();
        assert_eq!(package["name"], "greet-me");
        assert_eq!(package["private"], true);
        assert_eq!(package["type"], "module");
        // The build tools are the SDK's (optional) peer dependencies, at the versions it pins.
        let sdk_manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../guest-sdks/js/package.json");
        let sdk: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(sdk_manifest).unwrap()).unwrap();
        let mut expected = sdk["peerDependencies"].clone();
        expected["@karman/sdk"] = format!("^{SDK_VERSION}.0").into();
        assert_eq!(package["devDependencies"], expected);
        assert_eq!(
            package["scripts"]["build"],
            "karman-js-build app.js -o build/greet-me.wasm"
        );

        let python = render("greet-me", Language::Python, &SdkSource::Published);
        assert_eq!(
            file(&python, "requirements.txt"),
            format!("karman-sdk=={SDK_VERSION}.0\n")
        );
    }

    #[test]
    fn without_a_sdk_path_no_generated_file_holds_an_absolute_path() {
        let checkout = guest_sdks();
        let checkout = checkout.parent().unwrap().to_str().unwrap();
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        let temp = std::env::temp_dir();
        for language in LANGUAGES {
            for (path, text) in render("greet", language, &SdkSource::Published) {
                assert!(path.is_relative(), "{path:?}");
                for absolute in [checkout, &home, temp.to_str().unwrap()] {
                    assert!(
                        !text.contains(absolute),
                        "{path:?} holds `{absolute}`:\n{text}"
                    );
                }
                for path_dependency in ["path =", "file:", "-e "] {
                    assert!(!text.contains(path_dependency), "{path:?}:\n{text}");
                }
            }
        }
    }

    #[test]
    fn with_a_sdk_path_the_sdk_is_that_directory() {
        let dir = guest_sdks();
        let shown = dir.display();
        let rust = render(
            "greet",
            Language::Rust,
            &SdkSource::path(&dir, Language::Rust).unwrap(),
        );
        let manifest = file(&rust, "Cargo.toml");
        assert!(
            manifest.contains(&format!("\nkarman-sdk = {{ path = \"{shown}/rust\" }}\n")),
            "{manifest}"
        );

        let js = render(
            "greet",
            Language::JavaScript,
            &SdkSource::path(&dir, Language::JavaScript).unwrap(),
        );
        let package: serde_json::Value = serde_json::from_str(&file(&js, "package.json")).unwrap();
        assert_eq!(
            package["devDependencies"]["@karman/sdk"],
            format!("file:{shown}/js")
        );

        let python = render(
            "greet",
            Language::Python,
            &SdkSource::path(&dir, Language::Python).unwrap(),
        );
        assert_eq!(
            file(&python, "requirements.txt"),
            format!("-e {shown}/python\n")
        );
    }

    #[test]
    fn a_sdk_path_is_made_absolute_and_must_hold_the_language_s_sdk() {
        let relative = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guest-sdks/./rust/..");
        assert_eq!(
            SdkSource::path(&relative, Language::Python).unwrap(),
            SdkSource::Path(guest_sdks())
        );
        let not_sdks = Path::new(env!("CARGO_MANIFEST_DIR"));
        let error = SdkSource::path(not_sdks, Language::JavaScript)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("is not a Karman `guest-sdks` directory: it has no js/package.json"),
            "{error}"
        );
        let error = SdkSource::path(Path::new("/nonexistent/guest-sdks"), Language::Rust)
            .unwrap_err()
            .to_string();
        assert_eq!(error, "--sdk-path `/nonexistent/guest-sdks` does not exist");
    }

    #[test]
    fn every_placeholder_is_filled() {
        for language in LANGUAGES {
            for sdk in [
                SdkSource::Published,
                SdkSource::path(&guest_sdks(), language).unwrap(),
            ] {
                for (path, text) in render("greet-me", language, &sdk) {
                    assert!(!text.contains("{{"), "{path:?}:\n{text}");
                }
            }
        }
        let rust = render("greet-me", Language::Rust, &SdkSource::Published);
        assert!(file(&rust, "README.md").contains("release/greet_me.wasm"));
    }

    #[test]
    fn paths_are_quoted_for_the_manifest_that_holds_them() {
        assert_eq!(toml_string(r#"C:\sdks\"x""#), r#""C:\\sdks\\\"x\"""#);
        assert_eq!(
            requirement_path("/home/a b/guest-sdks/python"),
            "'/home/a b/guest-sdks/python'"
        );
        assert_eq!(requirement_path("/srv/python"), "/srv/python");
        let sdk = SdkSource::Path(PathBuf::from("/srv/my \"sdks\""));
        let package = format!("{{\"x\": {}}}", sdk_dependency(Language::JavaScript, &sdk));
        let package: serde_json::Value = serde_json::from_str(&package).unwrap();
        assert_eq!(package["x"], "file:/srv/my \"sdks\"/js");
    }
}
