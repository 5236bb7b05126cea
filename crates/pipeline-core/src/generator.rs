//! Realistic synthetic ticks: a random walk per ticker, optional out-of-order delivery and an
//! optional share of deliberately broken events for exercising the dead-letter path.
//!
//! Deterministic for a seed and pure (the caller supplies the clock), so the producer Lambda,
//! `processor local`, tests and benchmarks all generate the same streams.

use std::io::Write as _;

use crate::decimal::Fixed;
use crate::reject::Reason;

/// The default tickers of the producer and the local run.
pub const DEFAULT_TICKERS: [&str; 4] = ["AMZN", "AAPL", "MSFT", "GOOGL"];
const EXCHANGES: [&str; 4] = ["NASDAQ", "NYSE", "ARCA", "IEX"];

#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    pub tickers: Vec<String>,
    pub seed: u64,
    /// Share of events that are deliberately invalid, 0.0–1.0.
    pub malformed_share: f64,
    /// Share of events whose event time is moved back, 0.0–1.0.
    pub disorder_share: f64,
    /// How far back a disordered event's time may move.
    pub max_disorder_ms: i64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            tickers: DEFAULT_TICKERS.iter().map(|t| (*t).to_owned()).collect(),
            seed: 42,
            malformed_share: 0.0,
            disorder_share: 0.0,
            max_disorder_ms: 0,
        }
    }
}

/// What was generated, besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    /// Index into the configured tickers: the record's key.
    pub ticker: usize,
    pub event_time_ms: i64,
    /// For a deliberately broken event, the reason the core must give.
    pub broken: Option<Reason>,
}

/// SplitMix64: small, fast and good enough for synthetic data.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

#[derive(Debug, Clone)]
pub struct TickGenerator {
    config: GeneratorConfig,
    rng: Rng,
    /// Current price of each ticker, in units of 0.0001.
    prices: Vec<i64>,
    sequence: u64,
}

impl TickGenerator {
    pub fn new(config: GeneratorConfig) -> Self {
        let mut rng = Rng(config.seed);
        let prices = config
            .tickers
            .iter()
            .map(|_| 100_000 + rng.below(5_000_000) as i64)
            .collect();
        Self {
            config,
            rng,
            prices,
            sequence: 0,
        }
    }

    pub fn tickers(&self) -> &[String] {
        &self.config.tickers
    }

    /// Writes the next tick, for a nominal event time of `time_ms`, into `out` (cleared first).
    pub fn next_into(&mut self, time_ms: i64, out: &mut Vec<u8>) -> Generated {
        out.clear();
        self.sequence += 1;
        let ticker = self.rng.below(self.prices.len() as u64) as usize;
        // A random walk with steps of up to ±0.05 %, never below one unit.
        let price = &mut self.prices[ticker];
        let step = (*price as f64 * 0.0005 * (self.rng.unit() * 2.0 - 1.0)).round() as i64;
        *price = (*price + step).max(1);
        let price = *price;
        let volume = 1 + self.rng.below(1_000) as i64;
        let mut event_time_ms = time_ms;
        if self.rng.unit() < self.config.disorder_share {
            event_time_ms -=
                self.rng
                    .below(self.config.max_disorder_ms.max(0) as u64 + 1) as i64;
        }
        let name = &self.config.tickers[ticker];
        let id = (self.config.seed, self.sequence);
        let exchange = EXCHANGES[self.rng.below(EXCHANGES.len() as u64) as usize];
        let price_text = Fixed::new(i128::from(price), 4);
        let broken = if self.rng.unit() < self.config.malformed_share {
            Some(self.rng.below(BROKEN_KINDS))
        } else {
            None
        };
        let ok = match broken {
            None => write!(
                out,
                r#"{{"event_id":"{:x}-{}","ticker":"{name}","price":{price_text},"volume":{volume},"event_time":{event_time_ms},"exchange":"{exchange}"}}"#,
                id.0, id.1
            ),
            Some(kind) => write_broken(out, kind, id, name, price_text, volume, event_time_ms),
        };
        debug_assert!(ok.is_ok(), "writing to a Vec cannot fail");
        Generated {
            ticker,
            event_time_ms,
            broken: broken.map(broken_reason),
        }
    }
}

