use super::*;
use crate::STOCK_TICKS_SPEC;
use crate::expr::Rounding;

/// The shipped stock-ticks spec.
pub(crate) fn stock_spec() -> Spec {
    Spec::from_toml(STOCK_TICKS_SPEC, "config/pipelines/stock-ticks.toml").unwrap()
}

/// Every shipped spec.
pub(crate) fn shipped() -> Vec<Spec> {
    crate::SHIPPED_SPECS
        .iter()
        .map(|(name, text)| Spec::from_toml(text, name).unwrap())
        .collect()
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

fn expect_problem(from: &str, to: &str, key: &str, fragment: &str) {
    let problems = problems_of(mutated(from, to));
    assert!(
        problems
            .iter()
            .any(|p| p.key == key && p.message.contains(fragment)),
        "replacing {from:?} with {to:?}: expected a problem at {key} containing {fragment:?}, got {problems:#?}"
    );
}

#[test]
fn the_shipped_specs_load() {
    let spec = stock_spec();
    assert_eq!(spec.name, "stock-ticks");
    assert_eq!(spec.topics.input, "ticks");
    assert_eq!(spec.topics.dead_letter, "ticks.dlq");
    let keys: Vec<&str> = spec.key_fields().map(|f| f.name.as_str()).collect();
    assert_eq!(keys, ["ticker"]);
    assert_eq!(
        spec.window,
        WindowSpec {
            size_ms: 60_000,
            slide_ms: 60_000,
            session: None,
            allowed_lateness_ms: 10_000,
            idle_timeout_ms: Some(60_000),
            max_keys: Some(100_000),
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
    let vwap = &spec.aggregates[6];
    assert_eq!(vwap.function, AggregateFn::WeightedAvg);
    assert_eq!(vwap.scale, 6);
    assert_eq!(spec.slots[vwap.weight.unwrap()].name, "volume");
    assert_eq!(spec.derived[0].name, "notional");
    assert_eq!(spec.derived[0].rounding, Rounding::HalfEven);
    assert_eq!(spec.window_columns[0].zone, chrono_tz::America::New_York);
    assert_eq!(spec.checks.len(), 4);
    let all = shipped();
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["orders", "page-views", "sensor-readings", "stock-ticks"]
    );
    let orders = &all[0];
    assert_eq!(orders.event.key.len(), 2);
    assert!(orders.filter.is_some());
    assert_eq!(orders.record_identifier(), KEY_COLUMN);
    assert!(!all[1].window.is_tumbling());
}

#[test]
fn load_reads_the_file_and_names_a_missing_one() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/pipelines/stock-ticks.toml"
    );
    assert_eq!(Spec::load(path).unwrap().name, "stock-ticks");
    let err = Spec::load("/nonexistent/pipeline.toml").unwrap_err();
    assert_eq!(err.file, "/nonexistent/pipeline.toml");
    assert!(err.to_string().contains("cannot read the file"), "{err}");
}

#[test]
fn an_unknown_key_is_reported_with_the_other_problems() {
    let text = STOCK_TICKS_SPEC
        .replacen("max_bytes = 4096", "max_bytes = 4096\nmax_bites = 1", 1)
        .replacen("size = \"1m\"", "size = \"0s\"", 1);
    let err = Spec::from_toml(&text, "pipeline.toml").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("invalid pipeline spec pipeline.toml: 2 problems"),
        "{text}"
    );
    assert!(
        text.contains("event.max_bites: unknown key; expected one of: key, event_time"),
        "{text}"
    );
    assert!(text.contains("window.size"), "{text}");
}

