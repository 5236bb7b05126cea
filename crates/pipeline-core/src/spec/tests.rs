use super::*;
use crate::STOCK_TICKS_SPEC;

/// The shipped stock-ticks spec.
pub(crate) fn stock_spec() -> Spec {
    Spec::from_toml(STOCK_TICKS_SPEC, "config/pipeline.toml").unwrap()
}

/// The shipped spec with `from` replaced by `to` (which must occur exactly once).
fn mutated(from: &str, to: &str) -> Result<Spec, SpecError> {
    assert_eq!(
        STOCK_TICKS_SPEC.matches(from).count(),
        1,
        "`{from}` must occur once"
    );
    Spec::from_toml(&STOCK_TICKS_SPEC.replacen(from, to, 1), "pipeline.toml")
}

fn problems_of(result: Result<Spec, SpecError>) -> Vec<Problem> {
    match result {
        Ok(_) => panic!("the spec should have been refused"),
        Err(e) => {
            assert_eq!(e.file, "pipeline.toml");
            e.problems
        }
    }
}

#[test]
fn the_shipped_spec_loads() {
    let spec = stock_spec();
    assert_eq!(spec.name, "stock-ticks");
    assert_eq!(spec.topics.input, "ticks");
    assert_eq!(spec.topics.dead_letter, "ticks.dlq");
    assert_eq!(spec.key_field().name, "ticker");
    assert_eq!(spec.price_scale(), 4);
    assert_eq!(
        spec.window,
        WindowSpec {
            size_ms: 60_000,
            slide_ms: 60_000,
            allowed_lateness_ms: 10_000
        }
    );
    assert_eq!(spec.event.max_future_skew_ms, 300_000);
    let names: Vec<_> = spec.aggregates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "count",
            "volume",
            "open",
            "high",
            "low",
            "close",
            "vwap",
            "avg_price",
            "notional"
        ]
    );
    assert_eq!(spec.aggregates[6].function, AggregateFn::Vwap);
    assert_eq!(spec.aggregates[6].scale, 6);
    assert_eq!(spec.session_timezone, chrono_tz::America::New_York);
}

#[test]
fn load_reads_the_file_and_names_a_missing_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/pipeline.toml");
    assert_eq!(Spec::load(path).unwrap().name, "stock-ticks");
    let err = Spec::load("/nonexistent/pipeline.toml").unwrap_err();
    assert_eq!(err.file, "/nonexistent/pipeline.toml");
    assert!(err.to_string().contains("cannot read the file"), "{err}");
}

#[test]
fn an_unknown_key_names_the_line_and_the_expected_keys() {
    let err = mutated("max_bytes = 4096", "max_bytes = 4096\nmax_bites = 1").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("invalid pipeline spec pipeline.toml: 1 problem"),
        "{text}"
    );
    assert!(text.contains("line 21"), "{text}");
    assert!(text.contains("unknown field `max_bites`"), "{text}");
}

#[test]
fn a_wrong_type_is_refused_with_what_was_expected() {
    let err = mutated("max_bytes = 4096", "max_bytes = \"4k\"").unwrap_err();
    assert!(err.to_string().contains("expected u64"), "{err}");
    let err = mutated("type = \"tumbling\"", "type = \"sliding\"").unwrap_err();
    assert!(
        err.to_string().contains("expected `tumbling` or `hopping`"),
        "{err}"
    );
}

