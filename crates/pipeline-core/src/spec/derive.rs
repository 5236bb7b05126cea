//! Derived fields (`[[derive]]`), the filter (`where`), and the event's value slots.

use super::raw::RawDerive;
use super::{
    DerivedField, EventSpec, FieldKind, Filter, MAX_DERIVED, MAX_OUTPUT_SCALE, OnZero, Problems,
    Slot, SlotType,
};
use crate::expr::{ArithOp, Expr, Rounding, Type};

/// Earliest and latest event time accepted at all (years 0001–9999), in epoch milliseconds.
pub(crate) const MIN_TIME_MS: i64 = -62_135_596_800_000;
pub(crate) const MAX_TIME_MS: i64 = 253_402_300_799_999;

pub(super) fn check_derived(
    raw: Vec<RawDerive>,
    filter: Option<String>,
    event: &EventSpec,
    problems: &mut Problems,
) -> (Vec<DerivedField>, Vec<Slot>, Option<Filter>) {
    let mut slots: Vec<Slot> = event.fields.iter().map(field_slot).collect();
    if raw.len() > MAX_DERIVED {
        problems.push(
            "derive",
            format!("{} derived fields; at most {MAX_DERIVED}", raw.len()),
        );
    }
    let mut derived = Vec::new();
    for (i, d) in raw.into_iter().enumerate() {
        let key = format!("derive[{i}] ({})", d.name);
        problems.unknown(
            &key,
            &d.extra,
            &["name", "expr", "scale", "rounding", "on_zero"],
        );
        let valid_name = !d.name.is_empty()
            && d.name.len() <= 64
            && d.name
                .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && d.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_name {
            problems.push(
                format!("{key}.name"),
                "expected a field name: [A-Za-z_][A-Za-z0-9_]*, at most 64 characters",
            );
        }
        if slots.iter().any(|s| s.name == d.name) {
            problems.push(
                format!("{key}.name"),
                format!("`{}` is already a field", d.name),
            );
        }
        let Some(scale) = d.scale else {
            problems.push(
                format!("{key}.scale"),
                "required: the decimal places of the result (0 for a whole number)",
            );
            continue;
        };
        if scale > MAX_OUTPUT_SCALE {
            problems.push(
                format!("{key}.scale"),
                format!("{scale} is out of range; expected 0 to {MAX_OUTPUT_SCALE}"),
            );
            continue;
        }
        let rounding = match d.rounding.as_deref() {
            None => Rounding::HalfEven,
            Some(name) => match Rounding::from_name(name) {
                Some(r) => r,
                None => {
                    problems.push(
                        format!("{key}.rounding"),
                        format!(
                            "`{name}` is not a rounding; expected one of: {}",
                            Rounding::NAMES.join(", ")
                        ),
                    );
                    Rounding::HalfEven
                }
            },
        };
        let on_zero = match d.on_zero.as_deref() {
            None => None,
            Some("null") => Some(OnZero::Null),
            Some("dead_letter") => Some(OnZero::DeadLetter),
            Some(other) => {
                problems.push(
                    format!("{key}.on_zero"),
                    format!("`{other}` is not a choice; expected null or dead_letter"),
                );
                None
            }
        };
        let mut expr = match Expr::parse(&d.expr) {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("{key}.expr"), e);
                continue;
            }
        };
        let names = |name: &str| {
            slots
                .iter()
                .position(|s| s.name == name)
                .map(|i| (i, slots[i].ty.expr_type()))
        };
        match expr.check(&names, Some(scale)) {
            Ok(Type::Number { .. }) => {}
            Ok(other) => {
                problems.push(
                    format!("{key}.expr"),
                    format!("computes {other}; a derived field is a number"),
                );
                continue;
            }
            Err(e) => {
                problems.push(format!("{key}.expr"), e);
                continue;
            }
        }
        let risky: Vec<String> = expr
            .divisors()
            .into_iter()
            .filter(|d| may_be_zero(d, &slots))
            .map(describe)
            .collect();
        if !risky.is_empty() && on_zero.is_none() {
            problems.push(
                format!("{key}.on_zero"),
                format!(
                    "the divisor {} can be zero; say what a division by zero gives: on_zero = \"null\" or \"dead_letter\"",
                    risky.join(", ")
                ),
            );
        }
        let mut used = Vec::new();
        expr.slots(&mut used);
        let always = used.iter().all(|&s| slots[s].always)
            && (risky.is_empty() || on_zero != Some(OnZero::Null));
        // A result beyond 64-bit fixed point at this scale dead-letters its event
        // (`out_of_range`); the range is kept only where it fits.
        let range = range_of(&expr, &slots)
            .and_then(|(lo, hi, natural)| {
                let shift = |v: i128| crate::expr::rescale(v, natural, scale, rounding).ok();
                Some((shift(lo)?, shift(hi)?))
            })
            .filter(|(lo, hi)| *lo >= i128::from(i64::MIN) && *hi <= i128::from(i64::MAX));
        slots.push(Slot {
            name: d.name.clone(),
            ty: SlotType::Decimal { scale },
            always,
            range,
        });
        derived.push(DerivedField {
            name: d.name,
            text: d.expr,
            expr,
            scale,
            rounding,
            on_zero: on_zero.unwrap_or(OnZero::DeadLetter),
        });
    }
    let filter = filter.and_then(|text| {
        let mut expr = match Expr::parse(&text) {
            Ok(e) => e,
            Err(e) => {
                problems.push("where", e);
                return None;
            }
        };
        let names = |name: &str| {
            slots
                .iter()
                .position(|s| s.name == name)
                .map(|i| (i, slots[i].ty.expr_type()))
        };
        match expr.check(&names, None) {
            Ok(Type::Boolean) => Some(Filter { text, expr }),
            Ok(other) => {
                problems.push("where", format!("is {other}; a filter is a condition"));
                None
            }
            Err(e) => {
                problems.push("where", e);
                None
            }
        }
    });
    (derived, slots, filter)
}

