/**
 * mtf-predict: multi-timeframe transformer predictions computed in the browser.
 *
 * - {@link loadPredictor} loads a `.mtf` artifact (cached in Cache Storage, verified by SHA-256) on WebGPU or
 *   the CPU and returns a {@link Predictor}: `predict`, `predictBatch`, `liveSession`, `indicators`, `features`.
 * - {@link EdgeClient} talks to the mtf edge API (bars, quotes, news, predictions, models, stream);
 *   {@link StreamHub} shares one stream connection among subscribers; {@link BarsCache} shares bars requests.
 * - {@link LiveBars} builds live bars of any timeframe from the stream (the Rust `LiveBars`, corrections included).
 * - React hooks live in `mtf-predict/react`.
 */

export type { ArtifactFetchOptions, ArtifactSource, CachedPrediction } from "./cache.js";
export { BarsCache, fetchArtifact, PredictionCache, sha256Hex } from "./cache.js";
export type {
  BarsResponse,
  Candidate,
  Check,
  DailyPoint,
  Decision,
  EdgeClientOptions,
  EntryError,
  HorizonHealth,
  InputRange,
  ModelHealth,
  ModelPerformance,
  ModelVersion,
  NewsResponse,
  PredictEntry,
  PredictResponse,
  QuoteResponse,
  RetrainRecord,
  RetrainsResponse,
  Score,
  ServedModel,
  StoredPrediction,
  StreamHandle,
  SymbolScore,
  Validation,
  WindowMetrics,
} from "./edge.js";
export { activeByHorizon, EdgeClient } from "./edge.js";
export { MtfError } from "./errors.js";
export { ALPACA_TIMEFRAME, INTERVAL_LEVEL, TIMEFRAME_MINUTES, TIMEFRAMES } from "./generated/contract.js";
export { LiveBars } from "./live.js";
export type { LoadPredictorOptions, WasmVariant } from "./predictor.js";
export { completeBars, features, indicators, LiveSession, loadPredictor, loadWasm, Predictor, probeWebGpu } from "./predictor.js";
export type { StreamStatus } from "./stream.js";
export { StreamHub } from "./stream.js";
export type { FetchPlan } from "./timeframes.js";
export { CONVERGENCE_BARS, parseHorizonMinutes, planFetch, timeframeMinutes, WARMUP_BARS } from "./timeframes.js";
export type * from "./types.js";