#[test]
fn a_wrong_type_is_refused_with_what_was_expected() {
    let err = mutated("max_bytes = 4096", "max_bytes = \"4k\"").unwrap_err();
    assert!(err.to_string().contains("expected u64"), "{err}");
    expect_problem(
        "type = \"tumbling\" ",
        "type = \"sliding\" ",
        "window.type",
        "expected tumbling, hopping or session",
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
            "idle_timeout = \"1m\"",
            "idle_timeout = \"10ms\"",
            "window.idle_timeout",
            "1s to 1d",
        ),
        (
            "max_keys = 100000",
            "max_keys = 0",
            "window.max_keys",
            "expected 1 to 100000000",
        ),
        (
            "type = \"tumbling\" ",
            "type = \"hopping\" ",
            "window.slide",
            "need a slide",
        ),
        (
            "type = \"tumbling\" ",
            "type = \"hopping\"\nslide = \"7s\" ",
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
            "name = \"stock-ticks\"",
            "name = \"Stock Ticks\"",
            "name",
            "not a pipeline name",
        ),
        (
            "name = \"stock-ticks\"",
            "name = \"stock-ticks-of-every-exchange\"",
            "name",
            "at most 20 characters",
        ),
        (
            "zone = \"America/New_York\"",
            "zone = \"Mars/Olympus\"",
            "window.columns[0] (session_date).zone",
            "IANA",
        ),
        (
            "key = [\"ticker\"]",
            "key = [\"symbol\"]",
            "event.key[0]",
            "not among event.fields",
        ),
        (
            "key = [\"ticker\"]",
            "key = []",
            "event.key",
            "at least one key field",
        ),
        (
            "key = [\"ticker\"]",
            "key = [\"price\"]",
            "event.key[0]",
            "expected a string or integer or boolean field",
        ),
        (
            "key = [\"ticker\"]",
            "key = [\"ticker\", \"exchange\"]",
            "event.key[1]",
            "must be required",
        ),
        (
            "max_length = 10",
            "max_length = 70",
            "event.key",
            "at most 63",
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
            "event.fields[2] (price).max",
            "exclusive_min = \"0\" and max = \"-1\" leave an empty range",
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
            "column name",
        ),
        (
            "name = \"avg_price\"",
            "name = \"session_date\"",
            "aggregates[7] (session_date).name",
            "already exists",
        ),
        (
            "function = \"weighted_avg\"",
            "function = \"median\"",
            "aggregates[6] (vwap).function",
            "not an aggregate function",
        ),
        (
            "name = \"avg_price\"\nfunction = \"avg\"\nfield = \"price\"\nscale = 6",
            "name = \"avg_price\"\nfunction = \"avg\"\nfield = \"price\"\nscale = 2",
            "aggregates[7] (avg_price).scale",
            "expected 4",
        ),
        (
            "name = \"count\"\nfunction = \"count\"",
            "name = \"count\"\nfunction = \"count\"\nscale = 2",
            "aggregates[0] (count).scale",
            "only avg and weighted_avg",
        ),
        // New in the general spec: aggregates over a non-numeric field, weights, derived
        // fields, filters, checks, generator hints.
        (
            "name = \"volume\"\nfunction = \"sum\"\nfield = \"volume\"",
            "name = \"volume\"\nfunction = \"sum\"\nfield = \"ticker\"",
            "aggregates[1] (volume).function",
            "sums need an integer or decimal field",
        ),
        (
            "name = \"avg_price\"\nfunction = \"avg\"\nfield = \"price\"",
            "name = \"avg_price\"\nfunction = \"avg\"\nfield = \"event_time\"",
            "aggregates[7] (avg_price).function",
            "averages need an integer or decimal field",
        ),
        (
            "name = \"volume\"\nfunction = \"sum\"\nfield = \"volume\"",
            "name = \"volume\"\nfunction = \"sum\"",
            "aggregates[1] (volume).field",
            "needs a field",
        ),
        (
            "name = \"volume\"\nfunction = \"sum\"\nfield = \"volume\"",
            "name = \"volume\"\nfunction = \"sum\"\nfield = \"shares\"",
            "aggregates[1] (volume).field",
            "not a field",
        ),
        (
            "weight = \"volume\"",
            "weight = \"ticker\"",
            "aggregates[6] (vwap).weight",
            "not a number",
        ),
        (
            "min = 1\n",
            "min = -5\n",
            "aggregates[6] (vwap).weight",
            "lower bound of 0 or more",
        ),
        (
            "expr = \"price * volume\"",
            "expr = \"price * shares\"",
            "derive[0] (notional).expr",
            "`shares` is not a field",
        ),
        (
            "expr = \"price * volume\"",
            "expr = \"price * ticker\"",
            "derive[0] (notional).expr",
            "arithmetic needs numbers",
        ),
        (
            "expr = \"price * volume\"",
            "expr = \"price > volume\"",
            "derive[0] (notional).expr",
            "a derived field is a number",
        ),
        (
            "expr = \"price * volume\"\nscale = 4",
            "expr = \"price * volume\"",
            "derive[0] (notional).scale",
            "required",
        ),
        (
            "expr = \"price * volume\"\nscale = 4",
            "expr = \"price * volume\"\nscale = 4\nrounding = \"nearest\"",
            "derive[0] (notional).rounding",
            "half_even, half_up",
        ),
        (
            "expr = \"price * volume\"",
            "expr = \"volume / price\"",
            "derive[0] (notional).on_zero",
            "can be zero",
        ),
        (
            "name = \"stock-ticks\"",
            "name = \"stock-ticks\"\nwhere = \"exchange == 1\"",
            "where",
            "cannot compare",
        ),
        (
            "name = \"stock-ticks\"",
            "name = \"stock-ticks\"\nwhere = \"price + 1\"",
            "where",
            "a filter is a condition",
        ),
        (
            "rule = \"count > 0\"",
            "rule = \"count > vwapp\"",
            "checks[2].rule",
            "not a column of the aggregate",
        ),
        (
            "generate = { min = 1, max = 1000 }",
            "generate = { min = 1, max = 1000, values = [\"x\"] }",
            "event.fields[3] (volume).generate.values",
            "applies only to string fields",
        ),
        (
            "generate = { values = [\"AMZN\"",
            "generate = { values = [\"amzn\"",
            "event.fields[1] (ticker).generate.values",
            "does not match",
        ),
        (
            "generate = { min = 1, max = 1000 }",
            "generate = { min = 1, max = 1000, colour = 3 }",
            "event.fields[3] (volume).generate.colour",
            "unknown key",
        ),
    ];
    for (from, to, key, fragment) in cases {
        expect_problem(from, to, key, fragment);
    }
}

