/**
 * React hooks over the predictor and the edge client: `useMLPrediction`, `useStockBars`, `useLiveBars`,
 * `useLiveStream`, `usePredictionHistory`, `useModels`, and `MtfProvider` to share one edge client, one loaded
 * model, one stream connection and one bars cache across a tree.
 *
 * ```tsx
 * <MtfProvider edge="https://edge.example" model={{ fromEdge: true }}>
 *   <Panel />
 * </MtfProvider>
 * const { prediction, confidence, signal, attention, backend, status, error } =
 *   useMLPrediction("SPY", { timeframes: ["1m", "5m", "15m", "1h", "1d"], horizon: "1h" });
 * ```
 */
import { createContext, createElement, type ReactNode, useContext, useEffect, useMemo, useRef, useState } from "react";
import { BarsCache, PredictionCache } from "./cache.js";
import { EdgeClient, type ModelVersion, type StoredPrediction } from "./edge.js";
import { MtfError, messageOf } from "./errors.js";
import { LiveBars } from "./live.js";
import { type LiveSession, type LoadPredictorOptions, loadPredictor, type Predictor } from "./predictor.js";
import { StreamHub, type StreamStatus } from "./stream.js";
import { parseHorizonMinutes, planFetch, timeframeMinutes } from "./timeframes.js";
import type { BackendRequest, Bar, BarsByTimeframe, Prediction, Signal, StreamMessage, Timeframe } from "./types.js";

/** What the provider loads: an artifact (URL or bytes, see `loadPredictor`), or the edge's active model. */
export type ModelSource = Omit<LoadPredictorOptions, "backend"> | { fromEdge: true };

interface MtfContextValue {
  client: EdgeClient;
  /** Loads the provider's model on first call (then the same promise): nothing is downloaded until a hook
   * predicts in the browser. With the edge's models, one per horizon (minutes; `undefined`: the newest
   * activation). */
  predictor: ((horizonMinutes?: number) => Promise<Predictor>) | undefined;
  cache: PredictionCache;
  /** The one stream connection of this client. */
  hub: StreamHub;
  /** Bars requests shared by the hooks. */
  bars: BarsCache;
}

/** One stream hub and one bars cache per edge client (also for hooks used outside a provider). */
const shared = new WeakMap<EdgeClient, { hub: StreamHub; bars: BarsCache }>();
function sharedOf(client: EdgeClient): { hub: StreamHub; bars: BarsCache } {
  let s = shared.get(client);
  if (!s) {
    s = { hub: new StreamHub(client), bars: new BarsCache(client) };
    shared.set(client, s);
  }
  return s;
}

const MtfContext = createContext<MtfContextValue | undefined>(undefined);

/**
 * Loads a model through the edge's registry: metadata first, then the artifact verified by its SHA-256. The
 * edge holds one active model per horizon: `horizonMinutes` picks it (an `edge` error naming the served
 * horizons when none predicts it); without it, the newest activation.
 */
export async function loadActiveModel(client: EdgeClient, backend: BackendRequest = "auto", horizonMinutes?: number): Promise<Predictor> {
  const { model } = await client.activeModel(horizonMinutes);
  return loadPredictor({ model: client.url(model.artifact_url), sha256: model.sha256, backend });
}

/** Props of {@link MtfProvider}. */
export interface MtfProviderProps {
  /** Edge origin (`""` = same origin) or a client. */
  edge?: string | EdgeClient;
  /** The model; omit to use the edge's active models (one per horizon, each loaded when a hook asks for it). */
  model?: ModelSource;
  backend?: BackendRequest;
  /** Prediction cache time-to-live, 60–300 s (default 60 s). */
  predictionTtlMs?: number;
  children?: ReactNode;
}

/** Shares one edge client, one loaded model (loaded once), one prediction cache, one stream connection and
 * one bars cache. */
