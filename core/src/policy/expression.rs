//! Metric math a rule evaluates itself: `+ - * /`, parentheses, numbers and the names of
//! the rule's metrics (`"sent / 60 + visible"`). The daemon computes it from the datapoints
//! it reads rather than asking CloudWatch to, so a policy means the same in the simulator,
//! against moto and in AWS.
//!
//! Written here rather than taken from a crate: evalexpr is AGPL-3.0 and a language of its
//! own (strings, assignments, functions), meval is unmaintained (nom 1); four operators over
//! named numbers need neither.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    Number(f64),
    Name(String),
    Negate(Box<Expr>),
    Binary(Box<Expr>, Op, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    Add,
    Subtract,
    Multiply,
    Divide,
}

/// Where in the text parsing stopped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset into the expression.
    pub at: usize,
    pub message: String,
}

/// Expressions nest at most this deep: a hostile file cannot overflow the stack.
const MAX_DEPTH: usize = 32;

/// Parses `text`; every name must be one of `names`.
pub fn parse(text: &str, names: &[&str]) -> Result<Expr, ParseError> {
    let mut p = Parser {
        text,
        at: 0,
        names,
        depth: 0,
    };
    let e = p.sum()?;
    p.skip_space();
    if p.at < text.len() {
        return Err(p.error(format!("unexpected {:?}", p.rest().chars().next().unwrap_or(' '))));
    }
    Ok(e)
}

/// The value of `e` with `values` for its names; None when a name has no value. Division
/// by zero gives infinity, which the caller refuses as it refuses any value not finite.
pub fn eval(e: &Expr, values: &BTreeMap<&str, f64>) -> Option<f64> {
    Some(match e {
        Expr::Number(n) => *n,
        Expr::Name(n) => *values.get(n.as_str())?,
        Expr::Negate(inner) => -eval(inner, values)?,
        Expr::Binary(a, op, b) => {
            let (a, b) = (eval(a, values)?, eval(b, values)?);
            match op {
                Op::Add => a + b,
                Op::Subtract => a - b,
                Op::Multiply => a * b,
                Op::Divide => a / b,
            }
        }
    })
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
    names: &'a [&'a str],
    depth: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            at: self.at,
            message: message.into(),
        }
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.rest().starts_with(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn binary(
        &mut self,
        ops: [(char, Op); 2],
        next: fn(&mut Self) -> Result<Expr, ParseError>,
    ) -> Result<Expr, ParseError> {
        let mut left = next(self)?;
        loop {
            let Some(op) = ops.iter().find(|(c, _)| self.eat(*c)).map(|(_, op)| *op) else {
                return Ok(left);
            };
            left = Expr::Binary(Box::new(left), op, Box::new(next(self)?));
        }
    }

    fn sum(&mut self) -> Result<Expr, ParseError> {
        self.binary([('+', Op::Add), ('-', Op::Subtract)], Self::product)
    }

    fn product(&mut self) -> Result<Expr, ParseError> {
        self.binary([('*', Op::Multiply), ('/', Op::Divide)], Self::unary)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("nested more than {MAX_DEPTH} deep")));
        }
        let e = if self.eat('-') {
            Expr::Negate(Box::new(self.unary()?))
        } else if self.eat('(') {
            let inner = self.sum()?;
            if !self.eat(')') {
                return Err(self.error("expected `)`"));
            }
            inner
        } else {
            self.atom()?
        };
        self.depth -= 1;
        Ok(e)
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        self.skip_space();
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        let token = &rest[..len];
        if token.is_empty() {
            return Err(self.error(match rest.chars().next() {
                None => "expected a number or a metric name, found the end".to_string(),
                Some(c) => format!("expected a number or a metric name, found {c:?}"),
            }));
        }
        let e = if token.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            match token.parse::<f64>() {
                Ok(n) if n.is_finite() => Expr::Number(n),
                _ => return Err(self.error(format!("{token:?} is not a number"))),
            }
        } else if self.names.contains(&token) {
            Expr::Name(token.to_string())
        } else {
            return Err(self.error(format!(
                "{token:?} is not one of this rule's metrics ({})",
                self.names.join(", ")
            )));
        };
        self.at += len;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, values: &[(&str, f64)]) -> f64 {
        let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
        let e = parse(text, &names).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        eval(&e, &values.iter().copied().collect()).unwrap()
    }

    #[test]
    fn precedence_associativity_and_parentheses_are_arithmetic_s() {
        assert_eq!(value("1 + 2 * 3", &[]), 7.0);
        assert_eq!(value("(1 + 2) * 3", &[]), 9.0);
        assert_eq!(value("8 / 4 / 2", &[]), 1.0, "left to right");
        assert_eq!(value("10 - 4 - 3", &[]), 3.0);
        assert_eq!(value("-m1 + 5", &[("m1", 2.0)]), 3.0);
        assert_eq!(value("sent / 60 + visible", &[("sent", 600.0), ("visible", 5.0)]), 15.0);
        assert_eq!(value("m1/m2", &[("m1", 3.0), ("m2", 4.0)]), 0.75);
        assert_eq!(value(" 2.5e1 ", &[]), 25.0);
    }

    #[test]
    fn bad_expressions_say_where_and_why() {
        let err = |text: &str| parse(text, &["m1", "m2"]).unwrap_err();
        assert_eq!(err("m1 / m3").at, 5);
        assert!(
            err("m1 / m3")
                .message
                .contains("\"m3\" is not one of this rule's metrics (m1, m2)")
        );
        assert_eq!(err("m1 +").message, "expected a number or a metric name, found the end");
        assert_eq!(err("(m1 + m2").message, "expected `)`");
        assert_eq!(err("m1 m2").message, "unexpected 'm'");
        assert!(err("m1 ^ 2").message.contains("unexpected '^'"));
        assert!(err("1.2.3").message.contains("is not a number"));
        assert!(err(&"(".repeat(100)).message.contains("nested more than 32 deep"));
        assert!(err("").message.contains("found the end"));
    }

    #[test]
    fn division_by_zero_is_not_finite_and_a_missing_value_is_none() {
        let e = parse("m1 / m2", &["m1", "m2"]).unwrap();
        let v = eval(&e, &[("m1", 1.0), ("m2", 0.0)].into_iter().collect()).unwrap();
        assert!(!v.is_finite());
        assert_eq!(eval(&e, &[("m1", 1.0)].into_iter().collect()), None);
    }
}
