//! What every Lambda of the pipeline does at cold start.

use std::sync::Arc;

use pipeline_core::{STOCK_TICKS_SPEC, Spec, SpecError};

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

/// The spec at `path` (`PIPELINE_SPEC`), or the built-in stock-ticks spec.
pub fn load_spec(path: Option<&str>) -> Result<Arc<Spec>, SpecError> {
    let spec = match path {
        Some(path) => Spec::load(path)?,
        None => Spec::from_toml(STOCK_TICKS_SPEC, "built-in stock-ticks spec")?,
    };
    Ok(Arc::new(spec))
}
