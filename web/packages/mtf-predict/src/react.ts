/**
 * React hooks over the predictor and the edge client: `useMLPrediction`, `useStockBars`, `useLiveStream`,
 * and `MtfProvider` to share one edge client and one loaded model across a tree.
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
import { PredictionCache } from "./cache.js";
import { EdgeClient } from "./edge.js";
import { MtfError, messageOf } from "./errors.js";
import { type LoadPredictorOptions, loadPredictor, type Predictor } from "./predictor.js";
import { parseHorizonMinutes, planFetch, timeframeMinutes } from "./timeframes.js";
import type { BackendRequest, Bar, BarsByTimeframe, Prediction, Signal, StreamMessage, Timeframe } from "./types.js";

/** What the provider loads: an artifact (URL or bytes, see `loadPredictor`), or the edge's active model. */
export type ModelSource = Omit<LoadPredictorOptions, "backend"> | { fromEdge: true };

interface MtfContextValue {
  client: EdgeClient;
  predictor: Promise<Predictor> | undefined;
  cache: PredictionCache;
}

const MtfContext = createContext<MtfContextValue | undefined>(undefined);

/** Loads a model through the edge's registry: metadata first, then the artifact verified by its SHA-256. */
export async function loadActiveModel(client: EdgeClient, backend: BackendRequest = "auto"): Promise<Predictor> {
  const { model } = await client.activeModel();
  return loadPredictor({ model: client.url(model.artifact_url), sha256: model.sha256, backend });
}

/** Props of {@link MtfProvider}. */
export interface MtfProviderProps {
  /** Edge origin (`""` = same origin) or a client. */
  edge?: string | EdgeClient;
  /** The model; omit to use the edge's active model. */
  model?: ModelSource;
  backend?: BackendRequest;
  /** Prediction cache time-to-live, 60–300 s (default 60 s). */
  predictionTtlMs?: number;
  children?: ReactNode;
}

/** Shares one edge client, one loaded model (loaded once) and one prediction cache. */
export function MtfProvider(props: MtfProviderProps): ReactNode {
  const { edge = "", model, backend = "auto", predictionTtlMs } = props;
  const client = useMemo(() => (typeof edge === "string" ? new EdgeClient(edge) : edge), [edge]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the predictor is loaded once per edge client; a changed model or backend prop takes effect on remount (documented)
  const predictor = useMemo(() => {
    const p = !model || "fromEdge" in model ? loadActiveModel(client, backend) : loadPredictor({ ...model, backend });
    p.catch(() => undefined); // surfaced through the hooks' `error`
    return p;
    // The model is loaded once per provider; change `key` to reload.
  }, [client]);
  const cache = useMemo(() => new PredictionCache(predictionTtlMs), [predictionTtlMs]);
  return createElement(MtfContext.Provider, { value: { client, predictor, cache } }, props.children);
}

function useMtf(): MtfContextValue {
  const ctx = useContext(MtfContext);
  const fallback = useMemo(() => ({ client: new EdgeClient(""), predictor: undefined, cache: new PredictionCache() }), []);
  return ctx ?? fallback;
}

/** The provider's predictor: `{ predictor, error }` once loaded. */
export function usePredictor(): { predictor: Predictor | undefined; error: string | undefined } {
  const { predictor } = useMtf();
  const [state, setState] = useState<{ predictor?: Predictor; error?: string }>({});
  useEffect(() => {
    let live = true;
    if (!predictor) {
      setState({ error: "no model: wrap the tree in <MtfProvider model=…>" });
      return;
    }
    predictor.then(
      (p) => live && setState({ predictor: p }),
      (e) => live && setState({ error: messageOf(e) }),
    );
    return () => {
      live = false;
    };
  }, [predictor]);
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
  const ctx = useMtf();
  const client = opts.client ?? ctx.client;
  const [tick, setTick] = useState(0);
  const [state, setState] = useState<Omit<StockBarsState, "reload">>({ bars: [], status: "idle", error: undefined, stale: false });
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick is the refresh trigger (refreshMs)
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, status: "loading", error: undefined }));
    client.bars(symbol, timeframe, { limit: opts.limit ?? 500 }).then(
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
  status: "connecting" | "open" | "closed" | "error";
  /** The last frame received. */
  lastFrame: StreamMessage[] | undefined;
  lastTrade: StreamMessage | undefined;
  lastBar: StreamMessage | undefined;
  /** Frames received since mount. */
  frames: number;
  error: string | undefined;
}

