import { EdgeClient } from "mtf-predict";
import { MtfProvider } from "mtf-predict/react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import "./styles.css";

// Configuration: the edge is this page's origin (the worker serves the dashboard). No token is built in: the
// client asks the edge for a short-lived session token (granted to pages of an allowed origin). URL parameters:
// ?symbols=SPY,AAPL  ?backend=auto|cpu|webgpu  ?live=1
const params = new URLSearchParams(location.search);
const edge = new EdgeClient("");
const watchlist = (params.get("symbols") ?? "SPY,AAPL,GOOG")
  .split(",")
  .map((s) => s.trim().toUpperCase())
  .filter(Boolean);
const backend = (params.get("backend") ?? "auto") as "auto" | "cpu" | "webgpu";

createRoot(document.getElementById("root")!).render(
  <MtfProvider edge={edge} backend={backend}>
    <App edge={edge} watchlist={watchlist} initialLive={params.get("live") === "1"} />
  </MtfProvider>,
);
