//! What every Lambda of the pipeline does at cold start.

/// JSON logs on stdout (CloudWatch Logs), level from `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .init();
}

/// The error a Lambda's `main` returns when its cold start cannot go on (a missing or bad
/// variable, brokers that cannot be resolved) or its runtime loop ends. Rust prints a `main`
/// error with `Debug`; this one prints the readable message and its causes, which Lambda puts
/// in the function's log next to `Runtime.ExitError`.
pub struct StartError(Box<dyn std::error::Error + Send + Sync>);

impl<E: Into<Box<dyn std::error::Error + Send + Sync>>> From<E> for StartError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl std::fmt::Debug for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}
