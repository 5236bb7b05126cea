use super::*;

struct Slots(Vec<Value<'static>>);

impl Env for Slots {
    fn value(&self, slot: usize) -> Value<'_> {
        self.0[slot]
    }
}

fn names(name: &str) -> Option<(usize, Type)> {
    match name {
        "price" => Some((0, Type::Number { scale: 4 })),
        "volume" => Some((1, Type::Number { scale: 0 })),
        "status" => Some((2, Type::String)),
        "coupon" => Some((3, Type::String)),
        "at" => Some((4, Type::Timestamp)),
        "flag" => Some((5, Type::Boolean)),
        _ => None,
    }
}

fn env() -> Slots {
    Slots(vec![
        Value::Number(1_872_500, 4), // 187.2500
        Value::Number(3, 0),
        Value::Str("paid"),
        Value::Null,
        Value::Timestamp(1_795_271_400_000),
        Value::Bool(true),
    ])
}

fn checked(text: &str, division: Option<u32>) -> (Expr, Type) {
    let mut e = Expr::parse(text).unwrap();
    let ty = e.check(&names, division).unwrap();
    (e, ty)
}

fn error(text: &str) -> String {
    match Expr::parse(text) {
        Err(e) => e,
        Ok(mut e) => e.check(&names, Some(4)).unwrap_err(),
    }
}

#[test]
fn products_keep_every_digit_and_divisions_round_to_the_context() {
    let (e, ty) = checked("price * volume", None);
    assert_eq!(ty, Type::Number { scale: 4 });
    assert_eq!(
        e.number(&env(), 4, Rounding::HalfEven, false),
        Ok(Some((5_617_500, 4)))
    );
    let (e, _) = checked("price / volume", Some(4));
    // 187.25 / 3 = 62.41666… → 62.4167 half-even, 62.4166 down.
    assert_eq!(
        e.number(&env(), 4, Rounding::HalfEven, false),
        Ok(Some((624_167, 4)))
    );
    assert_eq!(
        e.number(&env(), 4, Rounding::Down, false),
        Ok(Some((624_166, 4)))
    );
    let (e, _) = checked("(price - 0.25) * 2 + -1", None);
    assert_eq!(
        e.number(&env(), 4, Rounding::HalfEven, false),
        Ok(Some((3_730_000, 4)))
    );
}

#[test]
fn a_null_operand_is_null_and_a_zero_divisor_is_null_or_an_error() {
    let mut e = Expr::parse("price / (volume - 3)").unwrap();
    e.check(&names, Some(2)).unwrap();
    assert_eq!(e.number(&env(), 2, Rounding::HalfEven, true), Ok(None));
    assert_eq!(
        e.number(&env(), 2, Rounding::HalfEven, false),
        Err(EvalError::DivideByZero)
    );
    assert_eq!(e.divisors().len(), 1);
}

#[test]
fn rounding_modes_round_ties_as_named() {
    let cases = [
        (Rounding::HalfEven, [2, 2, -2, 3]),
        (Rounding::HalfUp, [3, 2, -3, 3]),
        (Rounding::Down, [2, 2, -2, 2]),
        (Rounding::Floor, [2, 2, -3, 2]),
        (Rounding::Ceiling, [3, 3, -2, 3]),
    ];
    // 2.5, 2.4, -2.5, 2.6 as 25/10, 24/10, -25/10, 26/10.
    for (mode, want) in cases {
        let got: Vec<i128> = [25, 24, -25, 26]
            .iter()
            .map(|n| mode.divide(*n, 10).unwrap())
            .collect();
        assert_eq!(got, want, "{mode:?}");
    }
    assert_eq!(Rounding::HalfEven.divide(35, 10), Some(4));
    assert_eq!(Rounding::HalfEven.divide(1, 0), None);
}

#[test]
fn conditions_combine_and_treat_null_as_false() {
    let cases = [
        ("status == 'paid'", true),
        ("status != \"paid\"", false),
        ("status in ['paid', 'shipped']", true),
        ("status not in ['cancelled']", true),
        ("coupon == 'x'", false),
        ("coupon != 'x'", false),
        ("coupon is null", true),
        ("coupon is not null", false),
        ("price > 187 and volume >= 3", true),
        ("price > 187.25 or volume < 3", false),
        ("not (price > 200)", true),
        ("price * volume == 561.75", true),
        ("at >= '2026-11-21T14:30:00Z'", true),
        ("at < '2026-11-21T14:30:00Z'", false),
        ("flag", true),
        ("flag == false", false),
        ("volume in [1, 2, 3]", true),
    ];
    for (text, want) in cases {
        let (e, ty) = checked(text, None);
        assert_eq!(ty, Type::Boolean, "{text}");
        assert_eq!(e.truth(&env()), want, "{text}");
    }
}

#[test]
fn mistakes_are_named() {
    assert!(error("price = 3").contains("compare with `==`"));
    assert!(error("price >").contains("ends too soon"));
    assert!(error("nope > 1").contains("`nope` is not a field"));
    assert!(error("status + 1").contains("arithmetic needs numbers"));
    assert!(error("status > 1").contains("cannot compare"));
    assert!(error("flag < true").contains("booleans compare only"));
    assert!(error("price > 1 and volume").contains("need conditions"));
    assert!(error("(price").contains("not closed"));
    assert!(error("'open").contains("not closed"));
    assert!(error("at > 'yesterday'").contains("not an RFC 3339 time"));
    assert!(error("price > 1 2").contains("after the expression"));
    assert!(error("status in ['a', 1]").contains("the list holds"));
    let mut e = Expr::parse("price / volume").unwrap();
    assert!(e.check(&names, None).unwrap_err().contains("not allowed"));
}