#[test]
fn impossible_values_are_each_named_by_key() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "size = \"1m\"",
            "size = \"0s\"",
            "window.size",
            "out of range",
        ),
        (
            "size = \"1m\"",
            "size = \"1 minute\"",
            "window.size",
            "unknown unit",
        ),
        (
            "allowed_lateness = \"10s\"",
            "allowed_lateness = \"2d\"",
            "window.allowed_lateness",
            "0s to 1d",
        ),
        (
            "type = \"tumbling\"",
            "type = \"hopping\"",
            "window.slide",
            "need a slide",
        ),
        (
            "type = \"tumbling\"",
            "type = \"hopping\"\nslide = \"7s\"",
            "window.slide",
            "divide",
        ),
        (
            "max_bytes = 4096",
            "max_bytes = 0",
            "event.max_bytes",
            "out of range",
        ),
        (
            "dead_letter = \"ticks.dlq\"",
            "dead_letter = \"ticks\"",
            "topics.dead_letter",
            "also topics.input",
        ),
        (
            "output = \"aggregates\"",
            "output = \"aggr egates\"",
            "topics.output",
            "not a Kafka topic name",
        ),
        (
            "session_timezone = \"America/New_York\"",
            "session_timezone = \"Mars/Olympus\"",
            "enrich.session_timezone",
            "IANA",
        ),
        (
            "key = \"ticker\"",
            "key = \"symbol\"",
            "event.key",
            "not among event.fields",
        ),
        (
            "price = \"price\"",
            "price = \"volume\"",
            "event.price",
            "expected a decimal field",
        ),
        (
            "max_length = 10",
            "max_length = 40",
            "event.fields[1] (ticker).max_length",
            "at most 31",
        ),
        (
            "min_length = 1\nmax_length = 10",
            "min_length = 11\nmax_length = 10",
            "event.fields[1] (ticker).min_length",
            "above max_length",
        ),
        (
            "pattern = \"^[A-Z][A-Z0-9.]*$\"",
            "pattern = \"^[A-Z\"",
            "event.fields[1] (ticker).pattern",
            "not a valid regex",
        ),
        (
            "pattern = \"^[A-Z][A-Z0-9.]*$\"",
            "pattern = \"[A-Z]+\"",
            "event.fields[1] (ticker).pattern",
            "anchor",
        ),
        (
            "max = \"1000000\"",
            "max = 1000000.5",
            "event.fields[2] (price).max",
            "as strings",
        ),
        (
            "max = \"1000000\"",
            "max = \"1000000.00001\"",
            "event.fields[2] (price).max",
            "5 decimal places",
        ),
        (
            "max = \"1000000\"",
            "max = \"-1\"",
            "event.fields[2] (price).min",
            "range between min and max is empty",
        ),
        (
            "max = \"1000000\"",
            "max = \"1000000\"\nmin = \"1\"",
            "event.fields[2] (price).min",
            "not both",
        ),
        (
            "max = \"1000000\"",
            "max = \"1000000\"\npattern = \"^x$\"",
            "event.fields[2] (price).pattern",
            "does not apply to a decimal field",
        ),
        (
            "scale = 4 ",
            "scale = 12 ",
            "event.fields[2] (price).scale",
            "at most 9",
        ),
        (
            "min = 1\n",
            "min = 0\n",
            "event.fields[3] (volume).min",
            "at least 1",
        ),
        (
            "min = 1\n",
            "min = 2_000_000_000\n",
            "event.fields[3] (volume).min",
            "above max",
        ),
        (
            "name = \"event_id\"\ntype = \"string\"\nmin_length = 1",
            "name = \"event_id\"\ntype = \"string\"\nrequired = false\nmin_length = 1",
            "event.event_id",
            "must be required",
        ),
        (
            "name = \"exchange\"",
            "name = \"notional\"",
            "event.fields",
            "derived price × volume",
        ),
        (
            "name = \"exchange\"",
            "name = \"ticker\"",
            "event.fields[5].name",
            "declared twice",
        ),
        (
            "name = \"avg_price\"",
            "name = \"close\"",
            "aggregates[7] (close).name",
            "already exists",
        ),
        (
            "name = \"avg_price\"",
            "name = \"Avg-Price\"",
            "aggregates[7] (Avg-Price).name",
            "lowercase column name",
        ),
        (
            "function = \"vwap\"",
            "function = \"median\"",
            "aggregates[6] (vwap).function",
            "not supported",
        ),
        (
            "name = \"volume\"\nfunction = \"sum\"\nfield = \"volume\"",
            "name = \"volume\"\nfunction = \"sum\"\nfield = \"price\"",
            "aggregates[1] (volume).function",
            "sum of `volume` or `notional`",
        ),
        (
            "name = \"vwap\"\nfunction = \"vwap\"\nfield = \"price\"\nscale = 6",
            "name = \"vwap\"\nfunction = \"vwap\"\nfield = \"price\"\nscale = 2",
            "aggregates[6] (vwap).scale",
            "expected 4",
        ),
        (
            "name = \"count\"\nfunction = \"count\"",
            "name = \"count\"\nfunction = \"count\"\nscale = 2",
            "aggregates[0] (count).scale",
            "only avg and vwap",
        ),
    ];
    for (from, to, key, fragment) in cases {
        let problems = problems_of(mutated(from, to));
        assert!(
            problems
                .iter()
                .any(|p| p.key == *key && p.message.contains(fragment)),
            "replacing {from:?} with {to:?}: expected a problem at {key} containing {fragment:?}, got {problems:#?}"
        );
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = STOCK_TICKS_SPEC
        .replacen("size = \"1m\"", "size = \"0s\"", 1)
        .replacen("max_bytes = 4096", "max_bytes = 0", 1)
        .replacen("function = \"vwap\"", "function = \"median\"", 1);
    let err = Spec::from_toml(&text, "pipeline.toml").unwrap_err();
    let keys: Vec<_> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "event.max_bytes",
            "window.size",
            "aggregates[6] (vwap).function"
        ],
        "{err}"
    );
    assert!(err.to_string().contains("3 problems"));
}

#[test]
fn hopping_windows_load() {
    let spec = mutated("type = \"tumbling\"", "type = \"hopping\"\nslide = \"15s\"").unwrap();
    assert_eq!(spec.window.slide_ms, 15_000);
    assert!(!spec.window.is_tumbling());
}