/** Subscribes to the edge's shared stream for symbols; reconnects with backoff (1 s doubling to 30 s). */
export function useLiveStream(symbols: string[], opts: { client?: EdgeClient; enabled?: boolean } = {}): LiveStreamState {
  const ctx = useMtf();
  const client = opts.client ?? ctx.client;
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
  useEffect(() => {
    if (opts.enabled === false || key === "") return;
    let stopped = false;
    let delay = 1000;
    let handle: ReturnType<EdgeClient["stream"]> | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      setState((s) => ({ ...s, status: "connecting" }));
      handle = client.stream(
        key.split(","),
        (frame) => {
          delay = 1000;
          setState((s) => ({
            ...s,
            lastFrame: frame,
            lastTrade: [...frame].reverse().find((m) => m.T === "t") ?? s.lastTrade,
            lastBar: [...frame].reverse().find((m) => m.T === "b" || m.T === "u") ?? s.lastBar,
            frames: s.frames + 1,
          }));
        },
        (status, why) => {
          if (status === "open") setState((s) => ({ ...s, status: "open", error: undefined }));
          else {
            setState((s) => ({ ...s, status: status === "error" ? "error" : "closed", error: why || s.error }));
            if (!stopped && status === "closed") {
              timer = setTimeout(connect, delay);
              delay = Math.min(30_000, delay * 2);
            }
          }
        },
      );
    };
    connect();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      handle?.close();
    };
  }, [client, key, opts.enabled]);
  return state;
}

/** Options of {@link useMLPrediction}. */
export interface MLPredictionOptions {
  /** Timeframes to fetch from the edge; the finest intraday one is fetched and the others resampled. Default: the model's. */
  timeframes?: Timeframe[];
  /** Horizon (e.g. `"1h"`); must equal the model's, which is checked. Default: the model's. */
  horizon?: string | number;
  /**
   * Live data: `true` subscribes to the edge stream itself; a stream message or frame (e.g. `lastTrade` from
   * `useLiveStream`) is fed to the live session whenever it changes. A prediction is made when a base bar closes.
   */
  realTimeData?: boolean | StreamMessage | StreamMessage[];
  /** Bars to predict from instead of fetching them from the edge. */
  bars?: BarsByTimeframe;
  /** Store each new prediction at the edge (needs a client token on the edge client). */
  persist?: boolean;
  /** Refetch and re-predict every `refreshMs` when not live (default 60 s; 0 = never). */
  refreshMs?: number;
}

/** Result of {@link useMLPrediction}, in the roadmap's shape. */
export interface MLPredictionState {
  prediction: Prediction | undefined;
  /** Probability of the predicted direction (0–1). */
  confidence: number | undefined;
  signal: Signal | undefined;
  attention: Prediction["attention"] | undefined;
  /** `webgpu` or `cpu` (with the reason after a fallback). */
  backend: string | undefined;
  status: Status;
  error: string | undefined;
  /** True when `prediction` is the last valid one, shown because the latest attempt failed. */
  stale: boolean;
  /** Milliseconds of the last prediction (bars in → prediction out). */
  latencyMs: number | undefined;
}

/**
 * Predicts for a symbol in the browser: fetches the history the model needs from the edge (or uses `bars`),
 * predicts with the provider's model, caches predictions per symbol and horizon for the cache's TTL, and on
 * failure keeps returning the last valid prediction marked `stale` with the `error`.
 */