const BROKEN_KINDS: u64 = 6;

fn broken_reason(kind: u64) -> Reason {
    match kind {
        0 => Reason::Malformed,
        1 => Reason::OutOfRange,
        2 => Reason::MissingField,
        3 => Reason::WrongType,
        4 => Reason::InvalidValue,
        _ => Reason::InvalidValue,
    }
}

fn write_broken(
    out: &mut Vec<u8>,
    kind: u64,
    (seed, seq): (u64, u64),
    name: &str,
    price: Fixed,
    volume: i64,
    time: i64,
) -> std::io::Result<()> {
    match kind {
        // Truncated mid-object.
        0 => write!(
            out,
            r#"{{"event_id":"{seed:x}-{seq}","ticker":"{name}","price":{price},"vol"#
        ),
        // A negative price.
        1 => write!(
            out,
            r#"{{"event_id":"{seed:x}-{seq}","ticker":"{name}","price":-{price},"volume":{volume},"event_time":{time}}}"#
        ),
        // No ticker.
        2 => write!(
            out,
            r#"{{"event_id":"{seed:x}-{seq}","price":{price},"volume":{volume},"event_time":{time}}}"#
        ),
        // The price as a string.
        3 => write!(
            out,
            r#"{{"event_id":"{seed:x}-{seq}","ticker":"{name}","price":"{price}","volume":{volume},"event_time":{time}}}"#
        ),
        // A lowercase ticker.
        4 => write!(
            out,
            r#"{{"event_id":"{seed:x}-{seq}","ticker":"{}","price":{price},"volume":{volume},"event_time":{time}}}"#,
            name.to_lowercase()
        ),
        // More decimals than the scale.
        _ => write!(
            out,
            r#"{{"event_id":"{seed:x}-{seq}","ticker":"{name}","price":{price}1,"volume":{volume},"event_time":{time}}}"#
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::tests::stock_spec;
    use crate::tick::Decoder;

    #[test]
    fn valid_ticks_decode_and_broken_ones_fail_with_the_stated_reason() {
        let mut decoder = Decoder::new(&stock_spec());
        let mut generator = TickGenerator::new(GeneratorConfig {
            malformed_share: 0.2,
            disorder_share: 0.3,
            max_disorder_ms: 5_000,
            ..GeneratorConfig::default()
        });
        let mut buf = Vec::new();
        let (mut broken, mut disordered) = (0, 0);
        for i in 0..5_000 {
            let now = 1_795_271_400_000 + i * 10;
            let g = generator.next_into(now, &mut buf);
            disordered += usize::from(g.event_time_ms < now);
            let result = decoder.decode(Some(&buf), now);
            match g.broken {
                None => {
                    let tick =
                        result.unwrap_or_else(|r| panic!("{r}: {}", String::from_utf8_lossy(&buf)));
                    assert_eq!(tick.key.as_str(), DEFAULT_TICKERS[g.ticker]);
                    assert_eq!(tick.event_time_ms, g.event_time_ms);
                }
                Some(reason) => {
                    broken += 1;
                    assert_eq!(
                        result.map_err(|r| r.reason),
                        Err(reason),
                        "{}",
                        String::from_utf8_lossy(&buf)
                    );
                }
            }
        }
        assert!((800..1_200).contains(&broken), "{broken} broken of 5000");
        assert!(
            (1_200..1_800).contains(&disordered),
            "{disordered} disordered of 5000"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_stream() {
        let run = || {
            let mut g = TickGenerator::new(GeneratorConfig::default());
            let mut buf = Vec::new();
            (0..100)
                .map(|i| {
                    g.next_into(i, &mut buf);
                    buf.clone()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
