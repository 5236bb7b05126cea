//! The aggregate columns (`[[aggregates]]`), the uniqueness of every output column's name, and
//! the checker's rules (`[[checks]]`).

use super::raw::{RawAggregate, RawCheck};
use super::{
    AggregateFn, AggregateSpec, Check, EventSpec, MAX_AGGREGATES, MAX_INLINE_STRING,
    MAX_OUTPUT_SCALE, Problems, Slot, SlotType, Spec,
};
use crate::ColumnType;
use crate::expr::{Expr, Type};

/// The weighted sum of one window must stay exact: |value| × |weight| per event at most this,
/// which leaves room for 2^31 events a key and window in an `i128`.
const MAX_WEIGHTED_TERM: i128 = 1 << 96;

pub(super) fn check_aggregates(
    raw: Vec<RawAggregate>,
    event: &EventSpec,
    slots: &[Slot],
    problems: &mut Problems,
) -> Vec<AggregateSpec> {
    if raw.is_empty() {
        problems.push("aggregates", "list at least one aggregate column");
    }
    if raw.len() > MAX_AGGREGATES {
        problems.push(
            "aggregates",
            format!("{} columns; at most {MAX_AGGREGATES}", raw.len()),
        );
    }
    let _ = event;
    let mut columns = Vec::with_capacity(raw.len());
    for (i, agg) in raw.into_iter().enumerate() {
        let key = format!("aggregates[{i}] ({})", agg.name);
        problems.unknown(
            &key,
            &agg.extra,
            &["name", "function", "field", "weight", "scale"],
        );
        let Some(function) = AggregateFn::from_name(&agg.function) else {
            problems.push(
                format!("{key}.function"),
                format!(
                    "`{}` is not an aggregate function; expected one of: {}",
                    agg.function,
                    AggregateFn::NAMES.join(", ")
                ),
            );
            continue;
        };
        let lookup = |name: &Option<String>, what: &str, problems: &mut Problems| {
            let name = name.as_deref()?;
            let slot = slots.iter().position(|s| s.name == name);
            if slot.is_none() {
                problems.push(
                    format!("{key}.{what}"),
                    format!("`{name}` is not a field (declared or derived)"),
                );
            }
            slot
        };
        let field = lookup(&agg.field, "field", problems);
        let weight = lookup(&agg.weight, "weight", problems);
        if agg.field.is_some() && field.is_none() || agg.weight.is_some() && weight.is_none() {
            continue;
        }
        if agg.field.is_none() && function != AggregateFn::Count {
            problems.push(
                format!("{key}.field"),
                format!("`{}` needs a field", agg.function),
            );
            continue;
        }
        if agg.weight.is_some() && function != AggregateFn::WeightedAvg {
            problems.push(format!("{key}.weight"), "applies only to weighted_avg");
        }
        let takes_scale = matches!(function, AggregateFn::Avg | AggregateFn::WeightedAvg);
        if agg.scale.is_some() && !takes_scale {
            problems.push(
                format!("{key}.scale"),
                format!(
                    "only avg and weighted_avg take a scale; `{}` keeps its field's",
                    agg.function
                ),
            );
        }
        let slot = field.map(|f| &slots[f]);
        let ty = slot.map(|s| s.ty);
        let wrong = |what: &str, problems: &mut Problems| {
            problems.push(
                format!("{key}.function"),
                format!(
                    "`{}` over `{}` ({}): {what}",
                    agg.function,
                    slot.map_or("", |s| s.name.as_str()),
                    ty.map_or("-".into(), |t| t.expr_type().to_string())
                ),
            );
        };
        let long_string =
            matches!(ty, Some(SlotType::String { max_length }) if max_length > MAX_INLINE_STRING);
        let output = match (function, ty) {
            (AggregateFn::Count | AggregateFn::CountDistinct, _) => ColumnType::Integer,
            (AggregateFn::Sum, Some(SlotType::Integer)) => ColumnType::Integer,
            (AggregateFn::Sum, Some(SlotType::Decimal { scale })) => ColumnType::Decimal { scale },
            (AggregateFn::Sum, _) => {
                wrong("sums need an integer or decimal field", problems);
                continue;
            }
            (AggregateFn::Min | AggregateFn::Max, Some(SlotType::Boolean)) => {
                wrong(
                    "min and max do not apply to booleans; count the ones you want with a filter or a derived field",
                    problems,
                );
                continue;
            }
            (
                AggregateFn::Min | AggregateFn::Max | AggregateFn::First | AggregateFn::Last,
                Some(t),
            ) => {
                if long_string {
                    wrong(
                        &format!(
                            "strings kept in a window hold at most {MAX_INLINE_STRING} characters; lower the field's max_length"
                        ),
                        problems,
                    );
                    continue;
                }
                column_type(t)
            }
            (AggregateFn::Avg | AggregateFn::WeightedAvg, Some(t)) if t.is_numeric() => {
                let default = (t.scale() + 2).min(MAX_OUTPUT_SCALE);
                let scale = agg.scale.unwrap_or(default);
                if !(t.scale()..=MAX_OUTPUT_SCALE).contains(&scale) {
                    problems.push(
                        format!("{key}.scale"),
                        format!(
                            "{scale} is out of range; expected {} (the field's scale) to {MAX_OUTPUT_SCALE}",
                            t.scale()
                        ),
                    );
                }
                ColumnType::Decimal { scale }
            }
            (AggregateFn::Avg | AggregateFn::WeightedAvg, _) => {
                wrong("averages need an integer or decimal field", problems);
                continue;
            }
            (_, None) => continue,
        };
        if function == AggregateFn::WeightedAvg {
            let Some(w) = weight else {
                problems.push(format!("{key}.weight"), "weighted_avg needs a weight field");
                continue;
            };
            let ws = &slots[w];
            if !ws.ty.is_numeric() {
                problems.push(
                    format!("{key}.weight"),
                    format!("`{}` is not a number", ws.name),
                );
                continue;
            }
            if ws.range.is_none_or(|(lo, _)| lo < 0) {
                problems.push(
                    format!("{key}.weight"),
                    format!(
                        "`{}` needs a lower bound of 0 or more (a weight is not negative)",
                        ws.name
                    ),
                );
            }
            let term =
                slot.and_then(|s| s.range)
                    .zip(ws.range)
                    .and_then(|((vlo, vhi), (_, whi))| {
                        vlo.unsigned_abs()
                            .max(vhi.unsigned_abs())
                            .checked_mul(whi.unsigned_abs())
                    });
            if term.is_none_or(|t| t > MAX_WEIGHTED_TERM as u128) {
                problems.push(
                    format!("{key}.weight"),
                    "bound the field and the weight (min and max) so that value × weight stays within 2^96 units: the weighted sums must stay exact",
                );
            }
        }
        let scale = match output {
            ColumnType::Decimal { scale } => scale,
            _ => 0,
        };
        columns.push(AggregateSpec {
            name: agg.name,
            function,
            field,
            weight,
            scale,
            output,
        });
    }
    columns
}