export function useMLPrediction(symbol: string, opts: MLPredictionOptions = {}): MLPredictionState {
  const ctx = useMtf();
  const { predictor, error: loadError } = usePredictor();
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
  });
  const [tick, setTick] = useState(0);
  const session = useRef<{ key: string; live: import("./predictor.js").LiveSession } | undefined>(undefined);
  const tfKey = (opts.timeframes ?? []).join(",");
  const live = opts.realTimeData === true;
  const stream = useLiveStream([symbol], { client: ctx.client, enabled: live && !!predictor });

  const publish = (p: Prediction, latencyMs: number | undefined) => {
    setState({
      prediction: p,
      confidence: p.confidence,
      signal: p.signal,
      attention: p.attention,
      backend: predictor?.backend,
      status: "ready",
      error: undefined,
      stale: false,
      latencyMs,
    });
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

  // History → prediction (and the seed of the live session).
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-runs on the request's inputs and the refresh tick; ctx, publish and fail are stable for the provider's lifetime
  useEffect(() => {
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
    const modelHorizon = info.data.labels.horizon * timeframeMinutes(info.data.base);
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
        const plan = planFetch(tfs.length ? tfs : info.data.timeframes, info.data.lookback);
        bars = {};
        const jobs: Promise<void>[] = [];
        if (plan.intraday) {
          const it = plan.intraday;
          jobs.push(
            ctx.client.bars(symbol, it.timeframe, { limit: it.limit }).then((r) => {
              bars[it.timeframe] = r.bars;
            }),
          );
        }
        if (plan.daily)
          jobs.push(
            ctx.client.bars(symbol, "1d", { limit: plan.daily.limit }).then((r) => {
              bars["1d"] = r.bars;
            }),
          );
        await Promise.all(jobs);
      }
      const lastBar = Object.values(bars)
        .flatMap((b) => (b?.length ? [b[b.length - 1]!.t] : []))
        .sort()
        .pop();
      const cached = ctx.cache.get(symbol, horizonKey);
      if (cached && lastBar !== undefined && cached.predictionTime >= lastBar) {
        if (!cancelled) publish(cached, undefined);
      } else {
        const p = await predictor.predict({ symbol, bars });
        ctx.cache.set(symbol, horizonKey, p);
        if (!cancelled) publish(p, predictor.lastLatencyMs);
        if (opts.persist) ctx.client.savePredictions(p).catch(() => undefined);
      }
      if (live) {
        session.current?.live.free();
        session.current = { key: symbol, live: predictor.liveSession(symbol, bars) };
      }
    })().catch((e) => !cancelled && fail(e, horizonKey));
    const refresh = opts.refreshMs ?? 60_000;
    const timer = !live && refresh > 0 ? setInterval(() => setTick((t) => t + 1), refresh) : undefined;
    return () => {
      cancelled = true;
      if (timer) clearInterval(timer);
    };
  }, [predictor, loadError, symbol, tfKey, opts.horizon, opts.bars, live, tick]);

  // Live frames → live session → prediction on base-bar close.
  const external = typeof opts.realTimeData === "object" ? opts.realTimeData : undefined;
  const frame = live ? stream.lastFrame : external ? (Array.isArray(external) ? external : [external]) : undefined;
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs once per stream frame; predictor and symbol are read as of that render (a symbol change replaces the session)
  useEffect(() => {
    const s = session.current;
    if (!frame || !s || !predictor || s.key !== symbol) return;
    const horizonKey = `${predictor.info.data.labels.horizon * timeframeMinutes(predictor.info.data.base)}m@${predictor.version}`;
    s.live.push(frame).then(
      (p) => {
        if (!p) return;
        ctx.cache.set(symbol, horizonKey, p);
        publish(p, s.live.latencyMs);
        if (opts.persist) ctx.client.savePredictions(p).catch(() => undefined);
      },
      (e) => fail(e, horizonKey),
    );
  }, [frame]);

  useEffect(() => () => session.current?.live.free(), []);
  return state;
}
