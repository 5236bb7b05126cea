//! `processor schema` prints what Terraform reads of a spec, and the committed copies
//! (`infra/pipelines/<name>.json`) are what it prints for each spec in `config/pipelines/`: a
//! stale, missing or orphaned file fails here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn stems(dir: &Path, extension: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_spec_has_its_committed_pipeline_file_and_no_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let specs = stems(&root.join("config/pipelines"), "toml");
    assert!(specs.len() >= 3, "{specs:?}");
    assert_eq!(
        stems(&root.join("infra/pipelines"), "json"),
        specs,
        "infra/pipelines/ and config/pipelines/ differ: run ./scripts/pipeline-schemas"
    );
    for name in &specs {
        let output = Command::new(env!("CARGO_BIN_EXE_processor"))
            .arg("--spec")
            .arg(root.join(format!("config/pipelines/{name}.toml")))
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
        assert_eq!(
            document["pipeline"],
            name.as_str(),
            "a spec is named as its file"
        );
        assert!(document["lake"]["columns"].as_array().unwrap().len() > 5);
        assert!(document["topics"]["input"].is_string());

        let file = root.join(format!("infra/pipelines/{name}.json"));
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: regenerate it with ./scripts/pipeline-schemas and commit it",
            file.display()
        );
    }
}