fn field_slot(field: &super::FieldSpec) -> Slot {
    let (ty, range) = match &field.kind {
        FieldKind::String { .. } => (
            SlotType::String {
                max_length: field.kind.longest_string(),
            },
            None,
        ),
        FieldKind::Integer { min, max } => (
            SlotType::Integer,
            Some((i128::from(*min), i128::from(*max))),
        ),
        FieldKind::Decimal {
            scale,
            lower,
            upper,
        } => (
            SlotType::Decimal { scale: *scale },
            lower
                .zip(*upper)
                .map(|(lo, hi)| (i128::from(lo.units), i128::from(hi.units))),
        ),
        FieldKind::Timestamp => (
            SlotType::Timestamp,
            Some((i128::from(MIN_TIME_MS), i128::from(MAX_TIME_MS))),
        ),
        FieldKind::Boolean => (SlotType::Boolean, Some((0, 1))),
    };
    Slot {
        name: field.name.clone(),
        ty,
        always: field.required,
        range,
    }
}

/// Whether a divisor can be zero: anything but a non-zero literal, or a field whose bounds
/// exclude zero.
fn may_be_zero(divisor: &Expr, slots: &[Slot]) -> bool {
    match divisor {
        Expr::Number(f) => f.units == 0,
        Expr::Name { slot, .. } => slots[*slot].range.is_none_or(|(lo, hi)| lo <= 0 && hi >= 0),
        Expr::Neg(inner) => may_be_zero(inner, slots),
        _ => match range_of(divisor, slots) {
            Some((lo, hi, _)) => lo <= 0 && hi >= 0,
            None => true,
        },
    }
}

/// The interval an arithmetic expression's value lies in, at its natural scale: `(low, high,
/// scale)`. `None` when unknown (a division, an unbounded field, an overflow).
fn range_of(expr: &Expr, slots: &[Slot]) -> Option<(i128, i128, u32)> {
    match expr {
        Expr::Number(f) => Some((f.units, f.units, f.scale)),
        Expr::Name { slot, .. } => {
            let s = &slots[*slot];
            s.range.map(|(lo, hi)| (lo, hi, s.ty.scale()))
        }
        Expr::Neg(inner) => {
            let (lo, hi, s) = range_of(inner, slots)?;
            Some((hi.checked_neg()?, lo.checked_neg()?, s))
        }
        Expr::Arith(op, a, b) => {
            let (alo, ahi, sa) = range_of(a, slots)?;
            let (blo, bhi, sb) = range_of(b, slots)?;
            match op {
                ArithOp::Add | ArithOp::Sub => {
                    let s = sa.max(sb);
                    let up = |v: i128, from: u32| crate::expr::rescale_up(v, from, s).ok();
                    let (alo, ahi, blo, bhi) =
                        (up(alo, sa)?, up(ahi, sa)?, up(blo, sb)?, up(bhi, sb)?);
                    if *op == ArithOp::Add {
                        Some((alo.checked_add(blo)?, ahi.checked_add(bhi)?, s))
                    } else {
                        Some((alo.checked_sub(bhi)?, ahi.checked_sub(blo)?, s))
                    }
                }
                ArithOp::Mul => {
                    let products = [
                        alo.checked_mul(blo)?,
                        alo.checked_mul(bhi)?,
                        ahi.checked_mul(blo)?,
                        ahi.checked_mul(bhi)?,
                    ];
                    let lo = *products.iter().min()?;
                    let hi = *products.iter().max()?;
                    Some((lo, hi, sa + sb))
                }
                ArithOp::Div => None,
            }
        }
        _ => None,
    }
}

fn describe(expr: &Expr) -> String {
    match expr {
        Expr::Name { name, .. } => format!("`{name}`"),
        _ => "expression".to_owned(),
    }
}
