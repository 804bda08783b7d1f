import assert from "node:assert/strict";

/** Same structure; numbers within `rel` relative (1e-12 absolute floor). Shared by the package's Node tests and
 * web/e2e (the same rule as `mtf_wasm::compare_json`). */
export function close(a, b, rel, path = "$") {
  if (typeof a === "number" && typeof b === "number") {
    assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) || Math.abs(a - b) <= 1e-12, `${path}: ${a} vs ${b}`);
  } else if (Array.isArray(a)) {
    assert.equal(a.length, b.length, `${path} length`);
    for (const [i, x] of a.entries()) close(x, b[i], rel, `${path}[${i}]`);
  } else if (a && typeof a === "object") {
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${path} keys`);
    for (const k of Object.keys(a)) close(a[k], b[k], rel, `${path}.${k}`);
  } else assert.equal(a, b, path);
}
