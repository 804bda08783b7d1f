/** Errors raised by mtf-predict. `code` is stable; `message` says what was wrong. */
export class MtfError extends Error {
  override readonly name = "MtfError";
  constructor(
    /** `artifact` (bad or unverifiable model), `input` (bad bars), `edge` (HTTP), `backend`, `network`. */
    readonly code: "artifact" | "input" | "edge" | "backend" | "network",
    message: string,
    /** HTTP status for `edge` errors. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Coerces anything thrown (wasm `Error`, string, …) into a message. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "string") return e;
  try {
    return JSON.stringify(e);
  } catch {
    return String(e);
  }
}
