//! The spec's small expression language, for derived fields (`[[derive]] expr`), the event
//! filter (`where`) and the checker's rules (`[[checks]] rule`):
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | test
//! test    := sum [("==" | "!=" | "<" | "<=" | ">" | ">=") sum]
//!          | sum "is" ["not"] "null"
//!          | sum ["not"] "in" "[" literal ("," literal)* "]"
//! sum     := product (("+" | "-") product)*
//! product := unary (("*" | "/") unary)*
//! unary   := "-" unary | primary
//! primary := number | string | "true" | "false" | name | "(" expr ")"
//! ```
//!
//! Numbers are exact decimals (`0.05`, `100`), strings are quoted with `"` or `'`, names are the
//! event's fields (or, for checks, the aggregate's columns). Arithmetic is exact: `+`, `-` and
//! `*` keep every digit; `/` rounds to the scale and with the rounding of the expression's
//! context (a derived field's `scale` and `rounding`); a value beyond 38 digits is an overflow.
//! A null operand makes arithmetic null and a comparison false; `is null` tests for it.
//!
//! Written by hand rather than with an expression crate: the ones available evaluate through
//! `f64`, and exactness is the point here.

use std::fmt;

use crate::decimal::Fixed;

/// A parsed, not yet type-checked expression. Names are resolved by [`Expr::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// An exact decimal literal.
    Number(Fixed),
    Str(String),
    Bool(bool),
    /// A field (or column) by name; `slot` is filled in by [`Expr::check`].
    Name {
        name: String,
        slot: usize,
    },
    Neg(Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Compare(CompareOp, Box<Expr>, Box<Expr>),
    /// `x in [..]` (or `not in` when `negated`).
    In {
        value: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `x is null` (or `is not null`).
    IsNull {
        value: Box<Expr>,
        negated: bool,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// The type of a value an expression can name or compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Whole numbers and exact decimals alike, with their scale (0 for integers).
    Number {
        scale: u32,
    },
    /// Epoch milliseconds; compared with RFC 3339 text literals.
    Timestamp,
    String,
    Boolean,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Number { scale: 0 } => f.write_str("a number"),
            Type::Number { scale } => write!(f, "a decimal (scale {scale})"),
            Type::Timestamp => f.write_str("a timestamp"),
            Type::String => f.write_str("a string"),
            Type::Boolean => f.write_str("a boolean"),
        }
    }
}

/// How a value is rounded to fewer decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rounding {
    /// To the nearest, a tie to the even neighbour (banker's rounding).
    #[default]
    HalfEven,
    /// To the nearest, a tie away from zero.
    HalfUp,
    /// Toward zero (truncation).
    Down,
    /// Toward negative infinity.
    Floor,
    /// Toward positive infinity.
    Ceiling,
}

impl Rounding {
    pub const NAMES: [&str; 5] = ["half_even", "half_up", "down", "floor", "ceiling"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "half_even" => Self::HalfEven,
            "half_up" => Self::HalfUp,
            "down" => Self::Down,
            "floor" => Self::Floor,
            "ceiling" => Self::Ceiling,
            _ => return None,
        })
    }

    /// `numerator / denominator` as an integer, rounded this way. `None` for a zero denominator.
    pub fn divide(self, numerator: i128, denominator: i128) -> Option<i128> {
        if denominator == 0 {
            return None;
        }
        let quotient = numerator / denominator;
        let remainder = numerator % denominator;
        if remainder == 0 {
            return Some(quotient);
        }
        let negative = (numerator < 0) != (denominator < 0);
        let away = if negative { -1 } else { 1 };
        // Compare twice the remainder with the divisor, in magnitudes (no overflow: |r| < |d|).
        let twice = remainder.unsigned_abs().checked_mul(2);
        let half = twice.map(|t| t.cmp(&denominator.unsigned_abs()));
        let bump = match self {
            Rounding::Down => false,
            Rounding::Floor => negative,
            Rounding::Ceiling => !negative,
            Rounding::HalfUp => half != Some(std::cmp::Ordering::Less),
            Rounding::HalfEven => match half {
                Some(std::cmp::Ordering::Less) => false,
                Some(std::cmp::Ordering::Greater) | None => true,
                Some(std::cmp::Ordering::Equal) => quotient % 2 != 0,
            },
        };
        Some(if bump { quotient + away } else { quotient })
    }
}

