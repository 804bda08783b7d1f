/**
 * Client of the mtf edge API (the Cloudflare Worker in `edge-worker/`, documented in its `openapi.yaml`).
 * Every method rejects with an `MtfError` (`edge` with the HTTP status and the server's message, or `network`).
 */
import { MtfError, messageOf } from "./errors.js";
import type {
  ModelHealth,
  ModelResponse,
  ModelsResponse,
  ModelVersion,
  Performance,
  PredictionsResponse,
  PredictResponse,
  RetrainsResponse,
  SessionResponse,
  StreamHello,
  StreamStatusMessage,
} from "./generated/edge.js";
import type { Bar, Prediction, StreamMessage, Timeframe } from "./types.js";

/** The active versions of a registry listing (one per horizon), shortest horizon first. */
export function activeByHorizon(models: ModelVersion[]): ModelVersion[] {
  return models.filter((m) => m.active && m.horizon_minutes != null).sort((a, b) => (a.horizon_minutes ?? 0) - (b.horizon_minutes ?? 0));
}

/** Bars as the edge returns them. `stale` is true when Alpaca failed and a cached copy was served. */
export interface BarsResponse {
  symbol: string;
  timeframe: Timeframe;
  bars: Bar[];
  stale?: boolean;
}

/** Latest quote and trade of a symbol. */
export interface QuoteResponse {
  symbol: string;
  quote: { t: string; bp: number; bs: number; ap: number; as: number; [k: string]: unknown } | null;
  trade: { t: string; p: number; s: number; [k: string]: unknown } | null;
  stale?: boolean;
}

/** News items (Alpaca's shape). */
export interface NewsResponse {
  news: { id: number; headline: string; summary?: string; created_at: string; symbols: string[]; url?: string; source?: string }[];
  stale?: boolean;
}

// Response bodies of the edge's routes, generated from edge-worker/src/wire.rs (the retrain records and model
// health from their definitions in crates/retrain).
export type {
  Candidate,
  Check,
  DailyPoint,
  Decision,
  EntryError,
  HorizonHealth,
  InputRange,
  ModelHealth,
  ModelResponse,
  ModelsResponse,
  ModelVersion,
  Performance as ModelPerformance,
  PredictEntry,
  PredictionsResponse,
  PredictResponse,
  RetrainRecord,
  RetrainsResponse,
  Score,
  ServedModel,
  SessionResponse,
  StoredPrediction,
  StreamHello,
  StreamStatusMessage,
  SymbolScore,
  TrainingRow,
  UpstreamState,
  Validation,
  WindowMetrics,
} from "./generated/edge.js";

/** Options of {@link EdgeClient}. */
export interface EdgeClientOptions {
  /**
   * The long-lived client token, for server-side use only (Node tools, tests): **never put it in a page's
   * bundle**. Without it the client asks the edge for a short-lived session token (`POST /api/v1/session`,
   * granted to pages of an allowed origin), renews it before it expires and once more on a 401.
   */
  token?: string;
  /** Admin token for model and training-data writes. */
  adminToken?: string;
  fetch?: typeof fetch;
  /** WebSocket constructor (tests, Node). */
  WebSocket?: typeof WebSocket;
}

/** A subscription to the edge stream. */
export interface StreamHandle {
  close(): void;
  readonly socket: WebSocket;
}

/** Client of the edge API. `baseUrl` is the worker's origin (`""` for same-origin). */
export class EdgeClient {
  readonly baseUrl: string;
  private readonly opts: EdgeClientOptions;
  private session: { token: string; expiresMs: number } | undefined;
  private sessionRequest: Promise<string | undefined> | undefined;
  /** Whether the edge has no session route (an older or stand-in edge): requests then go without a token. */
  private noSessions = false;

  constructor(baseUrl = "", opts: EdgeClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.opts = opts;
  }

  /** Absolute URL of a path on the edge. */
  url(path: string, query?: Record<string, string | number | undefined>): string {
    const q = query
      ? Object.entries(query)
          .filter(([, v]) => v !== undefined && v !== "")
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
          .join("&")
      : "";
    return `${this.baseUrl}${path}${q ? `?${q}` : ""}`;
  }

  /**
   * The token for the edge's data, predict and write routes: the client token when one was given, else a
   * session token from `POST /api/v1/session` (cached until a minute before it expires; concurrent callers
   * share one request). `undefined` when the edge has no session route.
   */
  async sessionToken(): Promise<string | undefined> {
    const known = this.cachedToken();
    if (known !== null) return known;
    this.sessionRequest ??= this.newSession().finally(() => {
      this.sessionRequest = undefined;
    });
    return this.sessionRequest;
  }

  /** The token when it is known without asking the edge (`undefined`: none is needed), else `null`. */
  cachedToken(): string | undefined | null {
    if (this.opts.token) return this.opts.token;
    if (this.noSessions) return undefined;
    if (this.session && this.session.expiresMs - 60_000 > Date.now()) return this.session.token;
    return null;
  }

