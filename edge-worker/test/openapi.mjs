// Checks real responses against openapi.yaml: the schema of the response (path, method, status) with $refs
// resolved. Objects that declare `properties` are closed (a field the worker sends but the document does not
// declare is an error) unless they say `additionalProperties: true`; `required` fields must be present.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export function loadSpec(dir) {
  return parse(readFileSync(join(dir, "openapi.yaml"), "utf8"));
}

function resolve(spec, schema) {
  let s = schema;
  while (s?.$ref) {
    s = s.$ref
      .replace(/^#\//, "")
      .split("/")
      .reduce((o, k) => o?.[k], spec);
  }
  return s;
}

/** The JSON schema of a response, or undefined when the document gives none. */
export function responseSchema(spec, method, path, status) {
  const clean = path.split("?")[0];
  for (const [template, item] of Object.entries(spec.paths)) {
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`);
    if (!re.test(clean)) continue;
    const op = item[method.toLowerCase()];
    const r = resolve(spec, op?.responses?.[String(status)]);
    return { known: op !== undefined, schema: r?.content?.["application/json"]?.schema };
  }
  return { known: false, schema: undefined };
}

const typeOf = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v);

/** Problems of `value` against `schema` (empty when it conforms), each naming the JSON path. */
export function validate(spec, schema, value, at = "$") {
  const s = resolve(spec, schema);
  if (!s) return [];
  if (s.oneOf) {
    const ok = s.oneOf.filter((x) => validate(spec, x, value, at).length === 0).length;
    return ok === 1 ? [] : [`${at}: matches ${ok} of the oneOf alternatives`];
  }
  const out = [];
  if (s.type) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    const t = typeOf(value);
    if (!types.includes(t) && !(t === "integer" && types.includes("number"))) return [`${at}: ${t}, expected ${types.join("|")}`];
  }
  if (s.enum && !s.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} not in ${s.enum.join(", ")}`);
  if (typeof value === "number") {
    if (s.minimum !== undefined && value < s.minimum) out.push(`${at}: ${value} < ${s.minimum}`);
    if (s.maximum !== undefined && value > s.maximum) out.push(`${at}: ${value} > ${s.maximum}`);
  }
  if (Array.isArray(value) && s.items) {
    value.forEach((v, i) => {
      out.push(...validate(spec, s.items, v, `${at}[${i}]`));
    });
  }
  if (typeOf(value) === "object") {
    for (const k of s.required ?? []) if (!(k in value)) out.push(`${at}.${k}: required but missing`);
    if (s.properties) {
      for (const [k, v] of Object.entries(value)) {
        if (s.properties[k]) out.push(...validate(spec, s.properties[k], v, `${at}.${k}`));
        else if (s.additionalProperties !== true) out.push(`${at}.${k}: sent but not declared`);
      }
    }
  }
  return out;
}

/** Recorded responses (`recorder().responses`) against the document: problems, and how many had a documented
 * schema. An unknown route is fine only as a 404 with the documented error body. */
export function checkResponses(spec, responses) {
  const problems = [];
  let checked = 0;
  for (const r of responses) {
    const { known, schema } = responseSchema(spec, r.method, r.path, r.status);
    if (!known) {
      if (r.status === 404) for (const p of validate(spec, spec.components.schemas.Error, r.json)) problems.push(`404 body: ${p}`);
      else problems.push(`${r.method} ${r.path.split("?")[0]}: route not in openapi.yaml`);
      continue;
    }
    if (!schema) continue;
    checked++;
    for (const p of validate(spec, schema, r.json)) problems.push(`${r.method} ${r.path.split("?")[0]} ${r.status}: ${p}`);
  }
  return { problems: [...new Set(problems)], checked };
}