/// A value during evaluation: numbers as exact units at a scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Number(i128, u32),
    Timestamp(i64),
    Str(&'a str),
    Bool(bool),
    Null,
}

/// Where an expression's names get their values.
pub trait Env {
    fn value(&self, slot: usize) -> Value<'_>;
}

/// Why evaluating failed: an overflow, or a division by zero where the context said to refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalError {
    Overflow,
    DivideByZero,
}

impl Expr {
    /// Resolves names against `names` (name → slot and type) and returns the expression's type.
    /// `division_scale` is the scale a `/` rounds to (`None`: division is not allowed here).
    pub fn check(
        &mut self,
        names: &dyn Fn(&str) -> Option<(usize, Type)>,
        division_scale: Option<u32>,
    ) -> Result<Type, String> {
        match self {
            Expr::Number(fixed) => Ok(Type::Number { scale: fixed.scale }),
            Expr::Str(_) => Ok(Type::String),
            Expr::Bool(_) => Ok(Type::Boolean),
            Expr::Name { name, slot } => {
                let (s, ty) =
                    names(name).ok_or_else(|| format!("`{name}` is not a field of the event"))?;
                *slot = s;
                Ok(ty)
            }
            Expr::Neg(inner) => match inner.check(names, division_scale)? {
                ty @ Type::Number { .. } => Ok(ty),
                other => Err(format!("`-` needs a number, not {other}")),
            },
            Expr::Arith(op, a, b) => {
                let (ta, tb) = (
                    a.check(names, division_scale)?,
                    b.check(names, division_scale)?,
                );
                let (Type::Number { scale: sa }, Type::Number { scale: sb }) = (ta, tb) else {
                    return Err(format!("arithmetic needs numbers, not {ta} and {tb}"));
                };
                let scale = match op {
                    ArithOp::Add | ArithOp::Sub => sa.max(sb),
                    ArithOp::Mul => sa + sb,
                    ArithOp::Div => division_scale.ok_or("division is not allowed here")?,
                };
                if scale > 30 {
                    return Err(format!(
                        "the result would carry {scale} decimal places; at most 30"
                    ));
                }
                Ok(Type::Number { scale })
            }
            Expr::Compare(op, a, b) => {
                let (ta, tb) = (
                    a.check(names, division_scale)?,
                    b.check(names, division_scale)?,
                );
                coerce_timestamp_literal(a, ta, b, tb)?;
                let (ta, tb) = (
                    a.check(names, division_scale)?,
                    b.check(names, division_scale)?,
                );
                // A timestamp compares with another, with RFC 3339 text (read at load) and
                // with a number of epoch milliseconds.
                let comparable = match (ta, tb) {
                    (
                        Type::Number { .. } | Type::Timestamp,
                        Type::Number { .. } | Type::Timestamp,
                    ) => true,
                    (x, y) => x == y,
                };
                if !comparable {
                    return Err(format!("cannot compare {ta} with {tb}"));
                }
                let ordered = !matches!(op, CompareOp::Eq | CompareOp::Ne);
                if ordered && ta == Type::Boolean {
                    return Err("booleans compare only with == and !=".into());
                }
                Ok(Type::Boolean)
            }
            Expr::In {
                value,
                list,
                negated: _,
            } => {
                let ty = value.check(names, division_scale)?;
                for item in list.iter_mut() {
                    let item_ty = item.check(names, division_scale)?;
                    let fits = match (ty, item_ty) {
                        (Type::Number { .. }, Type::Number { .. }) => true,
                        (x, y) => x == y,
                    };
                    if !fits {
                        return Err(format!("the list holds {item_ty}; the value is {ty}"));
                    }
                }
                Ok(Type::Boolean)
            }
            Expr::IsNull { value, .. } => {
                value.check(names, division_scale)?;
                Ok(Type::Boolean)
            }
            Expr::And(a, b) | Expr::Or(a, b) => {
                for side in [a, b] {
                    let ty = side.check(names, division_scale)?;
                    if ty != Type::Boolean {
                        return Err(format!("`and`/`or` need conditions, not {ty}"));
                    }
                }
                Ok(Type::Boolean)
            }
            Expr::Not(inner) => match inner.check(names, division_scale)? {
                Type::Boolean => Ok(Type::Boolean),
                other => Err(format!("`not` needs a condition, not {other}")),
            },
        }
    }

