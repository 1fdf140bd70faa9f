//! HTTPS (`--tls-cert`, `--tls-key`) through the real binary and curl: HTTP/1.1 and HTTP/2
//! chosen by ALPN, the certificate read again on SIGHUP, and certificates that cannot be used
//! refused at start-up. Certificates are made here with rcgen.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{Binary, repo_root, unique};

/// A fresh directory with a self-signed certificate for `127.0.0.1` and `localhost`
/// (`cert.pem`, `key.pem`).
fn certificate(name: &str) -> PathBuf {
    let dir = repo_root()
        .join("target/karman-test-tmp")
        .join(unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    write_certificate(&dir);
    dir
}

fn write_certificate(dir: &Path) {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).unwrap();
}

/// `curl` of `url` trusting only `ca`, with `args`: (exit code, HTTP version, body).
fn curl(ca: &Path, url: &str, args: &[&str]) -> (i32, String, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(ca)
        .args(args)
        .args(["-w", "\n%{http_version}", url])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, version) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        output.status.code().unwrap_or(-1),
        version.to_string(),
        body.to_string(),
    )
}

fn serve_https(dir: &Path) -> Binary {
    let directive = repo_root().join("examples/hello/Directive.yaml");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    Binary::serve_file(
        &directive,
        "info",
        &[],
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
}

#[test]
fn https_serves_http1_and_http2_by_alpn_and_refuses_plain_http() {
    let dir = certificate("tls");
    let binary = serve_https(&dir);
    let url = binary.url("/hello/ada");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let ca = dir.join("cert.pem");

    let (code, version, body) = curl(&ca, &url, &["--http1.1"]);
    assert_eq!((code, version.as_str()), (0, "1.1"), "{body}");
    assert!(body.contains("Hello, ada!"), "{body}");
    let (code, version, body) = curl(&ca, &url, &["--http2"]);
    assert_eq!((code, version.as_str()), (0, "2"), "{body}");
    assert!(body.contains("Hello, ada!"), "{body}");

    // Plain HTTP to the HTTPS port gets no HTTP answer; the server keeps serving.
    let plain = url.replacen("https://", "http://", 1);
    let (code, _, body) = curl(&ca, &plain, &[]);
    assert_ne!(code, 0, "plain HTTP was answered: {body}");
    assert_eq!(curl(&ca, &url, &[]).0, 0);
}

#[test]
fn sighup_reads_a_renewed_certificate_and_keeps_the_old_one_when_the_new_is_broken() {
    let dir = certificate("tls-reload");
    let binary = serve_https(&dir);
    let url = binary.url("/hello/ada");
    let old_ca = dir.join("old.pem");
    std::fs::copy(dir.join("cert.pem"), &old_ca).unwrap();
    assert_eq!(curl(&old_ca, &url, &[]).0, 0);

    // A broken key: logged, the old certificate stays.
    std::fs::write(dir.join("key.pem"), "not a key").unwrap();
    binary.hangup();
    let failed = binary.wait_for_log(Duration::from_secs(30), |entry| {
        entry["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("TLS certificate reload failed"))
    });
    assert!(
        failed.to_string().contains("key.pem"),
        "names the file: {failed}"
    );
    assert_eq!(curl(&old_ca, &url, &[]).0, 0, "the old certificate stays");

    // A renewed certificate: new handshakes get it.
    write_certificate(&dir);
    binary.hangup();
    binary.wait_for_log(Duration::from_secs(30), |entry| {
        entry["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("TLS certificate read again"))
    });
    let (code, _, body) = curl(&dir.join("cert.pem"), &url, &[]);
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("Hello, ada!"), "{body}");
    let (code, _, _) = curl(&old_ca, &url, &[]);
    assert_eq!(
        code, 60,
        "the old certificate is no longer presented (curl: 60)"
    );
}

fn serve_refused(args: &[&str]) -> Output {
    let directive = repo_root().join("examples/hello/Directive.yaml");
    Command::new(env!("CARGO_BIN_EXE_karman"))
        .arg("serve")
        .arg(directive)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_certificate_that_cannot_be_used_stops_start_up_naming_the_file() {
    let dir = certificate("tls-bad");
    let other = certificate("tls-other");
    let cert = dir.join("cert.pem");
    let cases = [
        (
            vec!["--tls-cert".to_string(), cert.display().to_string()],
            "--tls-key".to_string(),
        ),
        (
            vec![
                "--tls-cert".to_string(),
                cert.display().to_string(),
                "--tls-key".to_string(),
                other.join("key.pem").display().to_string(),
            ],
            format!(
                "the key `{}` cannot be used with the certificate",
                other.join("key.pem").display()
            ),
        ),
        (
            vec![
                "--tls-cert".to_string(),
                dir.join("missing.pem").display().to_string(),
                "--tls-key".to_string(),
                dir.join("key.pem").display().to_string(),
            ],
            format!(
                "cannot read the certificate `{}`",
                dir.join("missing.pem").display()
            ),
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = serve_refused(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} started");
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
    }
}
