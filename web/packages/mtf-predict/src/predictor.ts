/**
 * Loading the WebAssembly module and the model, and predicting.
 *
 * Two builds of the module ship with the package: `wasm/cpu` (burn-flex on the CPU, small) and `wasm/webgpu`
 * (burn-wgpu with burn-flex as fallback, larger). Only the one the backend choice needs is downloaded.
 */
import { type ArtifactSource, fetchArtifact, sha256Hex } from "./cache.js";
import { MtfError, messageOf } from "./errors.js";
import type { BackendRequest, Bar, FeatureTable, ModelInfo, Prediction, PredictRequest, StreamMessage, Timeframe } from "./types.js";

// The wasm-bindgen module's surface, typed by its generated .d.ts. Both builds export the same API; their
// low-level `InitOutput` differs, so the type is the API part plus an untyped init.
type WasmModule = Pick<
  typeof import("../wasm/cpu/mtf_wasm.js"),
  "Predictor" | "LiveBars" | "LiveSession" | "indicators" | "features" | "completeBars"
> & {
  default: (init?: { module_or_path?: unknown }) => Promise<unknown>;
};
type WasmPredictor = import("../wasm/cpu/mtf_wasm.js").Predictor;
type WasmLiveSession = import("../wasm/cpu/mtf_wasm.js").LiveSession;

/** Which build of the module. */
export type WasmVariant = "cpu" | "webgpu";

const modules = new Map<WasmVariant, Promise<WasmModule>>();

/**
 * Loads (once per page) one build of the wasm module. `wasmUrl` overrides where the `.wasm` file is fetched
 * from (a CDN) or gives its bytes; by default it sits next to the glue code, which bundlers such as Vite resolve.
 */
export function loadWasm(variant: WasmVariant = "cpu", wasmUrl?: string | URL | BufferSource): Promise<WasmModule> {
  let m = modules.get(variant);
  if (!m) {
    m = (async () => {
      const mod: WasmModule = variant === "webgpu" ? await import("../wasm/webgpu/mtf_wasm.js") : await import("../wasm/cpu/mtf_wasm.js");
      await mod.default(wasmUrl ? { module_or_path: wasmUrl } : undefined);
      return mod;
    })();
    m.catch(() => modules.delete(variant)); // a failed load may be retried
    modules.set(variant, m);
  }
  return m;
}

/** Whether a usable hardware WebGPU adapter exists, or why not. Software adapters (SwiftShader) count as no. */
export async function probeWebGpu(): Promise<{ ok: boolean; hardware: boolean; why?: string }> {
  const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } } | undefined)?.gpu;
  if (!gpu) return { ok: false, hardware: false, why: "navigator.gpu is not available in this browser" };
  let adapter: { isFallbackAdapter?: boolean; info?: Record<string, unknown> } | null;
  try {
    adapter = (await gpu.requestAdapter()) as typeof adapter;
  } catch (e) {
    return { ok: false, hardware: false, why: `requestAdapter failed: ${messageOf(e)}` };
  }
  if (!adapter) return { ok: false, hardware: false, why: "no WebGPU adapter" };
  const info = adapter.info ?? {};
  const text = `${info.vendor ?? ""} ${info.architecture ?? ""} ${info.description ?? ""}`;
  const software = adapter.isFallbackAdapter === true || info.isFallbackAdapter === true || /swiftshader|llvmpipe/i.test(text);
  return software
    ? { ok: true, hardware: false, why: `only a software WebGPU adapter (${text.trim() || "fallback"})` }
    : { ok: true, hardware: true };
}