  /** Forgets a session token the edge refused (expired, or issued to another address). */
  dropSession(token?: string): void {
    if (this.session && (token === undefined || this.session.token === token)) this.session = undefined;
  }

  private async newSession(): Promise<string | undefined> {
    try {
      const s = await this.send<SessionResponse>("POST", "/api/v1/session", {});
      if (typeof s.token !== "string" || !Number.isFinite(Date.parse(s.expires_at)))
        throw new MtfError("edge", "POST /api/v1/session: the answer has no token and expiry");
      this.session = { token: s.token, expiresMs: Date.parse(s.expires_at) };
      return s.token;
    } catch (e) {
      if (e instanceof MtfError && e.status === 404) {
        this.noSessions = true;
        return undefined;
      }
      throw e;
    }
  }

  private async request<T>(
    method: string,
    path: string,
    init: { query?: Record<string, string | number | undefined>; body?: unknown; auth?: "session" | "admin" } = {},
  ): Promise<T> {
    if (init.auth !== "session")
      return this.send(method, path, { ...init, token: init.auth === "admin" ? this.opts.adminToken : undefined });
    const token = await this.sessionToken();
    try {
      return await this.send(method, path, { ...init, token });
    } catch (e) {
      // An expired or moved session: one fresh token, one retry.
      if (!(e instanceof MtfError) || e.status !== 401 || this.opts.token || token === undefined) throw e;
      this.dropSession(token);
      return this.send(method, path, { ...init, token: await this.sessionToken() });
    }
  }

