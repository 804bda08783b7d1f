/**
 * One WebSocket to the edge's stream shared by every subscriber of a provider (or of a client): subscribers
 * register symbols and a callback, the hub keeps one connection for the union of their symbols (reconnecting
 * with the new list when it changes), delivers **every** frame to every subscriber whose symbols it concerns
 * (no frame is dropped between renders), and reconnects with backoff (1 s doubling to 30 s). The connection is
 * closed when the last subscriber leaves. Frames are acknowledged to the edge after the subscribers' callbacks
 * return (the edge disconnects a reader that falls too far behind; see {@link EdgeClient.stream}).
 */
import type { EdgeClient, StreamHandle } from "./edge.js";
import type { StreamMessage } from "./types.js";

/**
 * Connection state as a subscriber sees it: `stalled` means connected to the edge while the edge's market-data
 * source (Alpaca) is not — no bars arrive until it reconnects, which the edge does by itself.
 */
export type StreamStatus = "connecting" | "open" | "stalled" | "closed" | "error";

/** One subscriber: its symbols (upper case), its frame callback, its status callback. */
interface Subscriber {
  symbols: Set<string>;
  onFrame: (frame: StreamMessage[]) => void;
  onStatus?: (status: StreamStatus, why?: string) => void;
}

/** The shared stream of one edge client. */
export class StreamHub {
  private readonly subs = new Set<Subscriber>();
  private handle: StreamHandle | undefined;
  private connectedKey = "";
  private status: StreamStatus = "closed";
  private why: string | undefined;
  private delay = 1000;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by every connect and close: a session token that arrives for an abandoned attempt is dropped. */
  private attempt = 0;
  private pending = false;
  /** Connections opened so far (tests and diagnostics). */
  connections = 0;

  constructor(private readonly client: EdgeClient) {}

  /** Subscribes; returns the function that unsubscribes. Symbols are matched case-insensitively. */
  subscribe(symbols: string[], onFrame: Subscriber["onFrame"], onStatus?: Subscriber["onStatus"]): () => void {
    const sub: Subscriber = { symbols: new Set(symbols.map((s) => s.toUpperCase())), onFrame, onStatus };
    this.subs.add(sub);
    onStatus?.(this.status === "closed" ? "connecting" : this.status, this.why);
    this.reconcile();
    return () => {
      this.subs.delete(sub);
      this.reconcile();
    };
  }

  /** The union of the subscribers' symbols, sorted and comma-joined. */
  private key(): string {
    const all = new Set<string>();
    for (const s of this.subs) for (const x of s.symbols) all.add(x);
    return [...all].sort().join(",");
  }

  /** Opens, re-opens (when the symbols changed) or closes the connection. */
  private reconcile(): void {
    const key = this.key();
    if (key === this.connectedKey && (this.handle || this.timer || this.pending)) return;
    this.close();
    if (key === "") return;
    this.connect(key);
  }

  private close(): void {
    this.attempt++;
    this.pending = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const h = this.handle;
    this.handle = undefined;
    this.connectedKey = "";
    h?.close();
  }

  private setStatus(status: StreamStatus, why?: string): void {
    this.status = status;
    this.why = why;
    for (const s of this.subs) s.onStatus?.(status, why);
  }

  /** Reconnects after `delay` (doubling to 30 s; reset by the first frame of a healthy connection). */
  private retry(): void {
    this.handle = undefined;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const k = this.key();
      if (k !== "") this.connect(k);
    }, this.delay);
    this.delay = Math.min(30_000, this.delay * 2);
  }

  /** Obtains a session token (the edge requires one on the stream), then opens the socket. */
  private connect(key: string): void {
    this.connectedKey = key;
    this.connections++;
    this.setStatus("connecting");
    const attempt = ++this.attempt;
    const known = this.client.cachedToken();
    if (known !== null) {
      this.open(key, known);
      return;
    }
    this.pending = true;
    this.client.sessionToken().then(
      (token) => {
        if (attempt !== this.attempt) return;
        this.pending = false;
        this.open(key, token);
      },
      (e: unknown) => {
        if (attempt !== this.attempt) return;
        this.pending = false;
        this.setStatus("error", `no session token for the stream: ${e instanceof Error ? e.message : String(e)}`);
        this.retry();
      },
    );
  }

  private open(key: string, token: string | undefined): void {
    const handle = this.client.stream(
      key.split(","),
      (frame) => {
        if (this.handle !== handle) return;
        this.delay = 1000;
        for (const s of [...this.subs]) {
          const mine = frame.filter((m) => m.S === undefined || s.symbols.has(m.S.toUpperCase()));
          if (mine.length > 0) s.onFrame(mine);
        }
      },
      (status, why) => {
        if (this.handle !== handle) return; // a replaced connection
        if (status === "open" || status === "stalled") return this.setStatus(status, why);
        this.setStatus(status, why || this.why);
        if (status === "closed") {
          // A refused upgrade (an expired token) looks like a close: the next attempt asks for a fresh token.
          this.client.dropSession(token);
          this.retry();
        }
      },
      token,
    );
    this.handle = handle;
  }
}
