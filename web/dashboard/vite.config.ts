import { defineConfig } from "vite";

// The one line mtf-predict needs (its README): keep it out of dependency pre-bundling so its .wasm files resolve.
// JSX with React's automatic runtime through esbuild (no plugin needed).
export default defineConfig({
  optimizeDeps: { exclude: ["mtf-predict"] },
  esbuild: { jsx: "automatic" },
  build: { outDir: "dist", chunkSizeWarningLimit: 1000 },
  server: { proxy: { "/api": { target: "http://127.0.0.1:8787", ws: true } } },
});
