//! Both registries for real: the Glue Schema Registry's API on `moto_server`, and a
//! Confluent-compatible registry's REST API on the testkit's double (no such registry installs
//! here; see `pipeline_testkit::confluent`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use pipeline_core::spec::{Registry, SchemaType, SchemaVersion};
use pipeline_core::wire::SchemaId;
use pipeline_registry::{Client, LookupError, Options, Resolver, Retry};
use pipeline_testkit::confluent::ConfluentDouble;
use pipeline_testkit::moto::MotoServer;

const V1: &str = r#"{"type":"record","name":"Tick","fields":[{"name":"ticker","type":"string"}]}"#;
const V2: &str = r#"{"type":"record","name":"Tick","fields":[{"name":"ticker","type":"string"},{"name":"venue","type":["null","string"],"default":null}]}"#;

const QUICK: Retry = Retry {
    attempts: 3,
    first_backoff: Duration::from_millis(1),
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A Glue registry `pipeline` with schema `ticks` at version 1, on moto.
async fn glue_with_v1(moto: &MotoServer) -> Client {
    let options = Options {
        aws_emulator: Some(moto.url().to_owned()),
        ..Options::default()
    };
    let registry = Registry::Glue {
        registry: "pipeline".into(),
        schema: "ticks".into(),
    };
    let client = Client::connect(&registry, SchemaType::Avro, &options)
        .await
        .unwrap();
    moto.create_glue_schema("pipeline", "ticks", V1);
    client
}

#[test]
fn glue_versions_are_read_registered_and_found_by_definition() {
    let moto = MotoServer::start();
    let rt = runtime();
    rt.block_on(async {
        let client = glue_with_v1(&moto).await;
        let v1 = client.version(SchemaVersion::Latest).await.unwrap();
        assert_eq!((v1.number, v1.schema.as_str()), (1, V1));
        assert_eq!(client.version(SchemaVersion::Number(1)).await.unwrap(), v1);
        assert!(matches!(
            client.version(SchemaVersion::Number(7)).await,
            Err(LookupError::Unknown(_))
        ));

        // A producer registers its (newer) schema; registering it again finds the same id.
        let v2_id = client.register(V2).await.unwrap();
        assert_ne!(v2_id, v1.id);
        assert_eq!(client.register(V2).await.unwrap(), v2_id);
        assert_eq!(client.register(V1).await.unwrap(), v1.id);
        let latest = client.version(SchemaVersion::Latest).await.unwrap();
        assert_eq!((latest.id, latest.number), (v2_id, 2));
        assert_eq!(client.schema(v2_id).await.unwrap(), V2);

        // An id the registry never issued is permanent, not retried.
        let unknown = SchemaId::parse_uuid("0badc0de-0000-4000-8000-000000000000").unwrap();
        let err = client.schema(unknown).await.unwrap_err();
        assert!(
            matches!(&err, LookupError::Unknown(m) if m.contains("EntityNotFoundException")),
            "{err:?}"
        );
        // Short enough for a dead letter's detail: the code and Glue's message, not the raw
        // response.
        let LookupError::Unknown(detail) = &err else {
            unreachable!()
        };
        assert!(
            detail.len() < 200 && !detail.contains("headers"),
            "{detail}"
        );
        // A Confluent id means nothing to Glue.
        assert!(matches!(
            client.schema(SchemaId::Confluent(1)).await,
            Err(LookupError::Unknown(_))
        ));
    });
}

#[test]
fn the_resolver_looks_each_id_up_once() {
    let moto = MotoServer::start();
    let v1 = runtime().block_on(async {
        glue_with_v1(&moto)
            .await
            .version(SchemaVersion::Latest)
            .await
            .unwrap()
    });
    let registry = Registry::Glue {
        registry: "pipeline".into(),
        schema: "ticks".into(),
    };
    let options = Options {
        aws_emulator: Some(moto.url().to_owned()),
        ..Options::default()
    };
    let mut resolver = Resolver::connect(&registry, SchemaType::Avro, &options, QUICK).unwrap();
    let unknown = SchemaId::parse_uuid("0badc0de-0000-4000-8000-000000000000").unwrap();
    for _ in 0..3 {
        assert_eq!(resolver.resolve(v1.id).unwrap(), Ok(V1));
        assert!(
            resolver
                .resolve(unknown)
                .unwrap()
                .unwrap_err()
                .contains("EntityNotFoundException")
        );
    }
    assert_eq!(resolver.lookups(), 2);
}

#[test]
fn a_confluent_registry_is_read_and_written_and_its_failures_classified() {
    let double = ConfluentDouble::start();
    let v1_id = double.register("ticks-value", V1);
    double.register("other-value", V2);
    let registry = Registry::Confluent {
        url: "http://unused.invalid".into(),
        subject: "ticks-value".into(),
    };
    // The URL from the options wins over the spec's (per environment).
    let options = Options {
        confluent_url: Some(double.url().to_owned()),
        ..Options::default()
    };
    let rt = runtime();
    rt.block_on(async {
        let client = Client::connect(&registry, SchemaType::Avro, &options).await.unwrap();
        let v1 = client.version(SchemaVersion::Latest).await.unwrap();
        assert_eq!((v1.id, v1.number, v1.schema.as_str()), (SchemaId::Confluent(v1_id), 1, V1));
        let v2 = client.register(V2).await.unwrap();
        assert_eq!(v2, SchemaId::Confluent(2), "ids are global: V2 is already id 2");
        assert_eq!(client.register(V2).await.unwrap(), v2);
        assert_eq!(client.version(SchemaVersion::Number(2)).await.unwrap().id, v2);
        assert_eq!(client.schema(SchemaId::Confluent(2)).await, Ok(V2.to_owned()));
        assert!(matches!(client.schema(SchemaId::Confluent(99)).await, Err(LookupError::Unknown(m)) if m.contains("40403")));
        assert!(matches!(client.version(SchemaVersion::Number(9)).await, Err(LookupError::Unknown(m)) if m.contains("40402")));

        double.fail_next([503]);
        assert!(matches!(client.schema(SchemaId::Confluent(1)).await, Err(LookupError::Transient(_))));
        double.fail_next([401]);
        assert!(matches!(client.schema(SchemaId::Confluent(1)).await, Err(LookupError::Refused(m)) if m.contains("401")));
        // Retried past two 5xx answers; given up after the bound.
        double.fail_next([500, 503]);
        assert_eq!(QUICK.run("schema 1", || client.schema(SchemaId::Confluent(1))).await, Ok(V1.to_owned()));
        double.fail_next([500, 500, 500]);
        let err = QUICK.run("schema 1", || client.schema(SchemaId::Confluent(1))).await.unwrap_err();
        assert!(matches!(&err, LookupError::Transient(m) if m.contains("after 3 attempts")), "{err:?}");
    });
    assert!(
        double
            .requests()
            .contains(&"GET /schemas/ids/99".to_owned())
    );
}

#[test]
fn an_unreachable_registry_is_transient_and_a_bad_url_refused() {
    let rt = runtime();
    rt.block_on(async {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let registry = Registry::Confluent {
            url: format!("http://{closed}"),
            subject: "s".into(),
        };
        let client = Client::connect(&registry, SchemaType::Avro, &Options::default())
            .await
            .unwrap();
        assert!(matches!(
            client.schema(SchemaId::Confluent(1)).await,
            Err(LookupError::Transient(_))
        ));
        let bad = Registry::Confluent {
            url: "ftp://x".into(),
            subject: "s".into(),
        };
        assert!(matches!(
            Client::connect(&bad, SchemaType::Avro, &Options::default()).await,
            Err(LookupError::Refused(_))
        ));
    });
}

const PROTO_V1: &str = "syntax = \"proto3\";\nmessage Tick { string ticker = 1; }\n";
const PROTO_V2: &str =
    "syntax = \"proto3\";\nmessage Tick { string ticker = 1; optional string venue = 2; }\n";

#[test]
fn protobuf_schemas_are_served_and_a_format_mismatch_is_unknown() {
    let moto = MotoServer::start();
    moto.create_glue_schema_of("pipeline", "proto-ticks", "PROTOBUF", PROTO_V1);
    moto.create_glue_schema("pipeline2", "avro-ticks", V1);
    let double = ConfluentDouble::start();
    double.register("avro-value", V1);
    let rt = runtime();
    rt.block_on(async {
        let glue = |registry: &str, schema: &str, schema_type| {
            let registry = Registry::Glue {
                registry: registry.into(),
                schema: schema.into(),
            };
            let options = Options {
                aws_emulator: Some(moto.url().to_owned()),
                ..Options::default()
            };
            async move {
                Client::connect(&registry, schema_type, &options)
                    .await
                    .unwrap()
            }
        };
        let client = glue("pipeline", "proto-ticks", SchemaType::Protobuf).await;
        let v1 = client.version(SchemaVersion::Latest).await.unwrap();
        assert_eq!(v1.schema, PROTO_V1);
        let v2 = client.register(PROTO_V2).await.unwrap();
        assert_eq!(client.schema(v2).await.unwrap(), PROTO_V2);
        // The same versions, read by a client that expects Avro.
        let avro = glue("pipeline", "proto-ticks", SchemaType::Avro).await;
        let err = avro.schema(v2).await.unwrap_err();
        assert!(
            matches!(&err, LookupError::Unknown(m) if m.contains("its format is PROTOBUF; the spec reads AVRO")),
            "{err:?}"
        );
        let proto_reading_avro = glue("pipeline2", "avro-ticks", SchemaType::Protobuf).await;
        assert!(matches!(
            proto_reading_avro.version(SchemaVersion::Latest).await,
            Err(LookupError::Unknown(m)) if m.contains("its format is AVRO; the spec reads PROTOBUF")
        ));

        let confluent = |subject: &str, schema_type| {
            let registry = Registry::Confluent {
                url: double.url().to_owned(),
                subject: subject.into(),
            };
            async move {
                Client::connect(&registry, schema_type, &Options::default())
                    .await
                    .unwrap()
            }
        };
        let client = confluent("proto-value", SchemaType::Protobuf).await;
        let id = client.register(PROTO_V1).await.unwrap();
        assert_eq!(client.schema(id).await.unwrap(), PROTO_V1);
        assert_eq!(
            client.version(SchemaVersion::Latest).await.unwrap().id,
            id
        );
        let avro = confluent("proto-value", SchemaType::Avro).await;
        assert!(matches!(
            avro.schema(id).await,
            Err(LookupError::Unknown(m)) if m.contains("its format is PROTOBUF")
        ));
        let proto = confluent("avro-value", SchemaType::Protobuf).await;
        assert!(matches!(
            proto.version(SchemaVersion::Latest).await,
            Err(LookupError::Unknown(m)) if m.contains("its format is AVRO")
        ));
    });
}
