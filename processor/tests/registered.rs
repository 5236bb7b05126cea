//! Avro and Protobuf input end to end on the embedded broker: the shared ticks in each format,
//! in the Glue wire format (registry on `moto_server`) and in the Confluent wire format (the
//! registry double),
//! some written with an evolved schema version, plus records whose header names no version
//! the registry has, or cannot be read. The processor must give the aggregates and dead
//! letters the JSON ticks give, and dead-letter the rest with their reasons, original bytes
//! and schema version. Then `processor run` against a registry whose schema does not serve the
//! spec: it stops at start naming the spec file, the version and the field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::sync::Arc;

use common::{TICKERS, cluster, expected, finish, inputs, produce, read_all};
use pipeline_core::framer::{Framer, SchemaEncoder};
use pipeline_core::spec::SchemaType;
use pipeline_core::wire::{self, SchemaId};
use pipeline_core::{STOCK_TICKS_SPEC, Spec};
use pipeline_registry::{Options, Resolver, Retry};
use pipeline_testkit::confluent::ConfluentDouble;
use pipeline_testkit::moto::MotoServer;

fn registry_spec(input: &str) -> Arc<Spec> {
    Arc::new(
        Spec::from_toml(
            &format!("{STOCK_TICKS_SPEC}{input}"),
            "stock-ticks-avro.toml",
        )
        .unwrap(),
    )
}

const GLUE: &str =
    "\n[input]\nformat = \"avro\"\n[input.glue]\nregistry = \"pipeline\"\nschema = \"ticks\"\n";
const CONFLUENT: &str = "\n[input]\nformat = \"avro\"\n[input.confluent]\nurl = \"http://127.0.0.1:9\"\nsubject = \"ticks-value\"\n";

/// `input` (one of the above) in Protobuf.
fn protobuf(input: &str) -> String {
    input.replace("\"avro\"", "\"protobuf\"")
}

fn schema_type(spec: &Spec) -> SchemaType {
    spec.input.registry().expect("a registry spec").schema_type
}

/// The spec's schema with `fields` (a subset or reordering: another version).
fn encoder(spec: &Spec, fields: &[pipeline_core::spec::FieldSpec]) -> SchemaEncoder {
    match schema_type(spec) {
        SchemaType::Avro => {
            SchemaEncoder::Avro(pipeline_core::avro::Encoder::with_fields(spec, fields).unwrap())
        }
        SchemaType::Protobuf => SchemaEncoder::Protobuf(
            pipeline_core::protobuf::ProtoEncoder::with_fields(spec, fields).unwrap(),
        ),
    }
}

fn resolver(spec: &Spec, options: &Options) -> Resolver {
    Resolver::connect(
        registry_of(spec),
        schema_type(spec),
        options,
        Retry::default(),
    )
    .unwrap()
}