/** Options of {@link loadPredictor}. */
export interface LoadPredictorOptions {
  /** The artifact: URL of a `.mtf` file, or its bytes. */
  model: string | URL | Uint8Array;
  /** Expected SHA-256 (hex) of the artifact; verified before use when given (the edge's `/models/active` has it). */
  sha256?: string;
  /**
   * `auto` (default): WebGPU when a hardware adapter exists and the device initialises, else the CPU (a software
   * adapter such as SwiftShader is slower than the CPU path for this model, so `auto` does not pick it).
   * `webgpu`: WebGPU or an error. `cpu`: the CPU build only.
   */
  backend?: BackendRequest;
  /** Cache Storage bucket for the artifact, or `false`. */
  cacheName?: string | false;
  /** Override where the chosen build's `.wasm` comes from: a URL (CDN) or its bytes (Node, tests). */
  wasmUrl?: string | URL | BufferSource;
  fetch?: typeof fetch;
}

/** A live session: feed stream frames, get a prediction when a base-timeframe bar closes. */
export class LiveSession {
  constructor(private readonly inner: WasmLiveSession) {}
  /** Applies one frame of stream messages; resolves to a new prediction when a base bar closed, else `null`. */
  async push(messages: StreamMessage[]): Promise<Prediction | null> {
    try {
      return await this.inner.push(messages);
    } catch (e) {
      throw new MtfError("input", messageOf(e));
    }
  }
  /** Milliseconds from the frame that closed the last base bar to its prediction (NaN before any). */
  get latencyMs(): number {
    return this.inner.latencyMs;
  }
  free(): void {
    this.inner.free();
  }
}

/** A loaded model. */
export class Predictor {
  /** Milliseconds of the last `predict` / `predictBatch` call (bars in → prediction out). */
  lastLatencyMs = Number.NaN;

  constructor(
    private readonly inner: WasmPredictor,
    private readonly mod: WasmModule,
    /** The artifact's SHA-256 (hex). */
    readonly sha256: string,
    /** Where the artifact came from. */
    readonly source: ArtifactSource | "bytes",
    /** Why `auto` did not pick WebGPU, if it did not. */
    private readonly fallbackReason?: string,
  ) {}

  /** `webgpu` or `cpu` (with the reason after a fallback, e.g. `cpu (only a software WebGPU adapter …)`). */
  get backend(): string {
    const b = this.inner.backend;
    return this.fallbackReason && b === "cpu" ? `cpu (${this.fallbackReason})` : b;
  }

  /** `webgpu` or `cpu`, without the reason. */
  get backendKind(): "webgpu" | "cpu" {
    return this.inner.backend.startsWith("webgpu") ? "webgpu" : "cpu";
  }

  /** What the model is: name, version, timeframes, lookback, horizon (bars and minutes), warm-up, interval
   * level, training range, metrics. Built once by the module when the model loaded (the same object each read). */
  get info(): ModelInfo {
    return this.inner.info;
  }

  /** `name@version`. */
  get version(): string {
    return `${this.info.name}@${this.info.version}`;
  }

  /** One prediction. Rejects with an `MtfError` (`input`) naming what is wrong with the bars. */
  async predict(request: PredictRequest): Promise<Prediction> {
    const t0 = performance.now();
    try {
      const p = await this.inner.predict(request);
      this.lastLatencyMs = performance.now() - t0;
      return p;
    } catch (e) {
      throw new MtfError("input", messageOf(e));
    }
  }

  /** Many predictions in one batched forward pass (10–100 symbols). */
  async predictBatch(requests: PredictRequest[]): Promise<Prediction[]> {
    const t0 = performance.now();
    try {
      const p = await this.inner.predictBatch(requests);
      this.lastLatencyMs = performance.now() - t0;
      return p;
    } catch (e) {
      throw new MtfError("input", messageOf(e));
    }
  }

  /** A live session for one symbol seeded with history (`{ "1m": [...], "1d": [...] }`). */
  liveSession(symbol: string, seed: Partial<Record<Timeframe, Bar[]>>): LiveSession {
    try {
      return new LiveSession(this.inner.liveSession(symbol, seed));
    } catch (e) {
      throw new MtfError("input", messageOf(e));
    }
  }

