use super::*;
use crate::STOCK_TICKS_SPEC;
use crate::spec::Spec;
use crate::spec::tests::stock_spec;

const NOW: i64 = 1_795_271_400_000; // 2026-11-21T14:30:00Z
/// The price's and the volume's slots in the stock-ticks spec.
const PRICE: usize = 2;
const VOLUME: usize = 3;

/// What a test reads of a decoded event (an [`Event`] borrows its payload).
#[derive(Debug)]
struct Decoded {
    key: Key,
    id_hash: u64,
    event_time_ms: i64,
    values: [i64; MAX_SLOTS],
}

impl From<Event> for Decoded {
    fn from(e: Event) -> Self {
        Self {
            key: e.key,
            id_hash: e.id_hash,
            event_time_ms: e.event_time_ms,
            values: e.values,
        }
    }
}

fn decode(json: &str) -> Result<Decoded, Rejection> {
    Decoder::new(&stock_spec())
        .decode(Some(json.as_bytes()), NOW)
        .map(Decoded::from)
}

/// A valid tick with one field's JSON replaced (or removed, with `None`).
fn with(field: &str, value: Option<&str>) -> String {
    let mut fields = vec![
        ("event_id", "\"e-1\""),
        ("ticker", "\"AMZN\""),
        ("price", "187.25"),
        ("volume", "100"),
        ("event_time", "\"2026-11-21T14:30:00.250Z\""),
        ("exchange", "\"NASDAQ\""),
    ];
    match value {
        Some(v) => fields.iter_mut().find(|(n, _)| *n == field).unwrap().1 = v,
        None => fields.retain(|(n, _)| *n != field),
    }
    let body: Vec<String> = fields.iter().map(|(n, v)| format!("\"{n}\":{v}")).collect();
    format!("{{{}}}", body.join(","))
}

fn reason(json: &str) -> (Reason, String) {
    let r = decode(json).expect_err("should be rejected");
    (r.reason, r.detail)
}

fn assert_rejected(json: &str, want: Reason, fragment: &str) {
    let (got, detail) = reason(json);
    assert_eq!(got, want, "{json} → {detail}");
    assert!(
        detail.contains(fragment),
        "{json}: detail {detail:?} lacks {fragment:?}"
    );
}

#[test]
fn a_valid_event_decodes_exactly() {
    let tick = decode(&with("event_id", Some("\"e-1\""))).unwrap();
    assert_eq!(tick.key.as_str(), "AMZN");
    assert_eq!(tick.values[PRICE], 1_872_500);
    assert_eq!(tick.values[VOLUME], 100);
    assert_eq!(tick.event_time_ms, NOW + 250);
    assert_eq!(tick.id_hash, fnv1a(b"e-1"));
}

#[test]
fn accepts_epoch_millis_escapes_unknown_fields_and_an_absent_optional_field() {
    let tick = decode(&with("event_time", Some(&(NOW + 5).to_string()))).unwrap();
    assert_eq!(tick.event_time_ms, NOW + 5);
    // An escaped key and value mean the same as plain ones.
    let escaped = with("event_id", Some("\"e-\\u0031\"")).replace("\"ticker\"", "\"tick\\u0065r\"");
    assert_eq!(decode(&escaped).unwrap().id_hash, fnv1a(b"e-1"));
    let extra = with(
        "volume",
        Some("100,\"venue\":{\"nested\":[1,2,{\"deep\":null}]}"),
    );
    assert_eq!(decode(&extra).unwrap().values[VOLUME], 100);
    assert!(decode(&with("exchange", None)).is_ok());
    assert!(decode(&with("exchange", Some("null"))).is_ok());
}

#[test]
fn empty_and_null_records() {
    let mut decoder = Decoder::new(&stock_spec());
    assert_eq!(decoder.decode(None, NOW).unwrap_err().reason, Reason::Empty);
    assert_eq!(
        decoder.decode(Some(b""), NOW).unwrap_err().reason,
        Reason::Empty
    );
}

#[test]
fn too_large_before_parsing() {
    let padded = with(
        "exchange",
        Some(&format!("\"NASDAQ\",\"pad\":\"{}\"", "x".repeat(5000))),
    );
    assert_rejected(&padded, Reason::TooLarge, "the spec allows 4096");
}