    /// The slots this expression reads.
    pub fn slots(&self, out: &mut Vec<usize>) {
        match self {
            Expr::Name { slot, .. } => out.push(*slot),
            Expr::Number(_) | Expr::Str(_) | Expr::Bool(_) => {}
            Expr::Neg(a) | Expr::Not(a) => a.slots(out),
            Expr::IsNull { value, .. } => value.slots(out),
            Expr::In { value, list, .. } => {
                value.slots(out);
                list.iter().for_each(|e| e.slots(out));
            }
            Expr::Arith(_, a, b) | Expr::Compare(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                a.slots(out);
                b.slots(out);
            }
        }
    }

    /// The divisors of this expression's divisions.
    pub fn divisors(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        self.visit(&mut |e| {
            if let Expr::Arith(ArithOp::Div, _, b) = e {
                out.push(&**b);
            }
        });
        out
    }

    fn visit<'s>(&'s self, f: &mut dyn FnMut(&'s Expr)) {
        f(self);
        match self {
            Expr::Number(_) | Expr::Str(_) | Expr::Bool(_) | Expr::Name { .. } => {}
            Expr::Neg(a) | Expr::Not(a) => a.visit(f),
            Expr::IsNull { value, .. } => value.visit(f),
            Expr::In { value, list, .. } => {
                value.visit(f);
                list.iter().for_each(|e| e.visit(f));
            }
            Expr::Arith(_, a, b) | Expr::Compare(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                a.visit(f);
                b.visit(f);
            }
        }
    }

