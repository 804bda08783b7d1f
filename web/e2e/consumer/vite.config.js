// The only configuration mtf-predict needs in Vite (see its README): keep the package out of dependency
// pre-bundling so its `.wasm` files are resolved next to their glue code.
export default { optimizeDeps: { exclude: ["mtf-predict"] } };
