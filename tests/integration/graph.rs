//! `karman graph` with the real binary: the pictures of the example apps, the formats, `-o`,
//! and an invalid Directive's diagnostics.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::repo_root;

fn karman(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_karman"))
        .args(args)
        .current_dir(dir)
        // The example reads its source from this variable: the pictures show the default.
        .env_remove("LOGIN_EVENTS")
        .output()
        .expect("karman runs")
}

fn stdout(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the graph is UTF-8")
}

#[test]
fn graph_draws_login_events_as_the_svg_in_the_docs() {
    let root = repo_root();
    let svg = stdout(karman(
        &[
            "graph",
            "examples/login-events/Directive.yaml",
            "--format",
            "svg",
        ],
        &root,
    ));
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    for text in [
        "com.example.login-events v0.1.0",
        "stream bus user.login",
        ">record-login<",
        ">grants: cache (prefix &quot;logins:&quot;), log<",
        ">send-email<",
        ">grants: log<",
        ">result: send-email<",
        ">respondTo<",
        ">bus user.login-completed<",
    ] {
        assert!(svg.contains(text), "the SVG lacks `{text}`:\n{svg}");
    }
    let committed = std::fs::read_to_string(root.join("docs/graph/login-events.svg")).unwrap();
    assert!(
        svg == committed,
        "docs/graph/login-events.svg is stale: regenerate it with `karman graph \
         examples/login-events/Directive.yaml --format svg -o docs/graph/login-events.svg`"
    );
}

#[test]
fn graph_reads_directive_yaml_by_default_and_writes_mermaid_or_dot_to_a_file() {
    let hello = repo_root().join("examples/hello");
    let mermaid = stdout(karman(&["graph"], &hello));
    assert!(mermaid.starts_with("flowchart TB\n"), "{mermaid}");
    assert!(
        mermaid.contains("f0_t([\"GET /hello/:name\"])"),
        "{mermaid}"
    );
    assert!(mermaid.contains("subgraph f0_g1[\"group\"]"), "{mermaid}");

    let dir = repo_root()
        .join("target/karman-test-tmp")
        .join(format!("graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hello.dot");
    let output = karman(
        &["graph", "-f", "dot", "-o", file.to_str().unwrap()],
        &hello,
    );
    assert!(stdout(output).is_empty(), "nothing is printed with -o");
    let dot = std::fs::read_to_string(&file).unwrap();
    assert!(
        dot.starts_with("digraph \"com.example.hello v0.1.0\" {"),
        "{dot}"
    );
    assert!(dot.contains("\"f0_s1_0\" -> \"f0_s2\";"), "{dot}");
    let svg = stdout(karman(&["graph", "--format", "svg"], &hello));
    let committed = std::fs::read_to_string(repo_root().join("docs/graph/hello.svg")).unwrap();
    assert!(
        svg == committed,
        "docs/graph/hello.svg is stale: regenerate it with `karman graph \
         examples/hello/Directive.yaml --format svg -o docs/graph/hello.svg`"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn graph_of_an_invalid_directive_prints_its_diagnostics() {
    let dir = repo_root()
        .join("target/karman-test-tmp")
        .join(format!("graph-invalid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Directive.yaml"),
        "identifier: com.example.bad\nappVersion: v0.1.0\nhandlers:\n  - type: request\n    method: GET\n    resource: /x\n    steps:\n      - fn: missing\n",
    )
    .unwrap();
    let output = karman(&["graph"], &dir);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid Directive")
            && stderr.contains(
                "Directive.yaml:8:13: step runs `missing`, which is not a declared component"
            ),
        "{stderr}"
    );
    let output = karman(&["graph", "--format", "png"], &dir);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("'png'") && stderr.contains("mermaid, dot, svg"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn graphviz_reads_the_dot_of_every_example_with_the_same_nodes_and_edges() {
    let dot_program = std::process::Command::new("dot").arg("-V").output();
    assert!(
        dot_program.is_ok_and(|o| o.status.success()),
        "Graphviz's `dot` is missing: run scripts/tools (it installs Debian's graphviz)"
    );
    let mut examples: Vec<_> = std::fs::read_dir(repo_root().join("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|dir| dir.join("Directive.yaml").exists())
        .collect();
    examples.sort();
    assert!(examples.len() >= 4, "{examples:?}");
    for example in examples {
        let dot = stdout(karman(&["graph", "-f", "dot"], &example));
        // What Karman declares: each node once, and each edge.
        let declared: std::collections::BTreeSet<&str> = dot
            .lines()
            .filter(|line| line.contains(" [label=\""))
            .map(|line| line.trim().split('"').nth(1).unwrap())
            .collect();
        let edges = dot.lines().filter(|line| line.contains("\" -> \"")).count();

        let mut child = std::process::Command::new("dot")
            .arg("-Tplain")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(dot.as_bytes())
            .unwrap();
        let laid_out = child.wait_with_output().unwrap();
        let name = example.display();
        assert!(
            laid_out.status.success() && laid_out.stderr.is_empty(),
            "{name}: dot says: {}\n{dot}",
            String::from_utf8_lossy(&laid_out.stderr)
        );
        // `-Tplain`: `node <name> …` and `edge <tail> <head> …` lines; names with spaces are
        // quoted, and Karman's ids have none.
        let plain = String::from_utf8(laid_out.stdout).unwrap();
        let nodes: std::collections::BTreeSet<&str> = plain
            .lines()
            .filter_map(|line| line.strip_prefix("node "))
            .map(|rest| rest.split(' ').next().unwrap())
            .collect();
        assert_eq!(
            nodes, declared,
            "{name}: Graphviz saw other nodes than Karman declared (an edge to an undeclared id?)"
        );
        let laid_edges = plain.lines().filter(|l| l.starts_with("edge ")).count();
        assert_eq!(laid_edges, edges, "{name}: edges");
        assert!(edges > 0, "{name}: the graph has edges");
    }
}
