//! The JSON Schema of the Directive (`schema/directive.schema.json`) held equal to the parser:
//!
//! - every key set of `karman_directive::keys` is exactly the `properties` of its schema
//!   object, and every schema object with properties belongs to a key set;
//! - every Directive of `examples/` and every `tests/ui` case the parser accepts is valid under
//!   the schema, read as draft 2020-12 and as draft-07 (what most editors read);
//! - Directives with an unknown key or a value of the wrong type are refused, at their path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use karman_directive::{JSON_SCHEMA, ParseOptions, SCHEMA_COMMENT, keys};
use marked_yaml::Node;
use serde_json::{Map, Number, Value};

fn schema() -> Value {
    serde_json::from_str(JSON_SCHEMA).expect("the schema is JSON")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

// --- The key sets and the schema's objects --------------------------------------------------

/// The keywords through which an object schema takes in the `properties` of others.
const APPLICATORS: &[&str] = &["allOf", "anyOf", "oneOf"];
const BRANCHES: &[&str] = &["then", "else"];

/// The `properties` of the object schema at `pointer`, with those it takes in through `$ref`,
/// `allOf`/`anyOf`/`oneOf` and `then`/`else`; each object visited is added to `visited`.
fn properties_at(
    schema: &Value,
    pointer: &str,
    visited: &mut BTreeSet<String>,
) -> BTreeSet<String> {
    let node = schema
        .pointer(pointer)
        .unwrap_or_else(|| panic!("the schema has nothing at `{pointer}`"));
    visited.insert(pointer.to_string());
    let mut properties: BTreeSet<String> = node
        .get("properties")
        .and_then(Value::as_object)
        .map(|map| map.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(target) = node.get("$ref").and_then(Value::as_str) {
        let target = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("`{pointer}` refers outside the schema: `{target}`"));
        properties.extend(properties_at(schema, target, visited));
    }
    for keyword in APPLICATORS {
        let branches = node.get(*keyword).and_then(Value::as_array);
        for index in 0..branches.map_or(0, Vec::len) {
            let branch = format!("{pointer}/{keyword}/{index}");
            properties.extend(properties_at(schema, &branch, visited));
        }
    }
    for keyword in BRANCHES {
        if node.get(*keyword).is_some() {
            properties.extend(properties_at(
                schema,
                &format!("{pointer}/{keyword}"),
                visited,
            ));
        }
    }
    properties
}

/// Every schema object (by JSON pointer) that lists `properties`, outside `if` conditions.
fn objects_with_properties(node: &Value, pointer: &str, found: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if map.get("properties").is_some_and(Value::is_object) {
                found.push(pointer.to_string());
            }
            for (key, child) in map {
                if key == "if" {
                    continue;
                }
                let escaped = key.replace('~', "~0").replace('/', "~1");
                // The values of `properties` are schemas, the map itself is not (a property
                // may be named `properties`).
                if let ("properties", Value::Object(names)) = (key.as_str(), child) {
                    for (name, property) in names {
                        let name = name.replace('~', "~0").replace('/', "~1");
                        objects_with_properties(
                            property,
                            &format!("{pointer}/properties/{name}"),
                            found,
                        );
                    }
                    continue;
                }
                objects_with_properties(child, &format!("{pointer}/{escaped}"), found);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                objects_with_properties(item, &format!("{pointer}/{index}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn every_key_set_is_exactly_the_properties_of_its_schema_object() {
    let schema = schema();
    let mut visited = BTreeSet::new();
    let mut problems = Vec::new();
    for set in keys::ALL {
        let path = set.schema_path();
        let in_schema = properties_at(&schema, path, &mut visited);
        let in_parser: BTreeSet<String> = set.keys().iter().map(|k| k.to_string()).collect();
        for key in in_parser.difference(&in_schema) {
            problems.push(format!(
                "the parser accepts `{key}`, but the schema object at `{path}` has no such property"
            ));
        }
        for key in in_schema.difference(&in_parser) {
            problems.push(format!(
                "the schema object at `{path}` has the property `{key}`, which the parser refuses"
            ));
        }
    }
    let mut objects = Vec::new();
    objects_with_properties(&schema, "", &mut objects);
    for object in objects.iter().filter(|o| !visited.contains(*o)) {
        problems.push(format!(
            "the schema object at `{object}` has properties, but no key set of the parser reads it"
        ));
    }
    assert!(objects.len() >= keys::ALL.len(), "{objects:?}");
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The keywords the schema may use: those that draft-07 (what yaml-language-server and most
/// editors read) and draft 2020-12 read the same way, so editors check what the tests check.
const KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "title",
    "description",
    "type",
    "enum",
    "const",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "properties",
    "propertyNames",
    "additionalProperties",
    "required",
    "minProperties",
    "items",
    "minItems",
    "anyOf",
    "oneOf",
    "if",
    "then",
    "else",
];

/// Checks every schema in `node` (found at `pointer`): known keywords only, and each object
/// with properties closed and each property titled and described.
fn check_schema_node(node: &Value, pointer: &str, problems: &mut Vec<String>) {
    let Some(map) = node.as_object() else {
        return;
    };
    for (keyword, value) in map {
        let at = format!("{pointer}/{keyword}");
        if !KEYWORDS.contains(&keyword.as_str()) {
            problems.push(format!(
                "`{at}`: the keyword `{keyword}` is not in the list this schema keeps to"
            ));
        }
        match keyword.as_str() {
            "$defs" | "properties" => {
                for (name, child) in value.as_object().into_iter().flatten() {
                    check_schema_node(child, &format!("{at}/{name}"), problems);
                }
            }
            "anyOf" | "oneOf" => {
                for (index, child) in value.as_array().into_iter().flatten().enumerate() {
                    check_schema_node(child, &format!("{at}/{index}"), problems);
                }
            }
            "items" | "if" | "then" | "else" | "additionalProperties" | "propertyNames" => {
                check_schema_node(value, &at, problems);
            }
            _ => {}
        }
    }
    let Some(properties) = map.get("properties").and_then(Value::as_object) else {
        return;
    };
    let conditional = pointer.ends_with("/if");
    if !conditional && map.get("additionalProperties") != Some(&Value::Bool(false)) {
        problems.push(format!(
            "`{pointer}` lists properties but allows others: add `\"additionalProperties\": false`"
        ));
    }
    for (name, property) in properties {
        for word in ["title", "description"] {
            let given = property.get(word).and_then(Value::as_str);
            if !conditional && given.is_none_or(str::is_empty) {
                problems.push(format!(
                    "the property `{name}` at `{pointer}` has no `{word}`"
                ));
            }
        }
    }
}

#[test]
fn the_schema_is_a_valid_closed_and_documented_draft_2020_12_schema() {
    let schema = schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    if let Err(error) = jsonschema::meta::validate(&schema) {
        panic!(
            "the schema is not a valid JSON Schema: {error} at `{}`",
            error.instance_path()
        );
    }
    let mut problems = Vec::new();
    check_schema_node(&schema, "", &mut problems);
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

// --- Directives against the schema ----------------------------------------------------------

/// A Directive as JSON, its scalars typed as YAML 1.2 (the core schema) types them, as an
/// editor does: an unquoted `3` is a number, `true` a boolean, an empty value null; a quoted
/// scalar is always a string.
fn yaml_to_json(node: &Node) -> Value {
    match node {
        Node::Mapping(map) => {
            let object: Map<String, Value> = map
                .iter()
                .map(|(key, value)| (key.as_str().to_string(), yaml_to_json(value)))
                .collect();
            Value::Object(object)
        }
        Node::Sequence(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Node::Scalar(scalar) if !scalar.may_coerce() => Value::String(scalar.as_str().to_string()),
        Node::Scalar(scalar) => plain_scalar(scalar.as_str()),
    }
}

/// An unquoted scalar, typed by the YAML 1.2 core schema.
fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let integer = if let Some(hex) = text.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(octal) = text.strip_prefix("0o") {
        i64::from_str_radix(octal, 8).ok()
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(n) = integer {
        return Value::Number(n.into());
    }
    let float = digits
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    match text
        .parse::<f64>()
        .ok()
        .filter(|_| float)
        .and_then(Number::from_f64)
    {
        Some(number) => Value::Number(number),
        None => Value::String(text.to_string()),
    }
}

fn directive_as_json(text: &str, file: &str) -> Value {
    let options = marked_yaml::LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .prevent_coercion(true);
    let node = marked_yaml::parse_yaml_with_options(0, text, options)
        .unwrap_or_else(|e| panic!("{file} is not YAML: {e}"));
    yaml_to_json(&node)
}

/// The schema read as draft 2020-12 (what it declares) and as draft-07 (what editors read).
struct Validators {
    draft_2020_12: jsonschema::Validator,
    draft_07: jsonschema::Validator,
}

impl Validators {
    fn new() -> Self {
        let schema = schema();
        let mut as_draft_07 = schema.clone();
        as_draft_07.as_object_mut().unwrap().remove("$schema");
        Self {
            draft_2020_12: jsonschema::draft202012::new(&schema).expect("the schema compiles"),
            draft_07: jsonschema::draft7::new(&as_draft_07)
                .expect("the schema compiles as draft-07"),
        }
    }

    /// Every error of 2020-12, as `path: message`, and whether draft-07 found one too.
    fn errors(&self, directive: &Value) -> (Vec<String>, bool) {
        let errors = self
            .draft_2020_12
            .iter_errors(directive)
            .map(|e| format!("`{}`: {e}", e.instance_path()))
            .collect();
        (errors, !self.draft_07.is_valid(directive))
    }

    fn assert_valid(&self, directive: &Value, file: &str) {
        let (errors, draft_07_refuses) = self.errors(directive);
        assert!(
            errors.is_empty(),
            "{file} is valid, but the schema refuses it:\n{}",
            errors.join("\n")
        );
        assert!(
            !draft_07_refuses,
            "{file} is valid, but the schema read as draft-07 refuses it"
        );
    }
}

#[test]
fn every_example_directive_starts_with_the_schema_comment_and_is_valid() {
    let validators = Validators::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(repo_root().join("examples")).unwrap() {
        let path = entry.unwrap().path().join("Directive.yaml");
        if !path.exists() {
            continue;
        }
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().next(),
            Some(SCHEMA_COMMENT),
            "{file} starts with the schema comment"
        );
        validators.assert_valid(&directive_as_json(&text, &file), &file);
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} example Directives found");
}

fn test_env(name: &str) -> Option<String> {
    match name {
        "APP_VERSION" => Some("v2.0.0".to_string()),
        "JWT_SECRET" => Some("a-test-secret-of-at-least-32-bytes!".to_string()),
        "DATABASE_URL" => Some("postgres://app@db.internal:5432/notes".to_string()),
        _ => None,
    }
}

/// Each `tests/ui` case: its name, its text, and whether the parser accepts it.
fn ui_cases() -> Vec<(String, String, bool)> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(ui_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let options = ParseOptions {
            file_name: file.clone(),
            base_dir: ui_dir(),
            env: &test_env,
            unbuilt_sources: false,
            unset_env: karman_directive::UnsetEnv::Error,
        };
        let accepted = karman_directive::parse(&text, &options).is_ok();
        cases.push((file, text, accepted));
    }
    cases.sort();
    cases
}

#[test]
fn every_ui_directive_the_parser_accepts_is_valid() {
    let validators = Validators::new();
    let accepted: Vec<_> = ui_cases().into_iter().filter(|(_, _, ok)| *ok).collect();
    for (file, text, _) in &accepted {
        validators.assert_valid(&directive_as_json(text, file), file);
    }
    assert!(accepted.len() >= 7, "only {} ui cases load", accepted.len());
}

#[test]
fn every_unknown_key_the_parser_reports_in_a_ui_case_the_schema_reports_too() {
    let validators = Validators::new();
    let mut checked = 0;
    for (file, text, _) in ui_cases() {
        let expected = std::fs::read_to_string(ui_dir().join(file.replace(".yaml", ".err")))
            .unwrap_or_default();
        let unknown: Vec<&str> = expected
            .lines()
            .filter_map(|line| line.split_once("unknown key `")?.1.split_once('`'))
            .map(|(key, _)| key)
            .collect();
        if unknown.is_empty() {
            continue;
        }
        let (errors, draft_07_refuses) = validators.errors(&directive_as_json(&text, &file));
        for key in unknown {
            assert!(
                errors.iter().any(|e| e.contains(&format!("'{key}'"))),
                "{file}: the parser reports the unknown key `{key}`, the schema does not:\n{}",
                errors.join("\n")
            );
            checked += 1;
        }
        assert!(
            draft_07_refuses,
            "{file}: the schema read as draft-07 accepts it"
        );
    }
    assert!(checked >= 10, "only {checked} unknown keys checked");
}

/// The errors of the schema for a Directive given as YAML.
fn schema_errors(yaml: &str) -> Vec<String> {
    let (errors, draft_07_refuses) = Validators::new().errors(&directive_as_json(yaml, "a test"));
    assert_eq!(
        !errors.is_empty(),
        draft_07_refuses,
        "draft 2020-12 and draft-07 disagree on:\n{yaml}\n{errors:?}"
    );
    errors
}

/// Asserts that one of `errors` is at `path` and says `says`.
fn assert_error(errors: &[String], path: &str, says: &str) {
    let at = format!("`{path}`: ");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&at) && e.contains(says)),
        "no error at `{path}` saying {says:?} in:\n{}",
        errors.join("\n")
    );
}

const HEAD: &str = "identifier: test.schema\nappVersion: 1.0\n";

#[test]
fn a_minimal_directive_with_typed_scalars_is_valid() {
    let yaml = format!(
        "{HEAD}components:\n  - {{ name: a, source: a.wasm, limits: {{ memory: 1048576 }}, reuse: {{ maxUses: 5 }} }}\n\
         connections:\n  database: {{ type: Postgres, connectionString: env(DB), maxConnections: \"3\" }}\n\
         handlers:\n  - {{ type: request, method: post, resource: /a, steps: [ {{ fn: a }} ] }}\n"
    );
    assert_eq!(schema_errors(&yaml), Vec::<String>::new());
}

#[test]
fn unknown_keys_are_refused_at_their_mapping() {
    let errors = schema_errors(&format!(
        "{HEAD}components:\n  - {{ name: a, sorce: a.wasm }}\nhandler: []\n"
    ));
    assert_error(&errors, "/components/0", "'sorce' was unexpected");
    assert_error(
        &errors,
        "/components/0",
        "\"source\" is a required property",
    );
    assert_error(&errors, "", "'handler' was unexpected");

    let errors = schema_errors(&format!(
        "{HEAD}handlers:\n  - {{ type: stream, resource: a.b, method: GET, steps: [ {{ fn: a, onerr: {{ any: continue }} }} ] }}\n"
    ));
    assert_error(&errors, "/handlers/0", "'method' was unexpected");
    assert_error(&errors, "/handlers/0/steps/0", "'onerr' was unexpected");
}

#[test]
fn values_of_the_wrong_type_or_form_are_refused_at_their_path() {
    let errors = schema_errors(&format!(
        "{HEAD}components:\n  - {{ name: a, source: a.wasm, capabilities: {{ log: \"no\" }}, limits: {{ memory: [1], timeout: 5 }} }}\n"
    ));
    assert_error(
        &errors,
        "/components/0/capabilities/log",
        "\"no\" does not match",
    );
    assert_error(&errors, "/components/0/limits/memory", "");
    assert_error(&errors, "/components/0/limits/timeout", "");

    let errors = schema_errors(&format!(
        "{HEAD}handlers:\n  - {{ type: request, method: FETCH, resource: users, steps: [] }}\n\
         routes:\n  - {{ plugin: Billing, component: b, endpoints: [ {{ method: GET, path: /x, auth: everyone }} ] }}\n"
    ));
    assert_error(&errors, "/handlers/0/method", "");
    assert_error(&errors, "/handlers/0/resource", "does not match \"^/\"");
    assert_error(&errors, "/handlers/0/steps", "[] has less than 1 item");
    assert_error(&errors, "/routes/0/plugin", "does not match");
    assert_error(&errors, "/routes/0/endpoints/0/auth", "");
}

#[test]
fn json_of_yaml_types_scalars_as_yaml_1_2_does() {
    let json = directive_as_json(
        "a: 3\nb: \"3\"\nc: true\nd: 'true'\ne:\nf: 1.5\ng: 16MiB\nh: 0x10\ni: -2\nj: 1e3\nk: .5\nl: 1.0.0",
        "a test",
    );
    let expected: BTreeMap<&str, Value> = [
        ("a", 3.into()),
        ("b", "3".into()),
        ("c", true.into()),
        ("d", "true".into()),
        ("e", Value::Null),
        ("f", 1.5.into()),
        ("g", "16MiB".into()),
        ("h", 16.into()),
        ("i", (-2).into()),
        ("j", 1000.0.into()),
        ("k", 0.5.into()),
        ("l", "1.0.0".into()),
    ]
    .into_iter()
    .collect();
    for (key, value) in expected {
        assert_eq!(json[key], value, "`{key}`");
    }
}