export function MtfProvider(props: MtfProviderProps): ReactNode {
  const { edge = "", model, backend = "auto", predictionTtlMs } = props;
  const client = useMemo(() => (typeof edge === "string" ? new EdgeClient(edge) : edge), [edge]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the predictor is loaded once per edge client; a changed model or backend prop takes effect on remount (documented)
  const predictor = useMemo(() => {
    // Loaded once per provider and horizon, on first use (change `key` to reload). A fixed artifact is one model
    // whatever the horizon (the hooks check its horizon).
    const loaded = new Map<number | undefined, Promise<Predictor>>();
    // One load per artifact: the newest activation and the model of its horizon are the same bytes.
    const bySha = new Map<string, Promise<Predictor>>();
    const fromEdge = async (horizonMinutes?: number) => {
      const { model: m } = await client.activeModel(horizonMinutes);
      let p = bySha.get(m.sha256);
      if (!p) {
        p = loadPredictor({ model: client.url(m.artifact_url), sha256: m.sha256, backend });
        bySha.set(m.sha256, p);
      }
      return p;
    };
    const edgeModels = !model || "fromEdge" in model;
    return (horizonMinutes?: number) => {
      const key = edgeModels ? horizonMinutes : undefined;
      let p = loaded.get(key);
      if (!p) {
        p = !model || "fromEdge" in model ? fromEdge(key) : loadPredictor({ ...model, backend });
        p.catch(() => undefined); // surfaced through the hooks' `error`
        loaded.set(key, p);
      }
      return p;
    };
  }, [client]);
  const cache = useMemo(() => new PredictionCache(predictionTtlMs), [predictionTtlMs]);
  const value = useMemo(() => ({ client, predictor, cache, ...sharedOf(client) }), [client, predictor, cache]);
  return createElement(MtfContext.Provider, { value }, props.children);
}

function useMtf(): MtfContextValue {
  const ctx = useContext(MtfContext);
  const fallback = useMemo(() => {
    const client = new EdgeClient("");
    return { client, predictor: undefined, cache: new PredictionCache(), ...sharedOf(client) };
  }, []);
  return ctx ?? fallback;
}

/** The hub and bars cache of `client` (the provider's unless another client is passed). */
function useShared(client: EdgeClient | undefined): { client: EdgeClient; hub: StreamHub; bars: BarsCache } {
  const ctx = useMtf();
  const c = client ?? ctx.client;
  return c === ctx.client ? { client: c, hub: ctx.hub, bars: ctx.bars } : { client: c, ...sharedOf(c) };
}

/** The provider's predictor: `{ predictor, error }` once loaded. The model is loaded on the first call of a
 * component using it (`enabled: false` does not load it). `horizon` (e.g. `"1d"` or minutes) picks the edge's
 * active model of that horizon; without it, the newest activation. */
export function usePredictor(opts: { enabled?: boolean; horizon?: string | number } = {}): {
  predictor: Predictor | undefined;
  error: string | undefined;
} {
  const { predictor } = useMtf();
  const enabled = opts.enabled ?? true;
  const [horizon, horizonError] = useMemo((): [number | undefined, string | undefined] => {
    if (opts.horizon === undefined) return [undefined, undefined];
    try {
      return [parseHorizonMinutes(opts.horizon), undefined];
    } catch (e) {
      return [undefined, messageOf(e)];
    }
  }, [opts.horizon]);
  const [state, setState] = useState<{ predictor?: Predictor; error?: string }>({});
  useEffect(() => {
    let live = true;
    if (!enabled) return;
    if (!predictor) {
      setState({ error: "no model: wrap the tree in <MtfProvider model=…>" });
      return;
    }
    if (horizonError) {
      setState({ error: horizonError });
      return;
    }
    setState({});
    predictor(horizon).then(
      (p) => live && setState({ predictor: p }),
      (e) => live && setState({ error: messageOf(e) }),
    );
    return () => {
      live = false;
    };
  }, [predictor, enabled, horizon, horizonError]);
  return { predictor: state.predictor, error: state.error };
}

/** Loading state shared by the hooks. */
export type Status = "idle" | "loading" | "ready" | "error";

/** Result of {@link useStockBars}. */
export interface StockBarsState {
  bars: Bar[];
  status: Status;
  error: string | undefined;
  /** True when the edge served a cached copy because Alpaca failed. */
  stale: boolean;
  reload: () => void;
}

/** Bars of one symbol and timeframe from the edge, refreshed every `refreshMs` (default 60 s; 0 = never). */
export function useStockBars(
  symbol: string,
  timeframe: Timeframe,
  opts: { limit?: number; refreshMs?: number; client?: EdgeClient } = {},
): StockBarsState {
  const { client, bars } = useShared(opts.client);
  const [tick, setTick] = useState(0);
  const [state, setState] = useState<Omit<StockBarsState, "reload">>({ bars: [], status: "idle", error: undefined, stale: false });
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick is the refresh trigger (refreshMs); bars belongs to client
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, status: "loading", error: undefined }));
    bars.bars(symbol, timeframe, opts.limit ?? 500).then(
      (r) => live && setState({ bars: r.bars, status: "ready", error: undefined, stale: r.stale === true }),
      (e) => live && setState((s) => ({ ...s, status: "error", error: messageOf(e) })),
    );
    const refresh = opts.refreshMs ?? 60_000;
    const timer = refresh > 0 ? setInterval(() => setTick((t) => t + 1), refresh) : undefined;
    return () => {
      live = false;
      if (timer) clearInterval(timer);
    };
  }, [client, symbol, timeframe, opts.limit, opts.refreshMs, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** Result of {@link useLiveStream}. */
export interface LiveStreamState {
  /** See {@link StreamStatus}: `stalled` is connected to the edge while its market-data source is down. */
  status: StreamStatus;
  /** The last frame received. */
  lastFrame: StreamMessage[] | undefined;
  lastTrade: StreamMessage | undefined;
  lastBar: StreamMessage | undefined;
  /** Frames received since mount. */
  frames: number;
  error: string | undefined;
}

/**
 * Subscribes to the edge's stream for symbols through the provider's one connection (shared by every hook;
 * reconnects with backoff, 1 s doubling to 30 s). `onFrame` sees every frame; the state keeps the last ones.
 */
export function useLiveStream(
  symbols: string[],
  opts: { client?: EdgeClient; enabled?: boolean; onFrame?: (frame: StreamMessage[]) => void } = {},
): LiveStreamState {
  const { hub } = useShared(opts.client);
  const key = symbols
    .map((s) => s.toUpperCase())
    .sort()
    .join(",");
  const [state, setState] = useState<LiveStreamState>({
    status: "connecting",
    lastFrame: undefined,
    lastTrade: undefined,
    lastBar: undefined,
    frames: 0,
    error: undefined,
  });
  const onFrame = useRef(opts.onFrame);
  onFrame.current = opts.onFrame;
  useEffect(() => {
    if (opts.enabled === false || key === "") return;
    return hub.subscribe(
      key.split(","),
      (frame) => {
        onFrame.current?.(frame);
        setState((s) => ({
          ...s,
          lastFrame: frame,
          lastTrade: [...frame].reverse().find((m) => m.T === "t") ?? s.lastTrade,
          lastBar: [...frame].reverse().find((m) => m.T === "b" || m.T === "u") ?? s.lastBar,
          frames: s.frames + 1,
        }));
      },
      (status: StreamStatus, why) => setState((s) => ({ ...s, status, error: status === "open" ? undefined : why || s.error })),
    );
  }, [hub, key, opts.enabled]);
  return state;
}

/** Options of {@link useMLPrediction}. */
export interface MLPredictionOptions {
  /** Timeframes to fetch from the edge; the finest intraday one is fetched and the others resampled. Default: the model's. */
  timeframes?: Timeframe[];
  /**
   * Horizon (e.g. `"1h"`, `"1d"`, `"5d"` or minutes). With the edge's models it picks the active model of that
   * horizon (in the browser and at the edge; the error names the served horizons when none predicts it); a fixed
   * artifact must predict it, which is checked. Default: the newest activation (or the artifact's).
   */
  horizon?: string | number;
  /**
   * Live data: `true` subscribes to the edge stream itself; a stream message or frame (e.g. `lastTrade` from
   * `useLiveStream`) is fed to the live session whenever it changes. A prediction is made when a base bar closes.
   */
  realTimeData?: boolean | StreamMessage | StreamMessage[];
  /** Bars to predict from instead of fetching them from the edge. */
  bars?: BarsByTimeframe;
  /** Store each new prediction at the edge (with the page's session token: a registered model, live times). */
  persist?: boolean;
  /** Refetch and re-predict every `refreshMs` when not live (default 60 s; 0 = never). */
  refreshMs?: number;
  /**
   * Where the prediction is computed: `"browser"` (the provider's wasm model), `"edge"` (`POST /api/v1/predict`
   * on the worker: no wasm download), or `"auto"` (default): the browser, and the edge
   * when the wasm module or the model cannot load there. `bars` and `realTimeData` apply to the browser only.
   */
  where?: "browser" | "edge" | "auto";
}

/** Result of {@link useMLPrediction}, in the roadmap's shape. */
export interface MLPredictionState {
  prediction: Prediction | undefined;
  /** Probability of the predicted direction (0–1). */
  confidence: number | undefined;
  signal: Signal | undefined;
  attention: Prediction["attention"] | undefined;
  /** `webgpu` or `cpu` (with the reason after a fallback), or `edge` (with the reason when it is a fallback). */
  backend: string | undefined;
  status: Status;
  error: string | undefined;
  /** True when `prediction` is the last valid one, shown because the latest attempt failed. */
  stale: boolean;
  /** Milliseconds of the last prediction (bars in → prediction out); for one from the provider's cache, of the
   * computation that made it. */
  latencyMs: number | undefined;
  /** The history the last prediction was computed from (fetched from the edge, or `bars`). */
  inputs: BarsByTimeframe | undefined;
}

/**
 * Predicts for a symbol in the browser: fetches the history the model needs from the edge (or uses `bars`),
 * predicts with the provider's model, caches predictions per symbol and horizon for the cache's TTL, and on
 * failure keeps returning the last valid prediction marked `stale` with the `error`.
 */
export function useMLPrediction(symbol: string, opts: MLPredictionOptions = {}): MLPredictionState {
  const ctx = useMtf();
  // `where: "edge"` never loads the browser model.
  const { predictor, error: loadError } = usePredictor({ enabled: opts.where !== "edge", horizon: opts.horizon });
  const [state, setState] = useState<MLPredictionState>({
    prediction: undefined,
    confidence: undefined,
    signal: undefined,
    attention: undefined,
    backend: undefined,
    status: "idle",
    error: undefined,
    stale: false,
    latencyMs: undefined,
    inputs: undefined,
  });
  const [tick, setTick] = useState(0);
  const session = useRef<{ key: string; live: LiveSession } | undefined>(undefined);
  const chain = useRef<Promise<void>>(Promise.resolve());
  const pending = useRef<StreamMessage[][]>([]);
  const feedRef = useRef<(frame: StreamMessage[]) => void>(() => undefined);
  const edgeKey = useRef<string | undefined>(undefined);
  const tfKey = (opts.timeframes ?? []).join(",");
  const live = opts.realTimeData === true;

  const publish = (p: Prediction, latencyMs: number | undefined, from: Partial<MLPredictionState> = {}) => {
    setState((s) => ({
      ...s,
      prediction: p,
      confidence: p.confidence,
      signal: p.signal,
      attention: p.attention,
      backend: predictor?.backend,
      status: "ready",
      error: undefined,
      stale: false,
      latencyMs,
      ...from,
    }));
  };
  const fail = (e: unknown, horizonKey: string) => {
    const last = ctx.cache.last(symbol, horizonKey)?.prediction;
    setState((s) => ({
      ...s,
      prediction: last ?? s.prediction,
      confidence: (last ?? s.prediction)?.confidence,
      signal: (last ?? s.prediction)?.signal,
      attention: (last ?? s.prediction)?.attention,
      status: "error",
      error: messageOf(e),
      stale: (last ?? s.prediction) !== undefined,
    }));
  };

  // The edge path: one POST /api/v1/predict per refresh; the edge caches, and serves its last valid prediction
  // (stale) when its model or Alpaca fails.
  const predictAtEdge = (backend: string) => {
    let cancelled = false;
    const horizon = opts.horizon === undefined ? undefined : parseHorizonMinutes(opts.horizon);
    setState((s) => ({ ...s, status: "loading", backend }));
    const t0 = performance.now();
    ctx.client
      .predict(symbol, { horizon })
      .then((r) => {
        const e = r.predictions[0];
        if (cancelled || !e) return;
        if (!e.prediction) throw new MtfError("edge", e.error?.message ?? `${symbol}: no prediction`);
        const p = e.prediction;
        edgeKey.current = `${p.horizon.minutes}m@${p.modelVersion}`;
        ctx.cache.set(symbol, edgeKey.current, p);
        publish(p, performance.now() - t0, {
          backend,
          error: e.stale ? r.warnings.join("; ") || "the edge served its last valid prediction" : undefined,
          stale: e.stale,
          inputs: undefined,
        });
      })
      // The last prediction the edge gave (its cache key) is the fallback.
      .catch((e) => !cancelled && fail(e, edgeKey.current ?? ""));
    const refresh = opts.refreshMs ?? 60_000;
    const timer = refresh > 0 ? setInterval(() => setTick((t) => t + 1), refresh) : undefined;
    return () => {
      cancelled = true;
      if (timer) clearInterval(timer);
    };
  };

  // History → prediction (and the seed of the live session).
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-runs on the request's inputs and the refresh tick; ctx, publish and fail are stable for the provider's lifetime
  useEffect(() => {
    const where = opts.where ?? "auto";
    if (where === "edge" || (where === "auto" && loadError)) {
      const backend = where === "edge" ? "edge" : `edge (browser model unavailable: ${loadError})`;
      return predictAtEdge(backend);
    }
    if (loadError) {
      setState((s) => ({ ...s, status: "error", error: loadError }));
      return;
    }
    if (!predictor) {
      setState((s) => ({ ...s, status: "loading" }));
      return;
    }
    let cancelled = false;
    const info = predictor.info;
    const modelHorizon = info.horizon_minutes;
    const horizonKey = `${modelHorizon}m@${predictor.version}`;
    (async () => {
      if (opts.horizon !== undefined && parseHorizonMinutes(opts.horizon) !== modelHorizon) {
        throw new MtfError(
          "input",
          `model ${predictor.version} predicts ${modelHorizon} minutes ahead; horizon ${opts.horizon} is not available`,
        );
      }
      setState((s) => ({ ...s, status: "loading", backend: predictor.backend }));
      let bars: BarsByTimeframe;
      if (opts.bars) bars = opts.bars;
      else {
        const tfs = (tfKey ? (tfKey.split(",") as Timeframe[]) : info.data.timeframes).filter(
          (t) => info.data.timeframes.includes(t) || t === "1m",
        );
        const plan = planFetch(tfs.length ? tfs : info.data.timeframes, info.data.lookback, info.warmup_bars);
        bars = {};
        const jobs: Promise<void>[] = [];
        if (plan.intraday) {
          const it = plan.intraday;
          jobs.push(
            ctx.bars.bars(symbol, it.timeframe, it.limit).then((r) => {
              bars[it.timeframe] = r.bars;
            }),
          );
        }
        if (plan.daily)
          jobs.push(
            ctx.bars.bars(symbol, "1d", plan.daily.limit).then((r) => {
              bars["1d"] = r.bars;
            }),
          );
        await Promise.all(jobs);
      }
      const lastBar = Object.values(bars)
        .flatMap((b) => (b?.length ? [b[b.length - 1]!.t] : []))
        .sort()
        .pop();
      if (!cancelled) setState((s) => ({ ...s, inputs: bars }));
      const cached = ctx.cache.get(symbol, horizonKey);
      if (cached && lastBar !== undefined && cached.predictionTime >= lastBar) {
        // (Another hook of the provider may have computed it: its computation's latency.)
        if (!cancelled) publish(cached, ctx.cache.last(symbol, horizonKey)?.latencyMs);
      } else {
        const p = await predictor.predict({ symbol, bars });
        ctx.cache.set(symbol, horizonKey, p, predictor.lastLatencyMs);
        if (!cancelled) publish(p, predictor.lastLatencyMs);
        if (opts.persist) ctx.client.savePredictions(p).catch(() => undefined);
      }
      if (live && !cancelled) {
        session.current?.live.free();
        session.current = { key: symbol, live: predictor.liveSession(symbol, bars) };
        const early = pending.current.splice(0);
        for (const f of early) feedRef.current(f);
      }
    })().catch((e) => !cancelled && fail(e, horizonKey));
    const refresh = opts.refreshMs ?? 60_000;
    const timer = !live && refresh > 0 ? setInterval(() => setTick((t) => t + 1), refresh) : undefined;
    return () => {
      cancelled = true;
      if (timer) clearInterval(timer);
    };
  }, [predictor, loadError, symbol, tfKey, opts.horizon, opts.bars, opts.where, live, tick]);

  // Live frames → live session → prediction on base-bar close. Frames are applied one after the other (a
  // frame's push finishes before the next starts), every frame of the shared stream, none dropped between
  // renders; frames that arrive before the session is seeded wait for it.
  const feed = (frame: StreamMessage[]) => {
    const s = session.current;
    if (!s || !predictor || s.key !== symbol) {
      if (pending.current.length < 1000) pending.current.push(frame);
      return;
    }
    const horizonKey = `${predictor.info.horizon_minutes}m@${predictor.version}`;
    chain.current = chain.current.then(() =>
      s.live.push(frame).then(
        (p) => {
          if (!p || session.current !== s) return;
          ctx.cache.set(symbol, horizonKey, p, s.live.latencyMs);
          publish(p, s.live.latencyMs);
          if (opts.persist) ctx.client.savePredictions(p).catch(() => undefined);
        },
        (e) => fail(e, horizonKey),
      ),
    );
  };
  feedRef.current = feed;
  useEffect(() => {
    pending.current = [];
    if (!live || !predictor) return;
    return ctx.hub.subscribe([symbol], (frame) => feedRef.current(frame));
  }, [ctx.hub, symbol, live, predictor]);
  const external = typeof opts.realTimeData === "object" ? opts.realTimeData : undefined;
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs once per external frame (feed reads the current session)
  useEffect(() => {
    if (external) feed(Array.isArray(external) ? external : [external]);
  }, [external]);

  useEffect(() => () => session.current?.live.free(), []);
  return state;
}

/** Result of {@link useLiveBars}. */
export interface LiveBarsState {
  /** Complete bars, oldest first, then the bar in progress (live only). */
  bars: Bar[];
  status: Status;
  error: string | undefined;
  /** True when the edge served a cached copy because Alpaca failed. */
  stale: boolean;
  /** Stream frames applied. */
  frames: number;
}

/**
 * Bars of one symbol and timeframe kept live: REST history from the edge, then (when `live`) every stream
 * frame folded in by the wasm `LiveBars` (trades, minute bars and Alpaca's corrections, on training's New York
 * buckets); the bucket in progress is rebuilt from its minutes. Without `live` it refreshes every `refreshMs`.
 */
export function useLiveBars(
  symbol: string,
  timeframe: Timeframe,
  opts: { limit?: number; live?: boolean; refreshMs?: number; session?: "regular" | "extended"; client?: EdgeClient } = {},
): LiveBarsState {
  const { hub, bars: cache } = useShared(opts.client);
  const live = opts.live === true;
  const limit = opts.limit ?? 500;
  const [tick, setTick] = useState(0);
  const [state, setState] = useState<LiveBarsState>({ bars: [], status: "idle", error: undefined, stale: false, frames: 0 });
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick is the refresh trigger; cache and hub belong to the client
  useEffect(() => {
    let on = true;
    let builder: LiveBars | undefined;
    let unsubscribe: (() => void) | undefined;
    const early: StreamMessage[][] = [];
    const apply = (frame: StreamMessage[]) => {
      if (!builder) {
        if (early.length < 1000) early.push(frame);
        return;
      }
      try {
        builder.push(frame);
        const b = builder.bars(timeframe);
        setState((s) => ({ ...s, bars: b, frames: s.frames + 1 }));
      } catch (e) {
        setState((s) => ({ ...s, error: messageOf(e) }));
      }
    };
    setState((s) => ({ ...s, status: "loading", error: undefined }));
    if (live) unsubscribe = hub.subscribe([symbol], apply);
    (async () => {
      const history = await cache.bars(symbol, timeframe, limit);
      if (!live) {
        if (on) setState((s) => ({ ...s, bars: history.bars, status: "ready", stale: history.stale === true }));
        return;
      }
      // The bucket in progress is rebuilt from its minutes: the last two buckets' worth (at most one page).
      const minutes =
        timeframe === "1m" ? history.bars : (await cache.bars(symbol, "1m", Math.min(1000, 2 * timeframeMinutes(timeframe)))).bars;
      const b = await LiveBars.create(symbol, [timeframe], { session: opts.session, history: limit });
      if (!on) return b.free();
      const open = history.bars.length > 0 ? history.bars[history.bars.length - 1]! : undefined;
      // The newest REST bar may be the bucket in progress: keep only complete ones as history.
      const complete = open && minutes.length > 0 && minutes[minutes.length - 1]!.t >= open.t ? history.bars.slice(0, -1) : history.bars;
      if (timeframe !== "1m") b.seed(timeframe, complete);
      b.seedMinutes(minutes);
      builder = b;
      setState((s) => ({ ...s, bars: b.bars(timeframe), status: "ready", stale: history.stale === true }));
      for (const f of early.splice(0)) apply(f);
    })().catch((e) => on && setState((s) => ({ ...s, status: "error", error: messageOf(e) })));
    const refresh = opts.refreshMs ?? 60_000;
    const timer = !live && refresh > 0 ? setInterval(() => setTick((t) => t + 1), refresh) : undefined;
    return () => {
      on = false;
      unsubscribe?.();
      if (timer) clearInterval(timer);
      builder?.free();
    };
  }, [symbol, timeframe, limit, live, opts.session, opts.refreshMs, tick]);
  return state;
}

/** Result of {@link usePredictionHistory}. */
export interface PredictionHistoryState {
  /** Stored predictions of the symbol, newest first, with their outcome once scored. */
  predictions: StoredPrediction[];
  status: Status;
  error: string | undefined;
  /** Refetch now (e.g. after a new prediction was stored). */
  reload: () => void;
}

/** The predictions the edge stored for a symbol, refreshed every `refreshMs` (default 10 s; 0 = never). */
export function usePredictionHistory(
  symbol: string,
  opts: { limit?: number; refreshMs?: number; client?: EdgeClient } = {},
): PredictionHistoryState {
  const { client } = useShared(opts.client);
  const [tick, setTick] = useState(0);
  const [state, setState] = useState<Omit<PredictionHistoryState, "reload">>({ predictions: [], status: "idle", error: undefined });
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick is the refresh trigger
  useEffect(() => {
    let on = true;
    setState((s) => ({ ...s, status: "loading" }));
    client.predictions(symbol, opts.limit ?? 50).then(
      (r) => on && setState({ predictions: r.predictions, status: "ready", error: undefined }),
      (e) => on && setState({ predictions: [], status: "error", error: messageOf(e) }),
    );
    const refresh = opts.refreshMs ?? 10_000;
    const timer = refresh > 0 ? setTimeout(() => setTick((t) => t + 1), refresh) : undefined;
    return () => {
      on = false;
      if (timer) clearTimeout(timer);
    };
  }, [client, symbol, opts.limit, opts.refreshMs, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** Result of {@link useModels}. */
export interface ModelsState {
  /** Registered versions, newest first (the active one flagged). */
  models: ModelVersion[];
  status: Status;
  error: string | undefined;
  reload: () => void;
}

/** The edge's model registry, refreshed every `refreshMs` (default 0 = on `reload` only). */
export function useModels(opts: { refreshMs?: number; client?: EdgeClient } = {}): ModelsState {
  const { client } = useShared(opts.client);
  const [tick, setTick] = useState(0);
  const [state, setState] = useState<Omit<ModelsState, "reload">>({ models: [], status: "idle", error: undefined });
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick is the refresh trigger
  useEffect(() => {
    let on = true;
    setState((s) => ({ ...s, status: "loading" }));
    client.models().then(
      (r) => on && setState({ models: r.models, status: "ready", error: undefined }),
      (e) => on && setState((s) => ({ ...s, status: "error", error: messageOf(e) })),
    );
    const refresh = opts.refreshMs ?? 0;
    const timer = refresh > 0 ? setTimeout(() => setTick((t) => t + 1), refresh) : undefined;
    return () => {
      on = false;
      if (timer) clearTimeout(timer);
    };
  }, [client, opts.refreshMs, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}
