/**
 * mtf-predict: multi-timeframe transformer predictions computed in the browser.
 *
 * - {@link loadPredictor} loads a `.mtf` artifact (cached in Cache Storage, verified by SHA-256) on WebGPU or
 *   the CPU and returns a {@link Predictor}: `predict`, `predictBatch`, `liveSession`, `indicators`, `features`.
 * - {@link EdgeClient} talks to the mtf edge API (bars, quotes, news, predictions, models, stream).
 * - React hooks live in `mtf-predict/react`.
 */
export { loadPredictor, loadWasm, probeWebGpu, indicators, features, Predictor, LiveSession } from "./predictor.js";
export type { LoadPredictorOptions, WasmVariant } from "./predictor.js";
export { EdgeClient } from "./edge.js";
export type { BarsResponse, QuoteResponse, NewsResponse, StoredPrediction, ModelVersion, ModelPerformance, EdgeClientOptions, StreamHandle } from "./edge.js";
export { fetchArtifact, sha256Hex, PredictionCache } from "./cache.js";
export type { ArtifactFetchOptions, ArtifactSource, CachedPrediction } from "./cache.js";
export { MtfError } from "./errors.js";
export { parseHorizonMinutes, planFetch, timeframeMinutes, WARMUP_BARS, CONVERGENCE_BARS } from "./timeframes.js";
export type { FetchPlan } from "./timeframes.js";
export type * from "./types.js";