#[test]
fn malformed_json() {
    for bad in [
        "not json",
        "{\"ticker\":\"AMZN\"",
        "[1,2]",
        "null",
        "\"AMZN\"",
        "{} trailing",
        "{\"ticker\":\"AM\u{1}ZN\"}",
        "{\"price\":NaN}",
        "{\"price\":Infinity}",
    ] {
        assert_eq!(reason(bad).0, Reason::Malformed, "{bad:?}");
    }
    let invalid_utf8 = [b"{\"ticker\":\"AM".as_slice(), &[0xff, 0xfe], b"ZN\"}"].concat();
    let mut decoder = Decoder::new(&stock_spec());
    assert_eq!(
        decoder.decode(Some(&invalid_utf8), NOW).unwrap_err().reason,
        Reason::Malformed
    );
    let twice = with("price", Some("187.25,\"price\":1.00"));
    assert_rejected(&twice, Reason::Malformed, "duplicate key `price`");
}

#[test]
fn missing_fields() {
    for field in ["event_id", "ticker", "price", "volume", "event_time"] {
        assert_rejected(&with(field, None), Reason::MissingField, field);
        assert_rejected(&with(field, Some("null")), Reason::MissingField, "but null");
    }
}

#[test]
fn wrong_types() {
    assert_rejected(
        &with("price", Some("\"187.25\"")),
        Reason::WrongType,
        "price: expected a decimal number, found a string",
    );
    assert_rejected(
        &with("price", Some("true")),
        Reason::WrongType,
        "found a boolean",
    );
    assert_rejected(
        &with("volume", Some("1.5")),
        Reason::WrongType,
        "volume: expected an integer",
    );
    assert_rejected(
        &with("volume", Some("1e2")),
        Reason::WrongType,
        "expected an integer",
    );
    assert_rejected(
        &with("ticker", Some("42")),
        Reason::WrongType,
        "ticker: expected a string, found a number",
    );
    assert_rejected(
        &with("event_time", Some("[1]")),
        Reason::WrongType,
        "found an array",
    );
    assert_rejected(
        &with("event_time", Some("1.5")),
        Reason::WrongType,
        "epoch milliseconds",
    );
    assert_rejected(
        &with("exchange", Some("{}")),
        Reason::WrongType,
        "found an object",
    );
}

#[test]
fn invalid_values() {
    assert_rejected(
        &with("price", Some("1.23456")),
        Reason::InvalidValue,
        "5 decimal places; the spec allows 4",
    );
    assert_rejected(
        &with("price", Some("1e3")),
        Reason::InvalidValue,
        "exponent notation",
    );
    assert_rejected(
        &with("ticker", Some("\"amzn\"")),
        Reason::InvalidValue,
        "does not match",
    );
    assert_rejected(
        &with("ticker", Some("\"\"")),
        Reason::InvalidValue,
        "0 characters",
    );
    assert_rejected(
        &with("ticker", Some("\"AM\\u0000ZN\"")),
        Reason::InvalidValue,
        "AM\\0ZN",
    );
    assert_rejected(
        &with("ticker", Some("\"ABCDEFGHIJK\"")),
        Reason::InvalidValue,
        "11 characters",
    );
    assert_rejected(
        &with("exchange", Some("\"MOON\"")),
        Reason::InvalidValue,
        "not one of NASDAQ",
    );
    assert_rejected(
        &with("event_time", Some("\"yesterday\"")),
        Reason::InvalidValue,
        "RFC 3339",
    );
    assert_rejected(
        &with("event_time", Some("\"2026-02-30T00:00:00Z\"")),
        Reason::InvalidValue,
        "no such date",
    );
    let long_id = format!("\"{}\"", "i".repeat(65));
    assert_rejected(
        &with("event_id", Some(&long_id)),
        Reason::InvalidValue,
        "65 characters",
    );
}