/// Runs the shared ticks through the processor in the spec's format; `options` reach the
/// registry.
fn registry_run(spec: Arc<Spec>, options: Options) {
    let json_spec = common::spec();
    let cluster = cluster();
    let json_inputs = inputs();
    let encoder_v1 = encoder(&spec, &spec.event.fields);
    // The evolved version: the same fields in another order (a producer's newer schema).
    let mut reordered = spec.event.fields.clone();
    reordered.reverse();
    let evolved = encoder(&spec, &reordered);
    let registry = resolver(&spec, &options);
    let v1 = registry.register(encoder_v1.schema_text()).unwrap();
    let v2 = registry.register(evolved.schema_text()).unwrap();
    assert_ne!(v1, v2);
    let (first, second) = (
        Framer::new(encoder_v1, v1, false),
        Framer::new(evolved, v2, true),
    );
    let mut avro_inputs: Vec<common::Input> = json_inputs
        .iter()
        .enumerate()
        .map(|(i, input)| common::Input {
            partition: input.partition,
            timestamp_ms: input.timestamp_ms,
            payload: if i % 2 == 0 {
                first.record(&input.payload)
            } else {
                second.record(&input.payload)
            },
        })
        .collect();
    // On each partition, after its ticks: a record naming a version the registry never
    // issued, and one whose header is cut short.
    let unknown = match v1 {
        SchemaId::Glue(_) => SchemaId::parse_uuid("0badc0de-0000-4000-8000-000000000000").unwrap(),
        SchemaId::Confluent(_) => SchemaId::Confluent(4_000),
    };
    let last = json_inputs.last().unwrap().timestamp_ms;
    for p in 0..TICKERS.len() as i32 {
        for payload in [
            wire::frame(unknown, false, b"\x02a"),
            vec![wire::GLUE_VERSION],
        ] {
            avro_inputs.push(common::Input {
                partition: p,
                timestamp_ms: last,
                payload,
            });
        }
    }
    produce(&cluster.settings, "ticks", &avro_inputs);

    let mut config = processor::EngineConfig::new("registry", processor::Delivery::AtLeastOnce);
    config.max_batch = 64;
    let mut engine =
        processor::Engine::start(Arc::clone(&spec), &cluster.settings, None, config).unwrap();
    engine
        .set_registry(processor::registry::open(&spec, "stock-ticks-avro.toml", &options).unwrap());
    finish(&mut engine, &avro_inputs);
    assert_eq!(
        engine.schema_lookups(),
        2,
        "the version before the latest and the unknown one, once each"
    );

    let (want_aggregates, want_dead) = expected(&json_spec, &json_inputs);
    let mut got: Vec<String> = read_all(&cluster.settings, "aggregates", 3, want_aggregates.len())
        .into_iter()
        .map(|(_, payload, _)| String::from_utf8(payload).unwrap())
        .collect();
    got.sort();
    assert_eq!(
        got, want_aggregates,
        "the aggregates of the same ticks as JSON"
    );

    let per_partition = json_inputs.len() as i64 / 3;
    let dead = read_all(&cluster.settings, "ticks.dlq", 1, want_dead.len() + 6);
    let mut got_dead = Vec::new();
    for (_, payload, headers) in &dead {
        let partition: i32 = headers["dlq.source.partition"].parse().unwrap();
        let offset: i64 = headers["dlq.source.offset"].parse().unwrap();
        let original = avro_inputs
            .iter()
            .filter(|i| i.partition == partition)
            .nth(offset as usize)
            .unwrap();
        assert_eq!(
            payload, &original.payload,
            "a dead letter carries the original bytes"
        );
        let reason = headers["dlq.reason"].clone();
        match offset - per_partition {
            0 => {
                assert_eq!(reason, "unknown_schema");
                assert_eq!(headers["dlq.schema_version"], unknown.to_string());
            }
            1 => assert!(
                !headers.contains_key("dlq.schema_version"),
                "no header, no version"
            ),
            _ => assert!(
                [v1.to_string(), v2.to_string()].contains(&headers["dlq.schema_version"]),
                "{headers:?}"
            ),
        }
        got_dead.push((partition, offset, reason));
    }
    got_dead.sort();
    let mut want = want_dead.clone();
    for p in 0..3 {
        want.push((p, per_partition, "unknown_schema".into()));
        want.push((p, per_partition + 1, "malformed".into()));
    }
    // The JSON ticks' missing volume cannot be written in Avro (the field is required): the
    // producer sends it cut short, and it is malformed. Protobuf's optional field is absent.
    if schema_type(&spec) == SchemaType::Avro {
        for entry in &mut want {
            if entry.2 == "missing_field" {
                entry.2 = "malformed".into();
            }
        }
    }
    want.sort();
    assert_eq!(got_dead, want);

    // `processor replay` judges the dead letters through the registry: the late ones are
    // valid events, the unknown version stays refused.
    cluster.kafka.create_topic("ticks.replay", 3).unwrap();
    let mut resolver = resolver(&spec, &options);
    let mut dry_run = |reason| {
        let range = processor::replay::ReplayOptions {
            source: "ticks.dlq".into(),
            target: "ticks.replay".into(),
            since_ms: None,
            until_ms: None,
            reasons: vec![reason],
            include_refused: false,
            dry_run: true,
            timeout: std::time::Duration::from_secs(10),
        };
        processor::replay::replay_with(&spec, &cluster.settings, None, &range, Some(&mut resolver))
            .unwrap()
    };
    let late = dry_run(pipeline_core::Reason::Late);
    assert_eq!(late.chosen.len(), 6, "{late:?}");
    assert!(late.chosen.iter().all(|c| c.refused.is_none()), "{late:?}");
    let unknown = dry_run(pipeline_core::Reason::UnknownSchema);
    assert_eq!(
        unknown.still_refused.get("unknown_schema"),
        Some(&3),
        "{unknown:?}"
    );
}

