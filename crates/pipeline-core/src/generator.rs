//! Realistic synthetic events for any spec, from its field declarations and their `generate`
//! hints: values picked from a list or made up to a cardinality, numbers drawn from a range or
//! walking randomly per key, optional fields left out at a share, and optionally a share of
//! deliberately broken events (each with the reason the core must give), and out-of-order
//! delivery.
//!
//! Deterministic for a seed and pure (the caller supplies the clock), so the producer Lambda,
//! `processor local`, tests and benchmarks all generate the same streams.

use std::fmt::Write as _;

use crate::decimal::Fixed;
use crate::key::KeyBuilder;
use crate::reject::Reason;
use crate::spec::{FieldKind, FieldSpec, Spec};

/// When the spec lists no key values and the caller asks for none, this many keys.
pub const DEFAULT_KEYS: usize = 24;

#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    pub seed: u64,
    /// How many distinct keys; `None` takes every listed combination (at most
    /// [`DEFAULT_KEYS`] made up).
    pub keys: Option<usize>,
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
            seed: 42,
            keys: None,
            malformed_share: 0.0,
            disorder_share: 0.0,
            max_disorder_ms: 0,
        }
    }
}

/// What was generated, besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    /// Index into [`EventGenerator::keys`]: the record's key.
    pub key: usize,
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

    /// Uniform in `[lo, hi]`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1).clamp(1, i128::from(u64::MAX)) as u64;
        (lo as i128 + i128::from(self.below(span))) as i64
    }
}

/// How one field's values are made.
#[derive(Debug, Clone)]
enum Source {
    /// The record's event time.
    EventTime,
    /// A new id every event: `<seed>-<sequence>`.
    Unique,
    /// The key's value for this key field.
    Key(usize),
    Pick(Vec<String>),
    Synthetic {
        prefix: String,
        cardinality: u64,
    },
    Range {
        lo: i64,
        hi: i64,
        scale: u32,
    },
    /// A random walk per key, starting in `[lo, hi]` and kept within the field's bounds.
    Walk {
        lo: i64,
        hi: i64,
        floor: i64,
        ceiling: i64,
        scale: u32,
        step: f64,
    },
    Boolean(f64),
}

#[derive(Debug, Clone)]
pub struct EventGenerator {
    config: GeneratorConfig,
    rng: Rng,
    fields: Vec<(FieldSpec, Source)>,
    /// Each key: its fields' values as written (and the Kafka key).
    keys: Vec<(Vec<String>, String)>,
    /// The walks' current values, by key, then walk.
    walks: Vec<Vec<i64>>,
    sequence: u64,
}