    /// Evaluates a numeric expression: `Ok(None)` when it is null (a null operand, or a division
    /// by zero with `zero_is_null`). Divisions round to `scale` with `rounding`.
    pub fn number(
        &self,
        env: &dyn Env,
        scale: u32,
        rounding: Rounding,
        zero_is_null: bool,
    ) -> Result<Option<(i128, u32)>, EvalError> {
        let value = match self {
            Expr::Number(f) => (f.units, f.scale),
            Expr::Name { slot, .. } => match env.value(*slot) {
                Value::Number(units, s) => (units, s),
                Value::Timestamp(ms) => (i128::from(ms), 0),
                _ => return Ok(None),
            },
            Expr::Neg(inner) => match inner.number(env, scale, rounding, zero_is_null)? {
                Some((u, s)) => (u.checked_neg().ok_or(EvalError::Overflow)?, s),
                None => return Ok(None),
            },
            Expr::Arith(op, a, b) => {
                let Some((ua, sa)) = a.number(env, scale, rounding, zero_is_null)? else {
                    return Ok(None);
                };
                let Some((ub, sb)) = b.number(env, scale, rounding, zero_is_null)? else {
                    return Ok(None);
                };
                match op {
                    ArithOp::Add | ArithOp::Sub => {
                        let s = sa.max(sb);
                        let (x, y) = (rescale_up(ua, sa, s)?, rescale_up(ub, sb, s)?);
                        let r = if *op == ArithOp::Add {
                            x.checked_add(y)
                        } else {
                            x.checked_sub(y)
                        };
                        (r.ok_or(EvalError::Overflow)?, s)
                    }
                    ArithOp::Mul => (ua.checked_mul(ub).ok_or(EvalError::Overflow)?, sa + sb),
                    ArithOp::Div => {
                        if ub == 0 {
                            return if zero_is_null {
                                Ok(None)
                            } else {
                                Err(EvalError::DivideByZero)
                            };
                        }
                        // ua·10^-sa / (ub·10^-sb) at `scale`: ua·10^(scale+sb-sa) / ub.
                        let shift = i64::from(scale) + i64::from(sb) - i64::from(sa);
                        let (n, d) = if shift >= 0 {
                            (checked_pow10_mul(ua, shift as u32)?, ub)
                        } else {
                            (ua, checked_pow10_mul(ub, (-shift) as u32)?)
                        };
                        (rounding.divide(n, d).ok_or(EvalError::DivideByZero)?, scale)
                    }
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    /// Evaluates a condition: a comparison with a null is false, `is null` tests for one.
    pub fn truth(&self, env: &dyn Env) -> bool {
        match self {
            Expr::Bool(b) => *b,
            Expr::Name { slot, .. } => matches!(env.value(*slot), Value::Bool(true)),
            Expr::And(a, b) => a.truth(env) && b.truth(env),
            Expr::Or(a, b) => a.truth(env) || b.truth(env),
            Expr::Not(a) => !a.truth(env),
            Expr::IsNull { value, negated } => {
                let null = matches!(self.operand(value, env), Value::Null);
                null != *negated
            }
            Expr::Compare(op, a, b) => {
                let (x, y) = (self.operand(a, env), self.operand(b, env));
                compare(&x, &y).is_some_and(|ord| match op {
                    CompareOp::Eq => ord.is_eq(),
                    CompareOp::Ne => ord.is_ne(),
                    CompareOp::Lt => ord.is_lt(),
                    CompareOp::Le => ord.is_le(),
                    CompareOp::Gt => ord.is_gt(),
                    CompareOp::Ge => ord.is_ge(),
                })
            }
            Expr::In {
                value,
                list,
                negated,
            } => {
                let x = self.operand(value, env);
                if matches!(x, Value::Null) {
                    return false;
                }
                let found = list.iter().any(|item| {
                    compare(&x, &self.operand(item, env)).is_some_and(std::cmp::Ordering::is_eq)
                });
                found != *negated
            }
            _ => false,
        }
    }

    /// An operand's value for a comparison.
    fn operand<'e>(&self, expr: &'e Expr, env: &'e dyn Env) -> Value<'e> {
        match expr {
            Expr::Str(s) => Value::Str(s),
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Name { slot, .. } => env.value(*slot),
            Expr::Number(_) | Expr::Neg(_) | Expr::Arith(..) => {
                match expr.number(env, 30, Rounding::HalfEven, true) {
                    Ok(Some((u, s))) => Value::Number(u, s),
                    _ => Value::Null,
                }
            }
            other => Value::Bool(other.truth(env)),
        }
    }
}

/// A string literal compared with a timestamp is read as RFC 3339 text once, at load.
fn coerce_timestamp_literal(a: &mut Expr, ta: Type, b: &mut Expr, tb: Type) -> Result<(), String> {
    let fix = |e: &mut Expr| -> Result<(), String> {
        if let Expr::Str(text) = e {
            let ms = crate::time::parse_rfc3339_millis(text)
                .map_err(|why| format!("`{text}` is not an RFC 3339 time: {why}"))?;
            *e = Expr::Number(Fixed::new(i128::from(ms), 0));
        }
        Ok(())
    };
    match (ta, tb) {
        (Type::Timestamp, Type::String) => fix(b),
        (Type::String, Type::Timestamp) => fix(a),
        _ => Ok(()),
    }
}

fn compare(x: &Value<'_>, y: &Value<'_>) -> Option<std::cmp::Ordering> {
    let number = |v: &Value<'_>| match v {
        Value::Number(u, s) => Some((*u, *s)),
        Value::Timestamp(ms) => Some((i128::from(*ms), 0)),
        _ => None,
    };
    match (x, y) {
        (Value::Str(a), Value::Str(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        _ => {
            let ((ua, sa), (ub, sb)) = (number(x)?, number(y)?);
            let s = sa.max(sb);
            Some(
                rescale_up(ua, sa, s)
                    .ok()?
                    .cmp(&rescale_up(ub, sb, s).ok()?),
            )
        }
    }
}

fn checked_pow10_mul(units: i128, exp: u32) -> Result<i128, EvalError> {
    10_i128
        .checked_pow(exp)
        .and_then(|p| units.checked_mul(p))
        .ok_or(EvalError::Overflow)
}

/// `units` at `from` decimals, rewritten at `to` ≥ `from` decimals.
pub fn rescale_up(units: i128, from: u32, to: u32) -> Result<i128, EvalError> {
    checked_pow10_mul(units, to - from)
}

/// `units` at `from` decimals, rounded to `to` decimals.
pub fn rescale(units: i128, from: u32, to: u32, rounding: Rounding) -> Result<i128, EvalError> {
    if to >= from {
        rescale_up(units, from, to)
    } else {
        let d = 10_i128.checked_pow(from - to).ok_or(EvalError::Overflow)?;
        rounding.divide(units, d).ok_or(EvalError::Overflow)
    }
}

mod parse;

#[cfg(test)]
mod tests;