fn registry_of(spec: &Spec) -> &pipeline_core::spec::Registry {
    match &spec.input {
        pipeline_core::spec::InputFormat::Registry(r) => &r.registry,
        pipeline_core::spec::InputFormat::Json => panic!("not a registry spec"),
    }
}

fn glue_run(spec: Arc<Spec>) {
    let moto = MotoServer::start();
    moto.create_glue_schema_of(
        "pipeline",
        "ticks",
        schema_type(&spec).registry_name(),
        encoder(&spec, &spec.event.fields).schema_text(),
    );
    registry_run(
        spec,
        Options {
            aws_emulator: Some(moto.url().to_owned()),
            ..Options::default()
        },
    );
}

fn confluent_run(spec: Arc<Spec>) {
    let double = ConfluentDouble::start();
    registry_run(
        spec,
        Options {
            confluent_url: Some(double.url().to_owned()),
            ..Options::default()
        },
    );
}

#[test]
fn avro_in_the_glue_wire_format_gives_the_aggregates_of_json() {
    glue_run(registry_spec(GLUE));
}

#[test]
fn avro_in_the_confluent_wire_format_gives_the_aggregates_of_json() {
    confluent_run(registry_spec(CONFLUENT));
}

#[test]
fn protobuf_in_the_glue_wire_format_gives_the_aggregates_of_json() {
    glue_run(registry_spec(&protobuf(GLUE)));
}

#[test]
fn protobuf_in_the_confluent_wire_format_gives_the_aggregates_of_json() {
    confluent_run(registry_spec(&protobuf(CONFLUENT)));
}