/// The output column type of a slot's own values.
pub(crate) fn column_type(ty: SlotType) -> ColumnType {
    match ty {
        SlotType::Integer => ColumnType::Integer,
        SlotType::Decimal { scale } => ColumnType::Decimal { scale },
        SlotType::Timestamp => ColumnType::Timestamp,
        SlotType::Boolean => ColumnType::Boolean,
        SlotType::String { .. } => ColumnType::String,
    }
}

/// Every output column's name: a lowercase column name (Glue lowercases them), once.
pub(super) fn check_names(spec: &Spec, problems: &mut Problems) {
    let mut seen: Vec<String> = super::FIXED_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    if spec.event.key.len() > 1 {
        seen.push(super::KEY_COLUMN.to_owned());
    }
    let valid = |name: &str| {
        name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && !name.ends_with('_')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    let mut at = |key: String, name: &str, problems: &mut Problems| {
        if !valid(name) {
            problems.push(
                key.clone(),
                format!(
                    "`{name}` is not a column name: [a-z][a-z0-9_]*, at most 64 characters, not ending in _ (the lake's columns are lowercase)"
                ),
            );
        }
        if seen.iter().any(|s| s == name) {
            problems.push(key, format!("column `{name}` already exists"));
        }
        seen.push(name.to_owned());
    };
    for (i, k) in spec.event.key.iter().enumerate() {
        at(
            format!("event.key[{i}]"),
            &spec.event.fields[*k].name,
            problems,
        );
    }
    for (i, c) in spec.window_columns.iter().enumerate() {
        at(format!("window.columns[{i}].name"), &c.name, problems);
    }
    for (i, a) in spec.aggregates.iter().enumerate() {
        at(
            format!("aggregates[{i}] ({}).name", a.name),
            &a.name,
            problems,
        );
    }
}

/// The checker's rules: conditions over the aggregate's columns.
pub(super) fn check_rules(raw: Vec<RawCheck>, spec: &Spec, problems: &mut Problems) -> Vec<Check> {
    let columns = spec.output_columns();
    let mut checks = Vec::new();
    for (i, c) in raw.into_iter().enumerate() {
        let key = format!("checks[{i}]");
        problems.unknown(&key, &c.extra, &["rule"]);
        let mut expr = match Expr::parse(&c.rule) {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("{key}.rule"), e);
                continue;
            }
        };
        let names = |name: &str| {
            columns
                .iter()
                .position(|col| col.name == name)
                .map(|i| (i, columns[i].column_type.expr_type()))
        };
        match expr.check(&names, None) {
            Ok(Type::Boolean) => checks.push(Check { rule: c.rule, expr }),
            Ok(other) => problems.push(
                format!("{key}.rule"),
                format!("is {other}; a rule is a condition over the aggregate's columns"),
            ),
            Err(e) => problems.push(
                format!("{key}.rule"),
                e.replace(
                    "is not a field of the event",
                    "is not a column of the aggregate",
                ),
            ),
        }
    }
    checks
}
