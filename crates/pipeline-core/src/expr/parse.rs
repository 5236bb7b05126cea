//! Expression text to [`Expr`]: the tokenizer and a recursive-descent parser of the grammar in
//! the module's documentation.

use super::{ArithOp, CompareOp, Expr};
use crate::decimal::Fixed;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Number(String),
    Str(String),
    Name(String),
    Op(&'static str),
    Open,
    Close,
    OpenList,
    CloseList,
    Comma,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push(Token::Open);
                i += 1;
            }
            b')' => {
                out.push(Token::Close);
                i += 1;
            }
            b'[' => {
                out.push(Token::OpenList);
                i += 1;
            }
            b']' => {
                out.push(Token::CloseList);
                i += 1;
            }
            b',' => {
                out.push(Token::Comma);
                i += 1;
            }
            b'"' | b'\'' => {
                let end = text[i + 1..]
                    .find(b as char)
                    .ok_or_else(|| format!("the string starting at {} is not closed", i + 1))?;
                out.push(Token::Str(text[i + 1..i + 1 + end].to_owned()));
                i += end + 2;
            }
            b'0'..=b'9' => {
                let end = text[i..]
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .map_or(text.len(), |e| i + e);
                out.push(Token::Number(text[i..end].to_owned()));
                i = end;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let end = text[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(text.len(), |e| i + e);
                out.push(Token::Name(text[i..end].to_owned()));
                i = end;
            }
            _ => {
                let two = text.get(i..i + 2);
                let op = match two {
                    Some("==") => Some("=="),
                    Some("!=") => Some("!="),
                    Some("<=") => Some("<="),
                    Some(">=") => Some(">="),
                    _ => None,
                };
                if let Some(op) = op {
                    out.push(Token::Op(op));
                    i += 2;
                    continue;
                }
                let op = match b {
                    b'+' => "+",
                    b'-' => "-",
                    b'*' => "*",
                    b'/' => "/",
                    b'<' => "<",
                    b'>' => ">",
                    b'=' => return Err(format!("`=` at {}: compare with `==`", i + 1)),
                    _ => {
                        let c = text[i..].chars().next().unwrap_or('?');
                        return Err(format!("unexpected `{c}` at {}", i + 1));
                    }
                };
                out.push(Token::Op(op));
                i += 1;
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token::Name(n)) if n == word) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Token::Op(o)) if *o == op) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.keyword("and") {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.test()
    }

    fn test(&mut self) -> Result<Expr, String> {
        let left = self.sum()?;
        if self.keyword("is") {
            let negated = self.keyword("not");
            if !self.keyword("null") {
                return Err("expected `null` after `is`".into());
            }
            return Ok(Expr::IsNull {
                value: Box::new(left),
                negated,
            });
        }
        let negated_in = matches!(
            (self.peek(), self.tokens.get(self.at + 1)),
            (Some(Token::Name(a)), Some(Token::Name(b))) if a == "not" && b == "in"
        );
        if negated_in {
            self.at += 1;
        }
        if self.keyword("in") {
            if self.next() != Some(Token::OpenList) {
                return Err("expected `[` after `in`".into());
            }
            let mut list = Vec::new();
            loop {
                list.push(self.literal()?);
                match self.next() {
                    Some(Token::Comma) => {}
                    Some(Token::CloseList) => break,
                    _ => return Err("expected `,` or `]` in the list".into()),
                }
            }
            return Ok(Expr::In {
                value: Box::new(left),
                list,
                negated: negated_in,
            });
        }
        let op = match self.peek() {
            Some(Token::Op("==")) => CompareOp::Eq,
            Some(Token::Op("!=")) => CompareOp::Ne,
            Some(Token::Op("<")) => CompareOp::Lt,
            Some(Token::Op("<=")) => CompareOp::Le,
            Some(Token::Op(">")) => CompareOp::Gt,
            Some(Token::Op(">=")) => CompareOp::Ge,
            _ => return Ok(left),
        };
        self.at += 1;
        Ok(Expr::Compare(op, Box::new(left), Box::new(self.sum()?)))
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        loop {
            let op = if self.op("+") {
                ArithOp::Add
            } else if self.op("-") {
                ArithOp::Sub
            } else {
                return Ok(left);
            };
            left = Expr::Arith(op, Box::new(left), Box::new(self.product()?));
        }
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            let op = if self.op("*") {
                ArithOp::Mul
            } else if self.op("/") {
                ArithOp::Div
            } else {
                return Ok(left);
            };
            left = Expr::Arith(op, Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.op("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn literal(&mut self) -> Result<Expr, String> {
        let negative = self.op("-");
        match self.next() {
            Some(Token::Number(text)) => number(&text, negative),
            Some(Token::Str(s)) if !negative => Ok(Expr::Str(s)),
            Some(Token::Name(n)) if !negative && (n == "true" || n == "false") => {
                Ok(Expr::Bool(n == "true"))
            }
            _ => Err("expected a literal (a number, a quoted string, true or false)".into()),
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Number(text)) => number(&text, false),
            Some(Token::Str(s)) => Ok(Expr::Str(s)),
            Some(Token::Name(n)) => match n.as_str() {
                "true" => Ok(Expr::Bool(true)),
                "false" => Ok(Expr::Bool(false)),
                "and" | "or" | "not" | "in" | "is" | "null" => {
                    Err(format!("`{n}` cannot stand here"))
                }
                _ => Ok(Expr::Name { name: n, slot: 0 }),
            },
            Some(Token::Open) => {
                let inner = self.or()?;
                if self.next() != Some(Token::Close) {
                    return Err("a `(` is not closed".into());
                }
                Ok(inner)
            }
            Some(other) => Err(format!("unexpected {}", describe(&other))),
            None => Err("the expression ends too soon".into()),
        }
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Number(n) => format!("number {n}"),
        Token::Str(s) => format!("string \"{s}\""),
        Token::Name(n) => format!("`{n}`"),
        Token::Op(o) => format!("`{o}`"),
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
        Token::OpenList => "`[`".into(),
        Token::CloseList => "`]`".into(),
        Token::Comma => "`,`".into(),
    }
}

fn number(text: &str, negative: bool) -> Result<Expr, String> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || text.ends_with('.') || fraction.contains('.') {
        return Err(format!("`{text}` is not a number"));
    }
    if whole.len() + fraction.len() > 30 {
        return Err(format!("`{text}` has too many digits"));
    }
    let digits: i128 = format!("{whole}{fraction}")
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    Ok(Expr::Number(Fixed::new(
        if negative { -digits } else { digits },
        fraction.len() as u32,
    )))
}

impl Expr {
    /// Parses expression text.
    pub fn parse(text: &str) -> Result<Expr, String> {
        let mut parser = Parser {
            tokens: tokens(text)?,
            at: 0,
        };
        if parser.tokens.is_empty() {
            return Err("the expression is empty".into());
        }
        let expr = parser.or()?;
        match parser.peek() {
            None => Ok(expr),
            Some(t) => Err(format!("unexpected {} after the expression", describe(t))),
        }
    }
}
