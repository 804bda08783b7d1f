//! Why a call into the module failed. Every variant names what was wrong; the JS side sees the message as a
//! rejected `Error` (the conversion to `JsError` happens once, at the `#[wasm_bindgen]` boundary).

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// A JS value did not have the shape the API takes (`what` names the argument).
    #[error("invalid {what}: {message}")]
    Shape {
        /// The argument, e.g. `request`, `seed`, `stream frame`.
        what: &'static str,
        /// The parser's message (field and position).
        message: String,
    },
    /// An unknown timeframe key.
    #[error(transparent)]
    Timeframe(#[from] mtf_market::TimeframeError),
    /// Bars that do not parse or are out of order (the error names the array and the bar).
    #[error(transparent)]
    Bars(#[from] mtf_market::io::ReadError),
    /// Bars that cannot be aligned (duplicates, wrong bucket).
    #[error(transparent)]
    Align(#[from] mtf_market::align::AlignError),
    /// Indicator parameters.
    #[error(transparent)]
    Indicator(#[from] mtf_features::indicators::ParamError),
    /// An indicator name outside the standard set.
    #[error("unknown indicator `{name}`: available are {available}")]
    UnknownIndicator {
        /// The name asked for.
        name: String,
        /// The names the module computes, comma-separated.
        available: String,
    },
    /// A request without bars.
    #[error("request has no bars: pass {{ bars: {{ \"1m\": [...] }} }}")]
    NoBars,
    /// `at` that is not an RFC 3339 instant.
    #[error("`at` is not an RFC 3339 instant: {0}")]
    At(chrono::ParseError),
    /// An unknown backend name.
    #[error("unknown backend `{0}`: use `auto`, `webgpu` or `cpu`")]
    Backend(String),
    /// WebGPU was required but cannot be used.
    #[error("WebGPU requested but unavailable: {0}")]
    WebGpu(String),
    /// The artifact cannot be loaded.
    #[error(transparent)]
    Artifact(#[from] mtf_model::artifact::ArtifactError),
    /// A prediction cannot be made (history, features, read-back).
    #[error(transparent)]
    Predict(#[from] mtf_model::predict::PredictError),
    /// A stream message that cannot be applied (too late for the retained history).
    #[error(transparent)]
    Live(#[from] mtf_market::live::LiveError),
    /// A timeframe `LiveBars` does not build (its short name, `1h`).
    #[error("timeframe {0} is not built by this LiveBars (pass it to the constructor)")]
    NotBuilt(&'static str),
    /// A result that cannot be converted to a JS value.
    #[error("cannot convert the result to a JS value: {0}")]
    ToJs(String),
}

impl WasmError {
    /// A shape error for argument `what`.
    pub fn shape(what: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Shape { what, message: e.to_string() }
    }
}
