//! Lambda configuration from environment variables, read once at cold start. Every problem is
//! reported at once, naming the variable, what it should be and what it was.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use pipeline_core::{SHIPPED_SPECS, Spec};

/// The variable that names the pipeline a function serves.
pub const PIPELINE_VARIABLE: &str = "PIPELINE";

/// One bad or missing variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvProblem {
    pub variable: String,
    pub expected: String,
    /// `None` when the variable is not set.
    pub found: Option<String>,
}

/// Everything wrong with the environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct EnvError {
    pub problems: Vec<EnvProblem>,
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad configuration in the environment:")?;
        for p in &self.problems {
            match &p.found {
                Some(found) => write!(
                    f,
                    "\n  {}: expected {}, found `{found}`",
                    p.variable, p.expected
                )?,
                None => write!(f, "\n  {}: not set; expected {}", p.variable, p.expected)?,
            }
        }
        Ok(())
    }
}

/// Reads variables through `lookup` (the process environment in a Lambda, a map in tests),
/// collecting problems instead of stopping at the first.
pub struct Env<F> {
    lookup: F,
    problems: Vec<EnvProblem>,
}

impl<F> fmt::Debug for Env<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("problems", &self.problems)
            .finish()
    }
}

impl Env<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn process() -> Self {
        Self::new(|name| std::env::var(name).ok())
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn new(lookup: F) -> Self {
        Self {
            lookup,
            problems: Vec::new(),
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// A variable that must be set (to something non-empty).
    pub fn required(&mut self, name: &str, expected: &str) -> String {
        self.get(name).unwrap_or_else(|| {
            self.problems.push(EnvProblem {
                variable: name.into(),
                expected: expected.into(),
                found: None,
            });
            String::new()
        })
    }

    /// A variable that may be unset.
    pub fn optional(&mut self, name: &str) -> Option<String> {
        self.get(name)
    }

    /// A parsed variable with a default, checked by `valid`.
    pub fn parsed<T: FromStr + Clone>(
        &mut self,
        name: &str,
        default: T,
        expected: &str,
        valid: impl Fn(&T) -> bool,
    ) -> T {
        let Some(text) = self.get(name) else {
            return default;
        };
        match text.trim().parse::<T>() {
            Ok(value) if valid(&value) => value,
            _ => {
                self.problems.push(EnvProblem {
                    variable: name.into(),
                    expected: expected.into(),
                    found: Some(text),
                });
                default
            }
        }
    }

    /// A comma-separated list; empty items are dropped.
    pub fn list(&mut self, name: &str, default: &[&str]) -> Vec<String> {
        match self.get(name) {
            Some(text) => text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            None => default.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// `PIPELINE`: the name of the pipeline this function serves, one of the specs in
    /// `config/pipelines/` compiled into the build (`None`, with the problem recorded, if it is
    /// not one of them).
    pub fn spec(&mut self) -> Option<Arc<Spec>> {
        let names: Vec<&str> = SHIPPED_SPECS.iter().map(|(name, _)| *name).collect();
        let expected = format!(
            "the name of a spec in config/pipelines/ built into this function: {}",
            names.join(", ")
        );
        let name = self.get(PIPELINE_VARIABLE);
        let Some(text) = name.as_deref().and_then(pipeline_core::shipped_spec) else {
            self.problem(PIPELINE_VARIABLE, &expected, name);
            return None;
        };
        let name = name.unwrap_or_default();
        match Spec::from_toml(text, &format!("config/pipelines/{name}.toml")) {
            Ok(spec) => Some(Arc::new(spec)),
            Err(error) => {
                self.problem(
                    PIPELINE_VARIABLE,
                    &format!("a spec that loads ({error})"),
                    Some(name),
                );
                None
            }
        }
    }

    /// Records a problem found by the caller (e.g. two variables that contradict).
    pub fn problem(&mut self, name: &str, expected: &str, found: Option<String>) {
        self.problems.push(EnvProblem {
            variable: name.into(),
            expected: expected.into(),
            found,
        });
    }

    /// `Ok(value)` for a value built only if its parts were good (`Some`) and nothing was
    /// wrong, else every problem.
    pub fn finish_some<T>(mut self, value: Option<T>) -> Result<T, EnvError> {
        match value {
            Some(value) => self.finish(value),
            None => {
                if self.problems.is_empty() {
                    self.problem("(environment)", "a complete configuration", None);
                }
                Err(EnvError {
                    problems: self.problems,
                })
            }
        }
    }

    /// `Ok(value)` if nothing was wrong, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, EnvError> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(EnvError {
                problems: self.problems,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_variable() {
        let vars = [("COUNT", "many"), ("SHARE", "0.5"), ("EMPTY", " ")];
        let mut env = Env::new(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        });
        let group = env.required("GROUP", "the feature group's name");
        let empty = env.required("EMPTY", "something");
        let count = env.parsed("COUNT", 10u32, "a whole number from 1 to 100", |n| {
            (1..=100).contains(n)
        });
        let share = env.parsed("SHARE", 0.0f64, "a share from 0 to 1", |s| {
            (0.0..=1.0).contains(s)
        });
        let names = env.list("NAMES", &["a", "b"]);
        assert_eq!(
            (group.as_str(), empty.as_str(), count, share),
            ("", "", 10, 0.5)
        );
        assert_eq!(names, ["a", "b"]);
        let error = env.finish(()).unwrap_err();
        assert_eq!(error.problems.len(), 3);
        let text = error.to_string();
        assert!(
            text.contains("GROUP: not set; expected the feature group's name"),
            "{text}"
        );
        assert!(text.contains("EMPTY: not set"), "{text}");
        assert!(
            text.contains("COUNT: expected a whole number from 1 to 100, found `many`"),
            "{text}"
        );
    }

    #[test]
    fn the_pipeline_is_a_spec_built_in() {
        for (name, _) in SHIPPED_SPECS {
            let mut env = Env::new(|var| (var == "PIPELINE").then(|| (*name).to_owned()));
            let spec = env.spec().unwrap();
            assert_eq!(spec.name, *name);
            env.finish(()).unwrap();
        }
        for value in [None, Some("payments")] {
            let mut env = Env::new(|var| {
                (var == "PIPELINE")
                    .then(|| value.map(str::to_owned))
                    .flatten()
            });
            assert!(env.spec().is_none());
            let text = env.finish(()).unwrap_err().to_string();
            assert!(
                text.contains("PIPELINE") && text.contains("built into this function: orders, "),
                "{text}"
            );
        }
    }
}