impl EventGenerator {
    pub fn new(spec: &Spec, config: GeneratorConfig) -> Self {
        let mut rng = Rng(config.seed);
        let keys = key_values(spec, config.keys, &mut rng);
        let mut walks_per_key = 0;
        let fields: Vec<(FieldSpec, Source)> = spec
            .event
            .fields
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let source = if i == spec.event.event_time {
                    Source::EventTime
                } else if let Some(k) = spec.event.key.iter().position(|&k| k == i) {
                    Source::Key(k)
                } else {
                    source(field, i == spec.event.event_id, &mut walks_per_key)
                };
                (field.clone(), source)
            })
            .collect();
        let walks = keys
            .iter()
            .map(|_| {
                fields
                    .iter()
                    .filter_map(|(_, s)| match s {
                        Source::Walk { lo, hi, .. } => Some(rng.between(*lo, *hi)),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        Self {
            config,
            rng,
            fields,
            keys,
            walks,
            sequence: 0,
        }
    }

    /// The Kafka keys of the generated events, in key order.
    pub fn keys(&self) -> Vec<&str> {
        self.keys.iter().map(|(_, k)| k.as_str()).collect()
    }

    /// The Kafka key of generated key `index`.
    pub fn key(&self, index: usize) -> &str {
        &self.keys[index].1
    }

    /// Writes the next event, for a nominal event time of `time_ms`, into `out` (cleared
    /// first).
    pub fn next_into(&mut self, time_ms: i64, out: &mut Vec<u8>) -> Generated {
        out.clear();
        self.sequence += 1;
        let key = self.rng.below(self.keys.len() as u64) as usize;
        let mut event_time_ms = time_ms;
        if self.rng.unit() < self.config.disorder_share {
            event_time_ms -=
                self.rng
                    .below(self.config.max_disorder_ms.max(0) as u64 + 1) as i64;
        }
        let mut values: Vec<Option<String>> = Vec::with_capacity(self.fields.len());
        let mut walk = 0;
        for (field, source) in &self.fields {
            if !field.required && self.rng.unit() < field.generate.null_share {
                values.push(None);
                if matches!(source, Source::Walk { .. }) {
                    walk += 1;
                }
                continue;
            }
            let value = match source {
                Source::EventTime => event_time_ms.to_string(),
                Source::Unique => json_string(&format!("{:x}-{}", self.config.seed, self.sequence)),
                Source::Key(k) => {
                    let text = &self.keys[key].0[*k];
                    match field.kind {
                        FieldKind::String { .. } => json_string(text),
                        _ => text.clone(),
                    }
                }
                Source::Pick(values) => {
                    json_string(&values[self.rng.below(values.len() as u64) as usize])
                }
                Source::Synthetic {
                    prefix,
                    cardinality,
                } => json_string(&format!("{prefix}{}", self.rng.below(*cardinality))),
                Source::Range { lo, hi, scale } => number(self.rng.between(*lo, *hi), *scale),
                Source::Walk {
                    floor,
                    ceiling,
                    scale,
                    step,
                    ..
                } => {
                    let current = &mut self.walks[key][walk];
                    walk += 1;
                    let delta =
                        (*current as f64 * step * (self.rng.unit() * 2.0 - 1.0)).round() as i64;
                    *current = current.saturating_add(delta).clamp(*floor, *ceiling);
                    number(*current, *scale)
                }
                Source::Boolean(share) => (self.rng.unit() < *share).to_string(),
            };
            values.push(Some(value));
        }
        let broken = if self.rng.unit() < self.config.malformed_share {
            self.break_one(&mut values)
        } else {
            None
        };
        let mut text = String::with_capacity(256);
        text.push('{');
        let mut first = true;
        for ((field, _), value) in self.fields.iter().zip(&values) {
            let Some(value) = value else { continue };
            if !first {
                text.push(',');
            }
            first = false;
            let _ = write!(text, "{}:{value}", json_string(&field.name));
        }
        text.push('}');
        if broken == Some(Reason::Malformed) {
            // Cut in the middle of the last member.
            let cut = text.rfind(':').map_or(text.len() / 2, |c| c + 1);
            text.truncate(cut);
        }
        out.extend_from_slice(text.as_bytes());
        Generated {
            key,
            event_time_ms,
            broken,
        }
    }

    /// Breaks one field of an event in a way the core must refuse, and says why.
    fn break_one(&mut self, values: &mut [Option<String>]) -> Option<Reason> {
        let kind = self.rng.below(5);
        let present = |values: &[Option<String>], i: usize| values[i].is_some();
        let pick = |rng: &mut Rng, ok: &dyn Fn(usize) -> bool, n: usize| -> Option<usize> {
            let candidates: Vec<usize> = (0..n).filter(|&i| ok(i)).collect();
            (!candidates.is_empty())
                .then(|| candidates[rng.below(candidates.len() as u64) as usize])
        };
        let n = self.fields.len();
        let fields = &self.fields;
        match kind {
            0 => Some(Reason::Malformed),
            1 => {
                let i = pick(
                    &mut self.rng,
                    &|i| fields[i].0.required && present(values, i),
                    n,
                )?;
                values[i] = None;
                Some(Reason::MissingField)
            }
            2 => {
                // A string where a number, boolean or timestamp number belongs, or a number
                // where a string belongs.
                let i = pick(&mut self.rng, &|i| present(values, i), n)?;
                values[i] = Some(match fields[i].0.kind {
                    FieldKind::String { .. } => "12345".to_owned(),
                    FieldKind::Timestamp => "true".to_owned(),
                    _ => "\"x\"".to_owned(),
                });
                Some(Reason::WrongType)
            }
            3 => {
                // A number beyond its bounds.
                let i = pick(
                    &mut self.rng,
                    &|i| {
                        present(values, i)
                            && match &fields[i].0.kind {
                                FieldKind::Integer { min, .. } => *min > i64::MIN,
                                FieldKind::Decimal { lower, .. } => lower.is_some(),
                                _ => false,
                            }
                    },
                    n,
                )?;
                values[i] = Some(match &fields[i].0.kind {
                    FieldKind::Integer { min, .. } => (i128::from(*min) - 1).to_string(),
                    FieldKind::Decimal { lower, scale, .. } => {
                        let b = lower.map_or(0, |b| b.units);
                        Fixed::new(i128::from(b) - 1, *scale).to_string()
                    }
                    _ => return None,
                });
                Some(Reason::OutOfRange)
            }
            _ => {
                // A string the field's checks refuse: too long, or not one of its values.
                let i = pick(
                    &mut self.rng,
                    &|i| {
                        present(values, i)
                            && matches!(
                                &fields[i].0.kind,
                                FieldKind::String { max_length, .. } if *max_length < 4096
                            )
                    },
                    n,
                )?;
                let FieldKind::String { max_length, .. } = &fields[i].0.kind else {
                    return None;
                };
                values[i] = Some(json_string(&"~".repeat(max_length + 1)));
                Some(Reason::InvalidValue)
            }
        }
        .or(Some(Reason::Malformed))
    }
}

/// How a field's values are made, from its declaration and hints.
fn source(field: &FieldSpec, is_id: bool, walks: &mut usize) -> Source {
    let g = &field.generate;
    match &field.kind {
        FieldKind::String {
            one_of, min_length, ..
        } => {
            if g.unique || is_id {
                Source::Unique
            } else if let Some(values) = &g.values {
                Source::Pick(values.clone())
            } else if let Some(values) = one_of {
                Source::Pick(values.clone())
            } else {
                Source::Synthetic {
                    prefix: g.prefix.clone().unwrap_or_else(|| {
                        let p = format!("{}-", field.name.replace('_', "-"));
                        if p.len() < *min_length {
                            format!("{p}{}", "0".repeat(*min_length - p.len()))
                        } else {
                            p
                        }
                    }),
                    cardinality: g.cardinality.unwrap_or(100),
                }
            }
        }
        FieldKind::Integer { min, max } => {
            let (lo, hi) = range(g.min, g.max, *min, *max, 0);
            numeric((lo, hi), (*min, *max), 0, g.walk, walks)
        }
        FieldKind::Decimal {
            scale,
            lower,
            upper,
        } => {
            let lo_bound = lower.map_or(i64::MIN, |b| b.units + i64::from(!b.inclusive));
            let hi_bound = upper.map_or(i64::MAX, |b| b.units - i64::from(!b.inclusive));
            let (lo, hi) = range(g.min, g.max, lo_bound, hi_bound, *scale);
            // A walk never goes below one unit: a price, a reading, stays positive.
            numeric((lo, hi), (lo_bound.max(1), hi_bound), *scale, g.walk, walks)
        }
        FieldKind::Timestamp => Source::EventTime,
        FieldKind::Boolean => Source::Boolean(g.true_share),
    }
}

fn numeric(
    (lo, hi): (i64, i64),
    (floor, ceiling): (i64, i64),
    scale: u32,
    walk: Option<f64>,
    walks: &mut usize,
) -> Source {
    match walk {
        Some(step) => {
            *walks += 1;
            Source::Walk {
                lo,
                hi,
                floor,
                ceiling,
                scale,
                step,
            }
        }
        None => Source::Range { lo, hi, scale },
    }
}

/// The range to draw from: the hints within the bounds, else a modest default within them.
fn range(hint_lo: Option<i64>, hint_hi: Option<i64>, min: i64, max: i64, scale: u32) -> (i64, i64) {
    let unit = crate::decimal::pow10(scale);
    let lo = hint_lo.unwrap_or_else(|| min.max(0)).max(min);
    let hi = hint_hi
        .unwrap_or_else(|| lo.saturating_add(1_000 * unit).min(max))
        .min(max);
    (lo, hi.max(lo))
}

/// Each key's values: the key fields' listed values combined, or made up.
fn key_values(spec: &Spec, wanted: Option<usize>, rng: &mut Rng) -> Vec<(Vec<String>, String)> {
    let lists: Vec<Vec<String>> = spec
        .key_fields()
        .map(|field| key_field_values(field, wanted.unwrap_or(DEFAULT_KEYS), rng))
        .collect();
    let total: usize = lists.iter().map(Vec::len).product::<usize>().max(1);
    // Listed values bound the keys: asking for more gives every combination.
    let n = wanted.unwrap_or(total).clamp(1, total);
    let mut keys = Vec::with_capacity(n);
    for i in 0..n {
        // The i-th combination, the last field fastest.
        let mut rest = i;
        let mut parts = vec![String::new(); lists.len()];
        for (f, list) in lists.iter().enumerate().rev() {
            parts[f] = list[rest % list.len()].clone();
            rest /= list.len();
        }
        let mut key = KeyBuilder::default();
        for (j, part) in parts.iter().enumerate() {
            key.push(j == 0, part);
        }
        let joined = key
            .finish()
            .map_or_else(|| parts.join("|"), |k| k.as_str().to_owned());
        keys.push((parts, joined));
    }
    keys
}

fn key_field_values(field: &FieldSpec, wanted: usize, rng: &mut Rng) -> Vec<String> {
    let g = &field.generate;
    match &field.kind {
        FieldKind::String { one_of, .. } => g
            .values
            .clone()
            .or_else(|| one_of.clone())
            .unwrap_or_else(|| {
                let prefix = g
                    .prefix
                    .clone()
                    .unwrap_or_else(|| format!("{}-", field.name.replace('_', "-")));
                let n = g.cardinality.map_or(wanted, |c| c as usize);
                (0..n).map(|i| format!("{prefix}{i}")).collect()
            }),
        FieldKind::Integer { min, max } => {
            let (lo, hi) = range(g.min, g.max, *min, *max, 0);
            let n = (hi - lo + 1).clamp(1, wanted as i64);
            (0..n).map(|i| (lo + i).to_string()).collect()
        }
        FieldKind::Boolean => vec!["false".into(), "true".into()],
        _ => vec![rng.below(10).to_string()],
    }
}

fn number(units: i64, scale: u32) -> String {
    if scale == 0 {
        units.to_string()
    } else {
        Fixed::new(i128::from(units), scale).to_string()
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    crate::aggregate::push_json_string(&mut out, text);
    out
}

#[cfg(test)]
mod tests;