#[test]
fn a_pattern_the_generated_values_would_not_match_needs_a_hint() {
    let listed = STOCK_TICKS_SPEC
        .lines()
        .find(|l| l.starts_with("generate = { values = [\"AMZN\""))
        .unwrap();
    let problems = problems_of(mutated(listed, ""));
    assert!(
        problems
            .iter()
            .any(|p| p.key == "event.fields[1] (ticker).generate"
                && p.message.contains("values like `ticker-0`")
                && p.message
                    .contains("give generate.values or generate.prefix")),
        "{problems:?}"
    );
    // A prefix the pattern accepts is enough.
    mutated(listed, "generate = { prefix = \"T\", cardinality = 50 }").unwrap();
}

#[test]
fn a_string_kept_in_a_window_must_be_short() {
    let text = STOCK_TICKS_SPEC
        .replacen(
            "one_of = [\"NASDAQ\", \"NYSE\", \"ARCA\", \"BATS\", \"IEX\"]",
            "max_length = 100",
            1,
        )
        .replacen(
            "name = \"high\"\nfunction = \"max\"\nfield = \"price\"",
            "name = \"high\"\nfunction = \"max\"\nfield = \"exchange\"",
            1,
        );
    let problems = problems_of(Spec::from_toml(&text, "pipeline.toml"));
    assert!(
        problems
            .iter()
            .any(|p| p.key == "aggregates[3] (high).function"
                && p.message.contains("at most 64 characters")),
        "{problems:#?}"
    );
}