  /** Standard indicators of bars (`sma_50`, `ema_20`, `rsi_14`, `macd`, …; `null` during warm-up). */
  indicators(bars: Bar[], names?: string[]): Record<string, (number | null)[]> {
    return callInput(() => this.mod.indicators(bars, names));
  }

  /** The 20 model features of every bar of one timeframe. */
  features(bars: Bar[], timeframe: Timeframe): FeatureTable {
    return callInput(() => this.mod.features(bars, timeframe));
  }

  /** Releases the wasm memory held by the model. */
  free(): void {
    this.inner.free();
  }
}

function callInput<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new MtfError("input", messageOf(e));
  }
}

/** Indicators without a model (loads the CPU module once). */
export async function indicators(bars: Bar[], names?: string[]): Promise<Record<string, (number | null)[]>> {
  const mod = await loadWasm("cpu");
  return callInput(() => mod.indicators(bars, names));
}

/** Model features of one timeframe's bars without a model (loads the CPU module once). */
export async function features(bars: Bar[], timeframe: Timeframe): Promise<FeatureTable> {
  const mod = await loadWasm("cpu");
  return callInput(() => mod.features(bars, timeframe));
}

/**
 * The bars complete at `at` (ISO-8601): a bar counts from its end, days end at the session close (early closes
 * included) — the rule the model applies, from the same Rust code. Use it to show only final bars or to serve
 * what a model would have seen at an instant. Bars are returned unchanged (loads the CPU module once).
 */
export async function completeBars(bars: Bar[], timeframe: Timeframe, at: string, session?: "regular" | "extended"): Promise<Bar[]> {
  const mod = await loadWasm("cpu");
  return callInput(() => mod.completeBars(bars, timeframe, at, session));
}

/**
 * Loads a model: fetches the artifact (through Cache Storage, verified by SHA-256), picks the backend, and
 * returns a {@link Predictor}. Rejects with an `MtfError`: `artifact` (unreachable, hash mismatch, corrupt),
 * `backend` (WebGPU requested but unavailable).
 */
export async function loadPredictor(opts: LoadPredictorOptions): Promise<Predictor> {
  const want = opts.backend ?? "auto";
  if (!["auto", "webgpu", "cpu"].includes(want)) {
    throw new MtfError("backend", `unknown backend \`${want}\`: use "auto", "webgpu" or "cpu"`);
  }
  let bytes: Uint8Array;
  let sha: string;
  let source: ArtifactSource | "bytes";
  if (opts.model instanceof Uint8Array) {
    bytes = opts.model;
    sha = await sha256Hex(bytes);
    if (opts.sha256 && sha !== opts.sha256.toLowerCase()) {
      throw new MtfError("artifact", `model bytes have SHA-256 ${sha}, expected ${opts.sha256}`);
    }
    source = "bytes";
  } else {
    const r = await fetchArtifact(String(opts.model), { sha256: opts.sha256, cacheName: opts.cacheName, fetch: opts.fetch });
    ({ bytes, sha256: sha, source } = r);
  }

  let variant: WasmVariant = "cpu";
  let fallbackReason: string | undefined;
  if (want !== "cpu") {
    const probe = await probeWebGpu();
    if (want === "webgpu") {
      if (!probe.ok) throw new MtfError("backend", `WebGPU requested but unavailable: ${probe.why}`);
      variant = "webgpu";
    } else if (probe.hardware) {
      variant = "webgpu";
    } else {
      fallbackReason = probe.why;
    }
  }
  const mod = await loadWasm(variant, opts.wasmUrl);
  let inner: WasmPredictor;
  try {
    inner = await mod.Predictor.fromBytes(bytes, { backend: variant === "cpu" ? "cpu" : want });
  } catch (e) {
    const msg = messageOf(e);
    throw new MtfError(msg.startsWith("WebGPU") ? "backend" : "artifact", msg);
  }
  return new Predictor(inner, mod, sha, source, fallbackReason);
}
