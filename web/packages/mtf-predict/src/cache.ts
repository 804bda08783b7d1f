/**
 * Caches: the model artifact in Cache Storage (verified by SHA-256 before use) and predictions in memory
 * (time-to-live per symbol and horizon, plus the last valid prediction for stale fallback).
 */
import type { BarsResponse, EdgeClient } from "./edge.js";
import { MtfError } from "./errors.js";
import type { Prediction, Timeframe } from "./types.js";

/** Lower-case hex SHA-256 of bytes (Web Crypto; browsers and Node ≥ 20). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Options of {@link fetchArtifact}. */
export interface ArtifactFetchOptions {
  /** Expected SHA-256 (hex). When given, bytes that do not match are rejected and never cached. */
  sha256?: string;
  /** Cache Storage bucket; `false` disables caching. Default `"mtf-models-v1"`. */
  cacheName?: string | false;
  /** `fetch` to use (tests, custom auth). */
  fetch?: typeof fetch;
  /** Cache Storage to use (tests); default `globalThis.caches`. */
  caches?: CacheStorage;
}

/** Where the artifact bytes came from. */
export type ArtifactSource = "cache" | "network";

/**
 * Fetches a model artifact, through Cache Storage. A cached copy is used only if its SHA-256 matches the expected
 * one (when given); a mismatching cached copy is deleted and fetched again. Network bytes are verified before
 * they are cached. Without an expected hash the artifact's own embedded checksum is still checked on load.
 */
export async function fetchArtifact(
  url: string,
  opts: ArtifactFetchOptions = {},
): Promise<{ bytes: Uint8Array; sha256: string; source: ArtifactSource }> {
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const storage = opts.cacheName === false ? undefined : (opts.caches ?? globalThis.caches);
  const cacheName = typeof opts.cacheName === "string" ? opts.cacheName : "mtf-models-v1";
  const expected = opts.sha256?.toLowerCase();
  const cache = storage ? await storage.open(cacheName).catch(() => undefined) : undefined;
  if (cache) {
    const hit = await cache.match(url);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      const sha = await sha256Hex(bytes);
      if (!expected || sha === expected) return { bytes, sha256: sha, source: "cache" };
      await cache.delete(url);
    }
  }
  let res: Response;
  try {
    res = await doFetch(url);
  } catch (e) {
    throw new MtfError("network", `could not fetch the model artifact ${url}: ${String(e)}`);
  }
  if (!res.ok) throw new MtfError("artifact", `could not fetch the model artifact ${url}: HTTP ${res.status}`, res.status);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const sha = await sha256Hex(bytes);
  if (expected && sha !== expected) {
    throw new MtfError("artifact", `model artifact ${url} has SHA-256 ${sha}, expected ${expected}; not used`);
  }
  if (cache) {
    await cache
      .put(url, new Response(bytes as BodyInit, { headers: { "content-type": "application/octet-stream" } }))
      .catch(() => undefined); // quota or opaque storage: run uncached
  }
  return { bytes, sha256: sha, source: "network" };
}

/** A prediction as held by the cache. */
export interface CachedPrediction {
  prediction: Prediction;
  /** `Date.now()` when it was computed. */
  storedAt: number;
  /** Milliseconds its computation took (bars in → prediction out), when known. */
  latencyMs?: number;
}

/**
 * In-memory prediction cache keyed by symbol and horizon. `get` returns a fresh entry (younger than `ttlMs`,
 * clamped to 1–5 minutes, and computed for the same latest bar); `last` returns the last valid prediction
 * regardless of age, for stale fallback.
 */
export class PredictionCache {
  readonly ttlMs: number;
  private readonly entries = new Map<string, CachedPrediction>();
  private readonly now: () => number;

  constructor(ttlMs = 60_000, now: () => number = Date.now) {
    this.ttlMs = Math.min(300_000, Math.max(60_000, ttlMs));
    this.now = now;
  }

  static key(symbol: string, horizon: string | number): string {
    return `${symbol.toUpperCase()}|${horizon}`;
  }

  /** A fresh prediction, or undefined. `lastBarStart` (when given) must match the cached one. */
  get(symbol: string, horizon: string | number, lastBarStart?: string): Prediction | undefined {
    const e = this.entries.get(PredictionCache.key(symbol, horizon));
    if (!e || this.now() - e.storedAt >= this.ttlMs) return undefined;
    if (lastBarStart !== undefined && e.prediction.lastBarStart !== lastBarStart) return undefined;
    return e.prediction;
  }

  /** The last valid prediction whatever its age. */
  last(symbol: string, horizon: string | number): CachedPrediction | undefined {
    return this.entries.get(PredictionCache.key(symbol, horizon));
  }

  set(symbol: string, horizon: string | number, prediction: Prediction, latencyMs?: number): void {
    this.entries.set(PredictionCache.key(symbol, horizon), { prediction, storedAt: this.now(), latencyMs });
  }
}

/**
 * Bars requests shared by the hooks of one provider: a request for (symbol, timeframe) is answered from a
 * request made less than `maxAgeMs` ago (in flight or done) when that one asked for at least as many bars, so
 * two hooks that need the same minutes fetch them once.
 */
export class BarsCache {
  private readonly entries = new Map<string, { at: number; limit: number; promise: Promise<BarsResponse> }>();

  constructor(
    private readonly client: EdgeClient,
    readonly maxAgeMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The newest `limit` bars of a symbol and timeframe. */
  bars(symbol: string, timeframe: Timeframe, limit: number): Promise<BarsResponse> {
    const key = `${symbol.toUpperCase()}|${timeframe}`;
    const t = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.limit >= limit && t - hit.at <= this.maxAgeMs) {
      return hit.promise.then((r) => ({ ...r, bars: r.bars.slice(-limit) }));
    }
    const promise = this.client.bars(symbol, timeframe, { limit });
    this.entries.set(key, { at: t, limit, promise });
    promise.catch(() => {
      if (this.entries.get(key)?.promise === promise) this.entries.delete(key);
    });
    return promise;
  }
}
