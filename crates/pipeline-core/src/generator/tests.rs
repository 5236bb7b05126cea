use super::*;
use crate::Decoder;
use crate::spec::tests::stock_spec;

#[test]
fn valid_events_decode_and_broken_ones_fail_with_the_stated_reason() {
    for spec in crate::spec::tests::shipped() {
        let mut decoder = Decoder::new(&spec);
        let mut generator = EventGenerator::new(
            &spec,
            GeneratorConfig {
                malformed_share: 0.2,
                disorder_share: 0.3,
                max_disorder_ms: 5_000,
                ..GeneratorConfig::default()
            },
        );
        let mut buf = Vec::new();
        let (mut broken, mut disordered) = (0, 0);
        for i in 0..5_000 {
            let now = 1_795_271_400_000 + i * 10;
            let g = generator.next_into(now, &mut buf);
            disordered += usize::from(g.event_time_ms < now);
            let result = decoder.decode(Some(&buf), now);
            match g.broken {
                None => {
                    let event = result.unwrap_or_else(|r| {
                        panic!("{}: {r}: {}", spec.name, String::from_utf8_lossy(&buf))
                    });
                    assert_eq!(event.key.as_str(), generator.key(g.key), "{}", spec.name);
                    assert_eq!(event.event_time_ms, g.event_time_ms);
                }
                Some(reason) => {
                    broken += 1;
                    assert_eq!(
                        result.err().map(|r| r.reason),
                        Some(reason),
                        "{}: {}",
                        spec.name,
                        String::from_utf8_lossy(&buf)
                    );
                }
            }
        }
        assert!(
            (800..1_200).contains(&broken),
            "{}: {broken} broken",
            spec.name
        );
        assert!(
            (1_200..1_800).contains(&disordered),
            "{}: {disordered} disordered",
            spec.name
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_stream_and_keys_follow_the_spec() {
    let spec = stock_spec();
    let run = || {
        let mut g = EventGenerator::new(&spec, GeneratorConfig::default());
        let mut buf = Vec::new();
        (0..100)
            .map(|i| {
                g.next_into(i, &mut buf);
                buf.clone()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
    let all = EventGenerator::new(&spec, GeneratorConfig::default());
    assert_eq!(all.keys().len(), 24, "every listed ticker");
    assert_eq!(all.keys()[..2], ["AMZN", "AAPL"]);
    let four = EventGenerator::new(
        &spec,
        GeneratorConfig {
            keys: Some(4),
            ..GeneratorConfig::default()
        },
    );
    assert_eq!(four.keys(), ["AMZN", "AAPL", "MSFT", "GOOGL"]);
}
