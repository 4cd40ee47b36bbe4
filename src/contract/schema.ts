/**
 * JSON Schema validation of protocol messages (schema/protocol.schema.json) with ajv.
 * [HARNESS-PROTO-6] Every reply is validated before the suite believes it.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Ajv, ErrorObject, ValidateFunction } from "ajv";
import { packageFile } from "./package-files.ts";
import { METHODS } from "./surface.ts";
import type { Method } from "./wire.ts";

export const PROTOCOL_SCHEMA_ID = "https://iommu-conformance.invalid/schema/protocol.schema.json";

const SCHEMA_URL = packageFile("schema/protocol.schema.json");

let cachedSchema: Record<string, unknown> | undefined;

/** The protocol schema as parsed JSON. */
export function protocolSchema(): Record<string, unknown> {
  cachedSchema ??= JSON.parse(readFileSync(SCHEMA_URL, "utf8")) as Record<string, unknown>;
  return cachedSchema;
}

/** An ajv instance that knows the protocol schema (others may add theirs, e.g. the trace schema). */
export function createAjv(): Ajv {
  // ajv is required on first use: it is some sixty CommonJS files, and most commands (`list`,
  // `--help`, a reference run) validate nothing, so loading it up front slowed every start-up. [HARNESS-PACKAGE-2]
  const { Ajv: AjvClass } = createRequire(import.meta.url)("ajv") as typeof import("ajv");
  const ajv = new AjvClass({
    allErrors: true,
    verbose: true,
    strict: true,
    strictTypes: false,
    strictRequired: false,
  });
  ajv.addSchema(protocolSchema());
  return ajv;
}

/** One line per problem: "<where>: <what>", where is a JSON pointer below `base`. */
export function describeErrors(errors: readonly ErrorObject[] | null | undefined, base = ""): string[] {
  const out: string[] = [];
  for (const e of errors ?? []) {
    // if/then failures repeat the precise error reported inside "then".
    if (e.keyword === "if") continue;
    const where = `${base}${e.instancePath}` || "/";
    let what = e.message ?? "is invalid";
    if (e.keyword === "additionalProperties") {
      what = `has unknown property "${String((e.params as { additionalProperty: string }).additionalProperty)}"`;
    } else if (e.keyword === "enum") {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      what = `must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}`;
    } else if (e.keyword === "not") {
      const banned = (e.schema as { required?: string[] }).required;
      if (banned !== undefined) what = `must not have ${banned.map((p) => `"${p}"`).join(", ")} here`;
    } else if (e.keyword === "pattern") {
      what = describePattern((e.params as { pattern: string }).pattern) ?? what;
    }
    const line = `${where}: ${what}`;
    if (!out.includes(line)) out.push(line);
  }
  return out;
}

function describePattern(pattern: string): string | undefined {
  if (pattern.startsWith("^0x(0|")) return 'must be a canonical 64-bit hex string such as "0x1f000"';
  if (pattern.startsWith("^(?:[0-9a-f]{2})*"))
    return "must be a hex byte string (two lowercase hex digits a byte)";
  return undefined;
}

interface Validators {
  request: ValidateFunction;
  reply: ValidateFunction;
  result: Map<Method, ValidateFunction>;
}

let validators: Validators | undefined;

function compiled(): Validators {
  if (validators !== undefined) return validators;
  const ajv = createAjv();
  const get = (name: string): ValidateFunction => {
    const v = ajv.getSchema(`${PROTOCOL_SCHEMA_ID}#/definitions/${name}`);
    if (v === undefined) throw new Error(`protocol schema has no definition ${name}`);
    return v;
  };
  validators = {
    request: get("request"),
    reply: get("reply"),
    result: new Map(METHODS.map((m) => [m, get(`result-${m}`)])),
  };
  return validators;
}

/** Problems with a request object, or [] when it is valid. */
export function checkRequest(value: unknown): string[] {
  const v = compiled().request;
  return v(value) ? [] : describeErrors(v.errors);
}

/** Problems with a reply envelope, or [] when it is valid. */
export function checkReply(value: unknown): string[] {
  const v = compiled().reply;
  return v(value) ? [] : describeErrors(v.errors);
}

/** Problems with the result of a reply to `method`, or []. */
export function checkResult(method: Method, value: unknown): string[] {
  const v = compiled().result.get(method);
  if (v === undefined) return [`no result schema for method ${method}`];
  return v(value) ? [] : describeErrors(v.errors, "/result");
}
