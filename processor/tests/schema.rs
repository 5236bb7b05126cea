//! `processor schema` prints the schema Terraform reads, and the committed copy
//! (`infra/schema.json`) is what it prints for the shipped spec: a stale file fails here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

#[test]
fn the_committed_schema_file_is_what_the_spec_generates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(env!("CARGO_BIN_EXE_processor"))
        .arg("--spec")
        .arg(root.join("config/pipeline.toml"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let generated = String::from_utf8(output.stdout).unwrap();
    let document: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert!(document["lake"]["columns"].as_array().unwrap().len() > 5);

    let file = root.join("infra/schema.json");
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale or missing: regenerate it with \
         `cargo run -p processor -- schema > infra/schema.json` and commit it",
        file.display()
    );
}
