/**
 * Data shapes shared by the predictor, the edge client and the hooks.
 *
 * Conventions: a bar is stamped with its **start** instant (`t`, RFC 3339 UTC, Alpaca's shape); intraday buckets
 * follow the New York clock; daily bars are New York trading days. Returns are log returns.
 */

// Bar, Timeframe, Signal, Prediction (with Horizon, Interval, Probabilities, Attention, Recalibration) and ModelInfo
// (with SignalPolicy) are generated from the Rust definitions (crates/model/src/contract.rs): the same types
// `mtf predict` and the wasm module emit.
import type { Bar, Timeframe } from "./generated/contract.js";

export type {
  Attention,
  Bar,
  Horizon,
  Interval,
  ModelData,
  ModelInfo,
  ModelLabels,
  Prediction,
  Probabilities,
  Recalibration,
  Signal,
  SignalPolicy,
  Timeframe,
} from "./generated/contract.js";

/** Bars keyed by timeframe. Timeframes the model needs but absent here are resampled from the finest given. */
export type BarsByTimeframe = Partial<Record<Timeframe, Bar[]>>;

// The wasm module's boundary types (its .d.ts is generated from crates/wasm, see crates/wasm/src/api.d.ts).
export type { FeatureTable, LiveBarsUpdate, LoadOptions, PredictRequest, StreamMessage } from "../wasm/cpu/mtf_wasm.js";

/** Which backend runs, as requested and as granted. */
export type BackendRequest = "auto" | "webgpu" | "cpu";