  private async send<T>(
    method: string,
    path: string,
    init: { query?: Record<string, string | number | undefined>; body?: unknown; token?: string },
  ): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (init.body !== undefined) headers["content-type"] = "application/json";
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    const doFetch = this.opts.fetch ?? globalThis.fetch.bind(globalThis);
    let res: Response;
    try {
      res = await doFetch(this.url(path, init.query), {
        method,
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
    } catch (e) {
      throw new MtfError("network", `${method} ${path}: ${messageOf(e)}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new MtfError("edge", `${method} ${path}: HTTP ${res.status}${err ? ` ${err.code}: ${err.message}` : ""}`, res.status);
    }
    if (json === undefined) throw new MtfError("edge", `${method} ${path}: response is not JSON`, res.status);
    return json as T;
  }

  /** Bars of one symbol and timeframe, oldest first; the newest `limit` bars in `[start, end]`. */
  bars(symbol: string, timeframe: Timeframe, q: { start?: string; end?: string; limit?: number } = {}): Promise<BarsResponse> {
    return this.request("GET", "/api/v1/bars", { query: { symbol, timeframe, ...q }, auth: "session" });
  }

  quote(symbol: string): Promise<QuoteResponse> {
    return this.request("GET", "/api/v1/quote", { query: { symbol }, auth: "session" });
  }

  news(symbols: string[], limit = 10): Promise<NewsResponse> {
    return this.request("GET", "/api/v1/news", { query: { symbols: symbols.join(","), limit }, auth: "session" });
  }

  /**
   * Stores one prediction or a batch (≤ 100; all or nothing). From a page (a session token) the edge accepts
   * live predictions of a registered model version only, stored as `source: "browser"`.
   */
  savePredictions(p: Prediction | Prediction[]): Promise<{ stored: number }> {
    return this.request("POST", "/api/v1/predictions", { body: p, auth: "session" });
  }

  /**
   * Predictions computed at the edge (`ml-predict`: the same Rust code as the browser build, on the worker's
   * CPU) for 1–100 symbols at `at` (default: the upstream's clock, the end of its newest 1-minute bar of the
   * symbols, at most now) with the active model of `horizon` minutes (default: the
   * newest activation), or `model`. One entry per symbol:
   * a prediction, or an error naming the symbol; `stale: true` when the model or Alpaca failed and the last
   * valid prediction was served.
   */
  predict(symbols: string | string[], q: { horizon?: number; at?: string; model?: string } = {}): Promise<PredictResponse> {
    const list = Array.isArray(symbols) ? symbols : [symbols];
    return this.request("POST", "/api/v1/predict", { body: { symbols: list, ...q }, auth: "session" });
  }

  /** Stored predictions of a symbol, latest first. */
  predictions(symbol: string, limit = 50): Promise<PredictionsResponse & { stale?: boolean }> {
    return this.request("GET", "/api/v1/predictions", { query: { symbol, limit } });
  }

  models(): Promise<ModelsResponse> {
    return this.request("GET", "/api/v1/models");
  }

  /**
   * An active model: the one predicting `horizonMinutes` ahead (the edge holds one active model per horizon;
   * HTTP 404 `no_model_for_horizon`, naming the served horizons, when none does), else the newest activation.
   */
  activeModel(horizonMinutes?: number): Promise<ModelResponse> {
    return this.request("GET", "/api/v1/models/active", { query: { horizon: horizonMinutes } });
  }

  /** The active models, one per horizon, shortest horizon first. */
  async activeModels(): Promise<ModelVersion[]> {
    return activeByHorizon((await this.models()).models);
  }

  /** Activates a version (rollback = activate an older one). Needs the admin token. */
  activateModel(version: string): Promise<ModelResponse> {
    return this.request("POST", `/api/v1/models/${encodeURIComponent(version)}/activate`, { auth: "admin" });
  }

  modelPerformance(version: string): Promise<Performance> {
    return this.request("GET", `/api/v1/models/${encodeURIComponent(version)}/performance`);
  }

  /**
   * Rolling live metrics of a version per horizon (last day, last 7 days, newest 100 scored predictions, and per
   * day for plots) next to its validation numbers; `source` restricts to one origin of predictions (`edge`: the
   * edge's scheduled ones).
   */
  modelHealth(version: string, source?: "edge" | "browser" | "client" | "admin"): Promise<ModelHealth> {
    return this.request("GET", `/api/v1/models/${encodeURIComponent(version)}/health`, { query: { source } });
  }

  /** Retrain records (`mtf retrain`), newest first: inputs, both models' holdout scores, the decision and why. */
  retrains(limit = 20): Promise<RetrainsResponse> {
    return this.request("GET", "/api/v1/retrains", { query: { limit } });
  }

  /** WebSocket URL of the stream for symbols (with `token` as a query parameter: a WebSocket has no headers). */
  streamUrl(symbols: string[], token?: string): string {
    const origin = this.baseUrl || (typeof location !== "undefined" ? location.origin : "");
    const t = token ? `&token=${encodeURIComponent(token)}` : "";
    return `${origin.replace(/^http/, "ws")}/api/v1/stream?symbols=${encodeURIComponent(symbols.join(","))}${t}`;
  }

  /**
   * Subscribes to the edge's shared stream. `onFrame` receives each data frame (an array of Alpaca stream
   * messages: trades `t`, bars `b`, updated bars `u`, and the `connected` greeting); the edge's `status`
   * messages become `onStatus("stalled" | "open", why)` (the edge is connected but its market-data source is
   * not, or is again). Flow control: every frame is acknowledged once `onFrame` has returned, at least every
   * `ack_every` frames the greeting asks for; a reader that falls `max_unacked` frames behind is disconnected
   * by the edge (close code 1008) and reconnects. `token`: from {@link sessionToken} (the edge refuses a stream
   * without one); the shared {@link StreamHub} obtains it.
   */
  stream(
    symbols: string[],
    onFrame: (frame: StreamMessage[]) => void,
    onStatus?: (s: "open" | "stalled" | "closed" | "error", why?: string) => void,
    token?: string,
  ): StreamHandle {
    const WS = this.opts.WebSocket ?? globalThis.WebSocket;
    const socket = new WS(this.streamUrl(symbols, token));
    let received = 0;
    let ackEvery = 1;
    socket.addEventListener("open", () => onStatus?.("open"));
    socket.addEventListener("close", (e) => onStatus?.("closed", (e as CloseEvent).reason));
    socket.addEventListener("error", () => onStatus?.("error", "WebSocket error"));
    socket.addEventListener("message", (e) => {
      let frame: StreamMessage[];
      try {
        const v = JSON.parse(String((e as MessageEvent).data));
        frame = Array.isArray(v) ? v : [v];
      } catch {
        onStatus?.("error", "a stream frame was not JSON");
        return;
      }
      const data: StreamMessage[] = [];
      for (const m of frame) {
        if (m.T === "status") {
          const st = m as unknown as StreamStatusMessage;
          if (st.upstream === "live") onStatus?.("open");
          else if (st.upstream !== "connecting") onStatus?.("stalled", upstreamWhy(st));
        } else {
          if (m.T === "success" && m.msg === "connected") ackEvery = Math.max(1, Number((m as unknown as StreamHello).ack_every) || 1);
          data.push(m);
        }
      }
      try {
        if (data.length > 0) onFrame(data);
      } finally {
        received++;
        if (received % ackEvery === 0 && socket.readyState === 1) socket.send(JSON.stringify({ action: "ack", frames: received }));
      }
    });
    return { socket, close: () => socket.close() };
  }
}

/** What a stream status message says, for a person: the upstream's state, when it retries, and why. */
function upstreamWhy(m: StreamStatusMessage): string {
  const retry = m.retry_in_ms == null ? "" : ` (retrying in ${Math.round(m.retry_in_ms / 1000)} s)`;
  const what = m.upstream === "unavailable" ? "the edge's market-data source refused it" : "the edge's market-data source is reconnecting";
  return `${what}${retry}${m.reason ? `: ${m.reason}` : ""}`;
}