#[test]
fn out_of_range() {
    assert_rejected(
        &with("price", Some("0")),
        Reason::OutOfRange,
        "outside the range > 0.0000 and ≤ 1000000.0000",
    );
    assert_rejected(&with("price", Some("-1.5")), Reason::OutOfRange, "price");
    assert_rejected(
        &with("price", Some("1000000.0001")),
        Reason::OutOfRange,
        "price",
    );
    assert!(decode(&with("price", Some("1000000"))).is_ok());
    assert!(decode(&with("price", Some("0.0001"))).is_ok());
    assert_rejected(
        &with("price", Some("99999999999999999999")),
        Reason::OutOfRange,
        "too large for the fixed-point type",
    );
    assert_rejected(
        &with("volume", Some("0")),
        Reason::OutOfRange,
        "0 is outside 1 to 1000000000",
    );
    assert_rejected(&with("volume", Some("-5")), Reason::OutOfRange, "volume");
    assert_rejected(
        &with("volume", Some("9223372036854775808")),
        Reason::OutOfRange,
        "does not fit a 64-bit integer",
    );
    assert_rejected(
        &with("event_time", Some("99999999999999999")),
        Reason::OutOfRange,
        "years 0001 to 9999",
    );
}

#[test]
fn event_time_skew_is_measured_against_the_record_timestamp() {
    let ahead = with("event_time", Some(&(NOW + 300_001).to_string()));
    assert_rejected(
        &ahead,
        Reason::TimeSkew,
        "ahead of the record timestamp; the spec allows 5m",
    );
    assert!(decode(&with("event_time", Some(&(NOW + 300_000).to_string()))).is_ok());
    let behind = with("event_time", Some(&(NOW - 3_600_001).to_string()));
    assert_rejected(
        &behind,
        Reason::TimeSkew,
        "behind the record timestamp; the spec allows 1h",
    );
    assert!(decode(&with("event_time", Some(&(NOW - 3_600_000).to_string()))).is_ok());
    let far = with("event_time", Some("\"2031-01-01T00:00:00Z\""));
    // Written as a person reads a duration, not as a count of milliseconds.
    assert_rejected(
        &far,
        Reason::TimeSkew,
        "event_time is 1501d 9h 30m ahead of the record timestamp",
    );
    let odd = with("event_time", Some(&(NOW + 315_359_999_967).to_string()));
    assert_rejected(&odd, Reason::TimeSkew, "is 3649d 23h 59m 59.967s ahead");
    // A hostile record timestamp cannot overflow the comparison.
    let mut decoder = Decoder::new(&stock_spec());
    let extremes = [
        ("0001-01-01T00:00:00Z", i64::MAX),
        ("9999-12-31T23:59:59Z", i64::MIN),
    ];
    for (event_time, record_time) in extremes {
        let tick = with("event_time", Some(&format!("\"{event_time}\"")));
        let r = decoder
            .decode(Some(tick.as_bytes()), record_time)
            .unwrap_err();
        assert_eq!(r.reason, Reason::TimeSkew);
    }
}

#[test]
fn details_quote_at_most_a_short_prefix_of_hostile_values() {
    let long = format!("\"{}\"", "Z".repeat(3000));
    let (_, detail) = reason(&with("exchange", Some(&long)));
    assert!(detail.len() < 200, "{detail}");
}

#[test]
fn the_key_memo_never_changes_a_verdict() {
    let mut decoder = Decoder::new(&stock_spec());
    let record = |ticker: &str| with("ticker", Some(&format!("\"{ticker}\"")));
    // More distinct keys than memo slots, twice over: every key decodes as itself.
    for round in 0..2 {
        for i in 0..3_000 {
            let ticker = format!("T{i}");
            let tick = decoder
                .decode(Some(record(&ticker).as_bytes()), NOW)
                .map(Decoded::from)
                .unwrap();
            assert_eq!(tick.key.as_str(), ticker, "round {round}");
        }
    }
    // A key that failed is never remembered; one that passed does not vouch for a look-alike.
    for _ in 0..2 {
        let r = decoder
            .decode(Some(record("amzn").as_bytes()), NOW)
            .unwrap_err();
        assert_eq!(r.reason, Reason::InvalidValue);
    }
    decoder
        .decode(Some(record("AMZN").as_bytes()), NOW)
        .unwrap();
    let r = decoder
        .decode(Some(record("AMZN ").as_bytes()), NOW)
        .unwrap_err();
    assert_eq!(r.reason, Reason::InvalidValue);
}

fn shipped(name: &str) -> Spec {
    Spec::from_toml(crate::shipped_spec(name).unwrap(), name).unwrap()
}

fn order(amount: &str, items: &str, status: &str, extra: &str) -> String {
    format!(
        r#"{{"order_id":"o-1","customer_id":"cust-7","country":"FR","channel":"web","amount":{amount},"items":{items},"status":"{status}","created_at":{NOW}{extra}}}"#
    )
}

