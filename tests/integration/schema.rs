//! `karman schema` with the real binary: the Directive's JSON Schema, printed or written.

use std::process::Command;

use crate::support::repo_root;

fn karman(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_karman"))
        .args(args)
        .output()
        .expect("karman runs")
}

#[test]
fn schema_prints_the_directive_s_json_schema() {
    let output = karman(&["schema"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).expect("the schema is UTF-8");
    assert_eq!(printed, karman_directive::JSON_SCHEMA);
    let schema: serde_json::Value =
        serde_json::from_str(&printed).expect("`karman schema` prints JSON");
    assert_eq!(schema["$id"], karman_directive::SCHEMA_URL);
    assert_eq!(schema["title"], "Karman Directive");
}

#[test]
fn schema_out_writes_the_schema_to_a_file() {
    let dir = repo_root()
        .join("target/karman-test-tmp")
        .join(format!("schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("directive.schema.json");
    let output = karman(&["schema", "--out", file.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty(), "nothing is printed with --out");
    let written = std::fs::read_to_string(&file).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&written).unwrap();
    let built_in: serde_json::Value = serde_json::from_str(karman_directive::JSON_SCHEMA).unwrap();
    assert_eq!(parsed, built_in);

    let missing = dir.join("no-such-dir/directive.schema.json");
    let output = karman(&["schema", "--out", missing.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot write") && stderr.contains("no-such-dir"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
