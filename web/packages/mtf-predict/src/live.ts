/**
 * Live bars of any timeframe from the edge's stream, built by the Rust `mtf_market::live::LiveBars` in the wasm
 * module (the CPU build, loaded once): trades, minute bars and Alpaca's updated bars (corrections) on the same
 * New York buckets as training, so a chart and the model see the same bars.
 */
import { MtfError, messageOf } from "./errors.js";
import { loadWasm } from "./predictor.js";
import type { Bar, LiveBarsUpdate, StreamMessage, Timeframe } from "./types.js";

type WasmLiveBars = InstanceType<Awaited<ReturnType<typeof loadWasm>>["LiveBars"]>;

function input<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new MtfError("input", messageOf(e));
  }
}

/** Live bars of one symbol. Methods throw an `MtfError` (`input`) naming what is wrong. */
export class LiveBars {
  private constructor(private readonly inner: WasmLiveBars) {}

  /** A builder for `symbol` in `timeframes` (1m always), keeping `history` complete bars per timeframe. */
  static async create(
    symbol: string,
    timeframes: Timeframe[],
    opts: { session?: "regular" | "extended"; history?: number } = {},
  ): Promise<LiveBars> {
    const mod = await loadWasm("cpu");
    return new LiveBars(input(() => new mod.LiveBars(symbol, timeframes, opts.session, opts.history)));
  }

  /** Replaces the complete history of a timeframe with REST bars (oldest first). */
  seed(timeframe: Timeframe, bars: Bar[]): void {
    input(() => this.inner.seed(timeframe, bars));
  }

  /** Replays recent REST minutes (oldest first) so that the bucket in progress is built from its minutes. */
  seedMinutes(minutes: Bar[]): void {
    input(() => this.inner.seedMinutes(minutes));
  }

  /** Applies one stream frame; returns which timeframes got a closed or a corrected bar. */
  push(frame: StreamMessage[]): LiveBarsUpdate {
    return input(() => this.inner.push(frame));
  }

  /** Complete bars of a timeframe, oldest first, then the bar in progress unless `current` is false. */
  bars(timeframe: Timeframe, current = true): Bar[] {
    return input(() => this.inner.bars(timeframe, current));
  }

  free(): void {
    this.inner.free();
  }
}