#[test]
fn a_composite_key_joins_its_fields_and_derived_fields_round_as_declared() {
    let spec = shipped("orders");
    let mut decoder = Decoder::new(&spec);
    let json = order("10.01", "4", "paid", "");
    let event = decoder.decode(Some(json.as_bytes()), NOW).unwrap();
    assert_eq!(event.key.as_str(), "FR|web");
    assert!(!event.filtered);
    let item_price = spec.slot("item_price").unwrap();
    // 10.01 / 4 = 2.5025 → 2.50 half-up.
    assert_eq!(event.values[item_price], 250);
    let json = order("10.02", "4", "paid", "");
    let event = decoder.decode(Some(json.as_bytes()), NOW).unwrap();
    assert_eq!(event.values[item_price], 251, "2.505 → 2.51 half-up");
}

#[test]
fn the_filter_marks_what_it_leaves_out_and_still_validates_it() {
    let spec = shipped("orders");
    let mut decoder = Decoder::new(&spec);
    let json = order("5.00", "1", "cancelled", "");
    assert!(decoder.decode(Some(json.as_bytes()), NOW).unwrap().filtered);
    let bad = order("-5.00", "1", "cancelled", "");
    assert_eq!(
        decoder
            .decode(Some(bad.as_bytes()), NOW)
            .unwrap_err()
            .reason,
        Reason::OutOfRange,
        "a filtered-out event is still validated"
    );
    let coupon = order("5.00", "1", "paid", r#","coupon":"SAVE1""#);
    let event = decoder.decode(Some(coupon.as_bytes()), NOW).unwrap();
    assert!(event.has(spec.slot("coupon").unwrap()));
}

#[test]
fn booleans_and_integer_keys_decode() {
    let text = r#"
name = "flags"
[topics]
input = "i"
output = "o"
dead_letter = "d"
[event]
key = ["store", "open"]
event_time = "t"
event_id = "id"
max_bytes = 1024
max_future_skew = "1h"
max_past_skew = "1h"
[[event.fields]]
name = "id"
type = "string"
[[event.fields]]
name = "t"
type = "timestamp"
[[event.fields]]
name = "store"
type = "integer"
min = 0
max = 999
[[event.fields]]
name = "open"
type = "boolean"
[window]
type = "tumbling"
size = "1m"
allowed_lateness = "0s"
[[aggregates]]
name = "n"
function = "count"
"#;
    let spec = Spec::from_toml(text, "flags").unwrap();
    let mut decoder = Decoder::new(&spec);
    let ok = format!(r#"{{"id":"x","t":{NOW},"store":42,"open":true}}"#);
    let event = decoder.decode(Some(ok.as_bytes()), NOW).unwrap();
    assert_eq!(event.key.as_str(), "42|true");
    assert_eq!(event.values[3], 1);
    let wrong = format!(r#"{{"id":"x","t":{NOW},"store":42,"open":"yes"}}"#);
    let r = decoder.decode(Some(wrong.as_bytes()), NOW).unwrap_err();
    assert_eq!(r.reason, Reason::WrongType);
    assert!(r.detail.contains("expected true or false"), "{}", r.detail);
}

#[test]
fn a_division_by_zero_is_null_or_a_dead_letter_as_the_spec_says() {
    let base = STOCK_TICKS_SPEC.replacen(
        "expr = \"price * volume\"\nscale = 4",
        "expr = \"price / (volume - 100)\"\nscale = 4\non_zero = \"ON_ZERO\"",
        1,
    );
    for (on_zero, null) in [("null", true), ("dead_letter", false)] {
        let spec = Spec::from_toml(&base.replace("ON_ZERO", on_zero), "t").unwrap();
        let mut decoder = Decoder::new(&spec);
        let json = with("volume", Some("100"));
        let result = decoder.decode(Some(json.as_bytes()), NOW);
        if null {
            assert!(!result.unwrap().has(6), "the derived value is null");
        } else {
            let r = result.unwrap_err();
            assert_eq!(r.reason, Reason::InvalidValue);
            assert!(r.detail.contains("division by zero"), "{}", r.detail);
        }
    }
}

#[test]
fn a_derived_value_beyond_64_bits_is_out_of_range() {
    let json = with("price", Some("1000000")).replace("\"volume\":100", "\"volume\":1000000000");
    assert_rejected(&json, Reason::OutOfRange, "notional = price * volume");
}