#[test]
fn a_divisor_that_can_be_zero_needs_on_zero_and_a_safe_one_does_not() {
    let risky = "expr = \"price * volume\"";
    assert!(
        mutated(risky, "expr = \"price / volume\"").is_ok(),
        "volume ≥ 1"
    );
    let null = mutated(
        "expr = \"price * volume\"\nscale = 4",
        "expr = \"volume / (price - 1)\"\nscale = 4\non_zero = \"null\"",
    )
    .unwrap();
    assert_eq!(null.derived[0].on_zero, OnZero::Null);
    assert!(
        !null.slots[6].always,
        "a null derived value is not always there"
    );
    expect_problem(
        "expr = \"price * volume\"\nscale = 4",
        "expr = \"price / (volume - 1)\"\nscale = 4\non_zero = \"ignore\"",
        "derive[0] (notional).on_zero",
        "null or dead_letter",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = STOCK_TICKS_SPEC
        .replacen("size = \"1m\"", "size = \"0s\"", 1)
        .replacen("max_bytes = 4096", "max_bytes = 0", 1)
        .replacen("function = \"weighted_avg\"", "function = \"median\"", 1);
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
    let spec = mutated(
        "type = \"tumbling\" ",
        "type = \"hopping\"\nslide = \"15s\" ",
    )
    .unwrap();
    assert_eq!(spec.window.slide_ms, 15_000);
    assert!(!spec.window.is_tumbling());
}

#[test]
fn session_windows_load_with_their_gap_and_cap() {
    let spec = mutated(
        "type = \"tumbling\"         # or \"hopping\", with slide = \"…\"\nsize = \"1m\"",
        "type = \"session\"\ngap = \"30s\"\nmax_duration = \"1h\"",
    )
    .map(|s| s.window)
    .map_err(|e| e.to_string());
    // The stock spec has a budget, which sessions refuse: load it without.
    let err = spec.unwrap_err();
    assert!(
        err.contains("window.max_keys: applies only to tumbling"),
        "{err}"
    );
    let text = STOCK_TICKS_SPEC
        .replacen(
            "type = \"tumbling\"",
            "type = \"session\"\ngap = \"30s\"",
            1,
        )
        .replacen("size = \"1m\"", "max_duration = \"1h\"", 1)
        .replacen("max_keys = 100000", "", 1);
    let window = Spec::from_toml(&text, "pipeline.toml").unwrap().window;
    assert_eq!(
        window.session,
        Some(SessionSpec {
            gap_ms: 30_000,
            max_duration_ms: 3_600_000
        })
    );
    assert!(!window.is_tumbling());
    assert_eq!((window.size_ms, window.slide_ms), (3_600_000, 3_600_000));
    // Without a cap, a day.
    let text = text.replacen("max_duration = \"1h\"", "", 1);
    let window = Spec::from_toml(&text, "pipeline.toml").unwrap().window;
    assert_eq!(window.session.map(|s| s.max_duration_ms), Some(86_400_000));
}

#[test]
fn a_session_window_without_a_sensible_gap_is_refused() {
    let session = "type = \"session\"\ngap = \"30s\"\nmax_duration = \"1h\"";
    let tumbling =
        "type = \"tumbling\"         # or \"hopping\", with slide = \"…\"\nsize = \"1m\"";
    for (to, key, fragment) in [
        (
            "type = \"session\"\nmax_duration = \"1h\"",
            "window.gap",
            "need a gap",
        ),
        (
            "type = \"session\"\ngap = \"0s\"",
            "window.gap",
            "out of range",
        ),
        (
            "type = \"session\"\ngap = \"2h\"\nmax_duration = \"1h\"",
            "window.max_duration",
            "more than the gap (2h)",
        ),
        (
            "type = \"session\"\ngap = \"1m\"\nmax_duration = \"8d\"",
            "window.max_duration",
            "at most 7d",
        ),
        (
            "type = \"session\"\ngap = \"1m\"\nsize = \"1m\"",
            "window.size",
            "use gap and max_duration",
        ),
        (
            "type = \"tumbling\"\nsize = \"1m\"\ngap = \"1m\"",
            "window.gap",
            "applies only to type = \"session\"",
        ),
        (session, "window.max_keys", "applies only to tumbling"),
    ] {
        expect_problem(tumbling, to, key, fragment);
    }
}
