//! Bundles through the real binary: `karman bundle` packs an app, `karman serve` and
//! `karman check` run it as the Directive, and every kind of bad bundle is refused before
//! anything is served. Bad archives are made here with the tar crate's low-level header API.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tar::EntryType;

use crate::support::{Binary, client, expand, repo_root, unique};

/// A fresh directory under target/.
fn scratch(name: &str) -> PathBuf {
    let dir = repo_root()
        .join("target/karman-test-tmp")
        .join(unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary with `args`, the shared compiled-code cache unless one is given.
fn karman(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_karman"));
    command.args(args).env("KARMAN_LOG", "warn");
    if args[0] != "bundle" && !args.contains(&"--cache-dir") {
        command
            .arg("--cache-dir")
            .arg(repo_root().join("target/karman-test-cache"));
    }
    command.output().expect("the karman binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The hello example's Directive (its components built by scripts/build-guests).
fn hello() -> PathBuf {
    let directive = repo_root().join("examples/hello/Directive.yaml");
    assert!(
        repo_root().join("examples/hello/build/greet.wasm").exists(),
        "examples/hello/build is missing: run scripts/build-guests first"
    );
    directive
}

/// Bundles `directive` into a fresh file.
fn bundle(directive: &Path) -> PathBuf {
    let out = scratch("bundle").join("app.karman");
    let built = karman(&[
        "bundle",
        directive.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    out
}

/// An entry of an archive, as the test writes it.
struct Raw {
    name: Vec<u8>,
    kind: EntryType,
    data: Vec<u8>,
    link: Vec<u8>,
}

impl Raw {
    fn file(name: &str, data: Vec<u8>) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            kind: EntryType::Regular,
            data,
            link: Vec::new(),
        }
    }
}

/// The entries of a bundle, in order.
fn entries(bundle: &Path) -> Vec<Raw> {
    let file = std::fs::File::open(bundle).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            Raw {
                name: entry.path_bytes().into_owned(),
                kind: entry.header().entry_type(),
                data,
                link: Vec::new(),
            }
        })
        .collect()
}

/// Writes `entries` as a tar.gz, names and links byte for byte (no checks).
fn write_raw(path: &Path, entries: &[Raw]) {
    let file = std::fs::File::create(path).unwrap();
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::default(),
    ));
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..entry.name.len()].copy_from_slice(&entry.name);
        gnu.linkname[..entry.link.len()].copy_from_slice(&entry.link);
        header.set_entry_type(entry.kind);
        header.set_mode(0o644);
        header.set_size(entry.data.len() as u64);
        header.set_cksum();
        tar.append(&header, entry.data.as_slice()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

/// The manifest of a bundle's entries, as JSON.
fn manifest(entries: &[Raw]) -> serde_json::Value {
    assert_eq!(entries[0].name, b"karman-bundle.json");
    serde_json::from_slice(&entries[0].data).unwrap()
}

fn set_manifest(entries: &mut [Raw], manifest: &serde_json::Value) {
    entries[0].data = serde_json::to_vec(manifest).unwrap();
}

/// `karman check` refuses `bundle` with a message that contains `expected`.
fn assert_refused(bundle: &Path, extra: &[&str], expected: &str) {
    let mut args = vec!["check", bundle.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = karman(&args);
    let stderr = text(&output.stderr);
    assert!(
        !output.status.success(),
        "accepted: {}",
        text(&output.stdout)
    );
    assert!(
        stderr.contains(expected),
        "expected `{expected}` in:\n{stderr}"
    );
}

/// A copy of the hello bundle whose entries `change` edits.
fn altered(change: impl FnOnce(&mut Vec<Raw>)) -> PathBuf {
    let mut all = entries(&bundle(&hello()));
    change(&mut all);
    let path = scratch("altered").join("app.karman");
    write_raw(&path, &all);
    path
}

#[test]
fn a_bundle_serves_the_hello_example_as_its_directive_does() {
    let bundle = bundle(&hello());
    let from_bundle = Binary::serve_file(&bundle, "info", &[], &[]);
    let from_directive = Binary::serve_file(&hello(), "info", &[], &[]);
    let verified = from_bundle.logs_matching(|e| {
        e["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("bundle verified"))
    });
    assert_eq!(verified.len(), 1, "the bundle is verified at start-up");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for path in ["/hello/ada", "/hello/ada", "/nope"] {
            let get = |url: String| async move {
                let response = client().get(url).send().await.unwrap();
                let status = response.status().as_u16();
                let body: serde_json::Value =
                    serde_json::from_str(&response.text().await.unwrap()).unwrap();
                (status, body)
            };
            let (status_b, body_b) = get(from_bundle.url(path)).await;
            let (status_d, body_d) = get(from_directive.url(path)).await;
            assert_eq!(status_b, status_d, "{path}: {body_b} / {body_d}");
            if status_b == 200 {
                assert_eq!(body_b["greeting"], body_d["greeting"]);
                assert_eq!(body_b["visits"], body_d["visits"]);
                assert_eq!(body_b["greeting"], "Hello, ada!");
            }
        }
    });
}

#[test]
fn a_bundle_holds_relative_paths_env_as_written_and_static_files() {
    let app = scratch("app");
    std::fs::create_dir_all(app.join("static/css")).unwrap();
    std::fs::write(app.join("static/index.html"), "<h1>hi</h1>").unwrap();
    std::fs::write(app.join("static/css/site.css"), "h1 { color: red }").unwrap();
    std::os::unix::fs::symlink("index.html", app.join("static/home.html")).unwrap();
    let yaml = expand(
        "# a comment that stays\n\
         identifier: test.bundle\n\
         appVersion: env(KARMAN_TEST_BUNDLE_VERSION, v1)\n\
         components:\n  \
           - name: echo\n    source: \"guest(echo)\"   # absolute on this machine\n  \
           - { name: echo-again, source: guest(echo), build: components/echo }\n\
         handlers:\n  \
           - { type: request, method: POST, resource: /echo, steps: [ { fn: echo }, { fn: echo-again } ] }\n",
    );
    std::fs::write(app.join("Directive.yaml"), &yaml).unwrap();
    let out = app.join("app.karman");
    let built = Command::new(env!("CARGO_BIN_EXE_karman"))
        .args(["bundle", "Directive.yaml", "-o", "app.karman"])
        .current_dir(&app)
        .env("KARMAN_TEST_BUNDLE_VERSION", "v7-secret-value")
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", text(&built.stderr));

    let file = std::fs::File::open(&out).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut names = Vec::new();
    let mut files = std::collections::BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header();
        assert_eq!(header.entry_type(), EntryType::Regular);
        assert_eq!(header.mode().unwrap(), 0o644);
        assert_eq!(header.mtime().unwrap(), 0);
        assert_eq!(header.uid().unwrap(), 0);
        let name = entry.path().unwrap().to_str().unwrap().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        names.push(name.clone());
        files.insert(name, data);
    }
    assert_eq!(
        names,
        [
            "karman-bundle.json",
            "Directive.yaml",
            "components/echo.wasm",
            "static/css/site.css",
            "static/home.html",
            "static/index.html",
        ],
        "one copy of a component two names share; the symlink inside static/ as a file"
    );
    let directive = text(&files["Directive.yaml"]);
    assert!(
        directive.starts_with("# a comment that stays\n"),
        "{directive}"
    );
    assert!(directive.contains("appVersion: env(KARMAN_TEST_BUNDLE_VERSION, v1)"));
    assert!(directive.contains("source: components/echo.wasm   # absolute on this machine"));
    assert!(
        directive
            .contains("{ name: echo-again, source: components/echo.wasm, build: components/echo }")
    );
    let root = repo_root().display().to_string();
    for (name, data) in &files {
        let data = text(data);
        assert!(!data.contains(&root), "{name} holds a path of this machine");
        assert!(
            !data.contains("v7-secret-value"),
            "{name} holds an env value"
        );
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["karman-bundle.json"]).unwrap();
    assert_eq!(manifest["format"], 1);
    assert_eq!(manifest["wit"], karman_runtime::wit::PACKAGE);
    assert_eq!(manifest["karman"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["identifier"], "test.bundle");
    assert_eq!(
        manifest["appVersion"],
        "env(KARMAN_TEST_BUNDLE_VERSION, v1)"
    );
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(listed, names[1..].to_vec());
    let index = &manifest["files"][4];
    assert_eq!(index["size"], 11);
    assert_eq!(index["sha256"], sha256_hex(b"<h1>hi</h1>"));

    // It serves from another directory, the env value read at serve time.
    let elsewhere = scratch("elsewhere").join("moved.karman");
    std::fs::rename(&out, &elsewhere).unwrap();
    let check = karman(&["check", elsewhere.to_str().unwrap()]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(
        text(&check.stdout).contains("test.bundle v1: OK"),
        "{}",
        text(&check.stdout)
    );

    // A symbolic link out of static/ is refused.
    std::os::unix::fs::symlink("/etc/hostname", app.join("static/leak")).unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_karman"))
        .args(["bundle", "Directive.yaml", "-o", "again.karman"])
        .current_dir(&app)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("outside the static directory"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!app.join("again.karman").exists());
}

#[test]
fn a_static_directory_the_directive_names_goes_in_at_static_and_is_served_from_the_bundle() {
    let app = scratch("named-static");
    std::fs::create_dir_all(app.join("public/js")).unwrap();
    std::fs::write(app.join("public/js/app.js"), "console.log(1)").unwrap();
    // A `static/` beside the Directive is not the app's when the Directive names another.
    std::fs::create_dir_all(app.join("static")).unwrap();
    std::fs::write(app.join("static/not-this.txt"), "no").unwrap();
    let yaml = expand(
        "identifier: test.named-static\n\
         appVersion: v1\n\
         static: { dir: 'public', mount: /assets }\n\
         components:\n  - { name: echo, source: guest(echo) }\n\
         handlers:\n  - { type: request, method: POST, resource: /echo, steps: [ { fn: echo } ] }\n",
    );
    std::fs::write(app.join("Directive.yaml"), &yaml).unwrap();
    let out = bundle(&app.join("Directive.yaml"));

    let all = entries(&out);
    let names: Vec<String> = all.iter().map(|e| text(&e.name)).collect();
    assert_eq!(
        names,
        [
            "karman-bundle.json",
            "Directive.yaml",
            "components/echo.wasm",
            "static/js/app.js"
        ]
    );
    let directive = text(&all[1].data);
    assert!(
        directive.contains("static: { dir: static, mount: /assets }"),
        "{directive}"
    );

    let served = Binary::serve_file(&out, "info", &[], &[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = client()
            .get(served.url("/assets/js/app.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.text().await.unwrap(), "console.log(1)");
        let missing = client()
            .get(served.url("/assets/not-this.txt"))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status().as_u16(), 404);
    });
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_restart_with_the_same_bundle_compiles_nothing() {
    let bundle = bundle(&hello());
    let cache = scratch("cache");
    let cache = cache.to_str().unwrap();
    let first = karman(&["check", bundle.to_str().unwrap(), "--cache-dir", cache]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("compiled code: 0 from cache, 4 compiled"),
        "{}",
        text(&first.stdout)
    );
    let entries_after_first = std::fs::read_dir(cache).unwrap().count();
    let second = karman(&["check", bundle.to_str().unwrap(), "--cache-dir", cache]);
    assert!(
        text(&second.stdout).contains("compiled code: 4 from cache, 0 compiled"),
        "{}",
        text(&second.stdout)
    );
    assert_eq!(
        std::fs::read_dir(cache).unwrap().count(),
        entries_after_first
    );
}

#[test]
fn a_changed_file_is_refused_and_nothing_is_served() {
    let bundle = altered(|entries| {
        let wasm = entries
            .iter_mut()
            .find(|e| e.name == b"components/greet.wasm")
            .unwrap();
        let last = wasm.data.len() - 1;
        wasm.data[last] ^= 0xff;
    });
    assert_refused(
        &bundle,
        &[],
        "entry `components/greet.wasm` does not match the manifest",
    );
    let served = Command::new(env!("CARGO_BIN_EXE_karman"))
        .args(["serve", bundle.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("KARMAN_LOG", "info")
        .output()
        .unwrap();
    assert!(!served.status.success());
    let stderr = text(&served.stderr);
    assert!(stderr.contains("does not match the manifest"), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[test]
fn entries_escaping_the_bundle_are_refused() {
    for (name, expected) in [
        (
            &b"../escaped"[..],
            "entry `../escaped`: its path goes up (`..`)",
        ),
        (b"static/../../escaped", "its path goes up (`..`)"),
        (
            b"/tmp/escaped",
            "entry `/tmp/escaped`: its path is absolute",
        ),
    ] {
        let bundle = altered(|entries| {
            entries.push(Raw {
                name: name.to_vec(),
                kind: EntryType::Regular,
                data: b"evil".to_vec(),
                link: Vec::new(),
            });
        });
        assert_refused(&bundle, &[], expected);
    }
    assert!(!Path::new("/tmp/escaped").exists());
    assert!(!repo_root().join("target/karman-test-tmp/escaped").exists());
}

#[test]
fn links_and_devices_are_refused() {
    for (kind, link, expected) in [
        (
            EntryType::Symlink,
            &b"/etc/passwd"[..],
            "is a symbolic link, not a regular file",
        ),
        (
            EntryType::Link,
            b"Directive.yaml",
            "is a hard link, not a regular file",
        ),
        (EntryType::Char, b"", "is a device, not a regular file"),
    ] {
        let bundle = altered(|entries| {
            entries.insert(
                1,
                Raw {
                    name: b"static/x".to_vec(),
                    kind,
                    data: Vec::new(),
                    link: link.to_vec(),
                },
            );
        });
        assert_refused(&bundle, &[], &format!("entry `static/x` {expected}"));
    }
}

#[test]
fn unlisted_duplicate_and_missing_entries_are_refused() {
    let bundle = altered(|entries| entries.push(Raw::file("extra.txt", b"x".to_vec())));
    assert_refused(
        &bundle,
        &[],
        "entry `extra.txt` is not listed in the manifest",
    );

    let bundle = altered(|entries| {
        let copy = Raw::file("Directive.yaml", entries[1].data.clone());
        entries.push(copy);
    });
    assert_refused(&bundle, &[], "entry `Directive.yaml` appears twice");

    // Listed but absent.
    let bundle = altered(|entries| entries.retain(|e| e.name != b"components/greet.wasm"));
    assert_refused(
        &bundle,
        &[],
        "the manifest lists files the archive does not hold: components/greet.wasm",
    );

    // Absent from the manifest too: the Directive names a component the bundle lacks.
    let bundle = altered(|entries| {
        entries.retain(|e| e.name != b"components/greet.wasm");
        let mut manifest = manifest(entries);
        manifest["files"]
            .as_array_mut()
            .unwrap()
            .retain(|f| f["path"] != "components/greet.wasm");
        set_manifest(entries, &manifest);
    });
    assert_refused(
        &bundle,
        &[],
        "the source of component `greet`, `components/greet.wasm`, does not exist",
    );
}

#[test]
fn a_directive_pointing_out_of_the_bundle_is_refused() {
    let outside = crate::support::guest("echo");
    let bundle = altered(|entries| {
        let directive = text(&entries[1].data).replace(
            "source: components/greet.wasm",
            &format!("source: {}", outside.display()),
        );
        entries[1].data = directive.into_bytes();
        let mut manifest = manifest(entries);
        let listed = &mut manifest["files"][0];
        assert_eq!(listed["path"], "Directive.yaml");
        listed["size"] = entries[1].data.len().into();
        listed["sha256"] = sha256_hex(&entries[1].data).into();
        set_manifest(entries, &manifest);
    });
    assert_refused(
        &bundle,
        &[],
        "the source of component `greet` lies outside the bundle",
    );
}

#[test]
fn archive_bombs_are_stopped_at_the_limits() {
    // 64 MiB of zeros, listed honestly: the gzip is small, the unpacked size is not.
    let zeros = vec![0u8; 64 << 20];
    let bundle = altered(|entries| {
        let mut manifest = manifest(entries);
        manifest["files"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "path": "static/zeros", "size": zeros.len(), "sha256": sha256_hex(&zeros),
            }));
        set_manifest(entries, &manifest);
        entries.push(Raw::file("static/zeros", zeros.clone()));
    });
    assert!(std::fs::metadata(&bundle).unwrap().len() < 2 << 20);
    assert_refused(
        &bundle,
        &["--bundle-max-bytes", "16MiB"],
        "it unpacks to more than 16777216 bytes (the limit, --bundle-max-bytes)",
    );
    // Within a larger limit it is accepted.
    let output = karman(&[
        "check",
        bundle.to_str().unwrap(),
        "--bundle-max-bytes",
        "128MiB",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));

    // Too many entries.
    assert_refused(
        &bundle,
        &["--bundle-max-files", "3"],
        "more than the limit (--bundle-max-files 3)",
    );
    // Directory entries count too (they are listed nowhere).
    let many = altered(|entries| {
        for n in 0..20 {
            let mut directory = Raw::file(&format!("static/d{n}/"), Vec::new());
            directory.kind = EntryType::Directory;
            entries.insert(1, directory);
        }
    });
    assert_refused(
        &many,
        &["--bundle-max-files", "10"],
        "it holds more than 10 entries (the limit, --bundle-max-files)",
    );
}

#[test]
fn something_that_is_not_a_bundle_is_refused() {
    let path = scratch("garbage").join("app.karman");
    std::fs::write(&path, b"not a gzip stream").unwrap();
    assert_refused(&path, &[], "it is not a readable tar.gz archive");

    // A manifest for another WIT package.
    let bundle = altered(|entries| {
        let mut manifest = manifest(entries);
        manifest["wit"] = "karman:runnable@9.9.9".into();
        set_manifest(entries, &manifest);
    });
    assert_refused(&bundle, &[], "it was built for karman:runnable@9.9.9");
}