/// `processor run` on `spec_text` against the double; its stderr, once it has exited (it must
/// fail).
fn run_against(double: &ConfluentDouble, name: &str, spec_text: &str) -> (String, String) {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, spec_text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args([
            "--spec",
            file.to_str().unwrap(),
            "run",
            "--brokers",
            "127.0.0.1:9",
            "--health-addr",
            "127.0.0.1:0",
        ])
        .env("SCHEMA_REGISTRY_URL", double.url())
        .output()
        .unwrap();
    assert!(!output.status.success());
    (
        file.to_str().unwrap().to_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn run_stops_at_start_when_the_registry_schema_does_not_serve_the_spec() {
    let double = ConfluentDouble::start();
    double.register(
        "ticks-value",
        r#"{"type":"record","name":"T","fields":[{"name":"event_id","type":"string"},{"name":"ticker","type":"long"}]}"#,
    );
    let (file, stderr) = run_against(
        &double,
        "ticks-avro",
        &format!("{STOCK_TICKS_SPEC}{CONFLUENT}"),
    );
    for needle in [
        file.as_str(),
        "subject ticks-value version 1 (id 1)",
        "ticker: the schema has long",
        "price: the spec declares it; the schema has no such field",
    ] {
        assert!(stderr.contains(needle), "`{needle}` not in:\n{stderr}");
    }
}

/// The same for Protobuf: the spec's message type is checked, and a subject holding Avro is
/// refused for a Protobuf spec.
#[test]
fn run_stops_at_start_when_the_protobuf_message_does_not_serve_the_spec() {
    let double = ConfluentDouble::start();
    double.register_typed(
        "ticks-value",
        "syntax = \"proto3\";\npackage shop;\nmessage Other { string x = 1; }\nmessage Tick { string event_id = 1; int64 ticker = 2; }\n",
        "PROTOBUF",
    );
    let spec = format!(
        "{STOCK_TICKS_SPEC}{}",
        protobuf(CONFLUENT).replace("[input]\n", "[input]\nmessage = \"shop.Tick\"\n")
    );
    let (file, stderr) = run_against(&double, "ticks-protobuf", &spec);
    for needle in [
        file.as_str(),
        "subject ticks-value version 1 (id 1)",
        "ticker: the schema has int64; the spec's string needs string or an enum",
        "price: the spec declares it; message shop.Tick has no such field",
    ] {
        assert!(stderr.contains(needle), "`{needle}` not in:\n{stderr}");
    }
    let avro_subject = ConfluentDouble::start();
    avro_subject.register("ticks-value", r#"{"type":"record","name":"T","fields":[]}"#);
    let (_, stderr) = run_against(&avro_subject, "ticks-protobuf-on-avro", &spec);
    assert!(
        stderr.contains("its format is AVRO; the spec reads PROTOBUF"),
        "{stderr}"
    );
}

/// `processor run` as ECS runs it, reaching Glue through the environment's AWS configuration
/// (here `AWS_ENDPOINT_URL` to moto_server) and the registry Terraform created under its
/// prefixed name (`GLUE_REGISTRY_NAME`): a valid tick is taken in, a record naming a version
/// the registry never issued is dead-lettered `unknown_schema` with that version.
#[test]
fn run_reaches_glue_through_the_environment() {
    let moto = MotoServer::start();
    let spec = registry_spec(GLUE);
    let schema = encoder(&spec, &spec.event.fields);
    moto.create_glue_schema("sp-dev-pipeline", "ticks", schema.schema_text());
    let options = Options {
        aws_emulator: Some(moto.url().to_owned()),
        glue_registry: Some("sp-dev-pipeline".into()),
        ..Options::default()
    };
    let v1 = resolver(&spec, &options)
        .version(pipeline_core::spec::SchemaVersion::Latest)
        .unwrap();
    let cluster = cluster();
    let framer = Framer::new(schema, v1.id, true);
    let unknown = SchemaId::parse_uuid("0badc0de-0000-4000-8000-000000000000").unwrap();
    let tick = inputs().into_iter().next().unwrap();
    produce(
        &cluster.settings,
        "ticks",
        &[
            common::Input {
                payload: framer.record(&tick.payload),
                ..tick
            },
            common::Input {
                partition: 0,
                timestamp_ms: common::BASE_MS,
                payload: wire::frame(unknown, false, b"\x02a"),
            },
        ],
    );
    let dir = std::env::temp_dir().join(format!("avro-glue-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ticks-avro.toml");
    std::fs::write(&file, format!("{STOCK_TICKS_SPEC}{GLUE}")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_processor"))
        .args(["--spec", file.to_str().unwrap(), "run"])
        .args(["--brokers", &cluster.kafka.bootstrap_servers()])
        .args([
            "--delivery",
            "at-least-once",
            "--health-addr",
            "127.0.0.1:0",
        ])
        .env("GLUE_REGISTRY_NAME", "sp-dev-pipeline")
        .env("AWS_ENDPOINT_URL", moto.url())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let dead = read_all(&cluster.settings, "ticks.dlq", 1, 1);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(dead.len(), 1, "the valid tick is not a dead letter");
    let headers = &dead[0].2;
    assert_eq!(headers["dlq.reason"], "unknown_schema");
    assert_eq!(headers["dlq.schema_version"], unknown.to_string());
    assert!(
        headers["dlq.detail"].contains("EntityNotFoundException"),
        "{headers:?}"
    );
}
