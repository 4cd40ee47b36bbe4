/**
 * Loading traces: JSON parse, format and version check, schema validation, then the checks a
 * schema cannot express. Every problem is reported as "file: /json/path: what is wrong",
 * all of them at once, never as a stack trace. [HARNESS-TRACE-5]
 */
import { readFileSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ValidateFunction } from "ajv";
import { packageFile } from "../contract/package-files.ts";
import { createAjv, describeErrors } from "../contract/schema.ts";
import { TraceLoadError } from "./load-error.ts";
import { TRACE_FORMAT, TRACE_VERSION, type Trace } from "./types.ts";

export { TraceLoadError };

export const TRACE_SCHEMA_ID = "https://iommu-conformance.invalid/schema/trace.schema.json";
const SCHEMA_URL = packageFile("schema/trace.schema.json");

let validator: ValidateFunction | undefined;

function validate(): ValidateFunction {
  if (validator === undefined) {
    const ajv = createAjv();
    ajv.addSchema(JSON.parse(readFileSync(SCHEMA_URL, "utf8")) as object);
    const v = ajv.getSchema(TRACE_SCHEMA_ID);
    if (v === undefined) throw new Error("trace schema did not compile");
    validator = v;
  }
  return validator;
}

/** Parse and check a trace's text; `file` names it in messages. */
export function parseTrace(text: string, file: string): Trace {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new TraceLoadError(file, [`not JSON: ${describeJsonError(text, e as Error)}`]);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TraceLoadError(file, ["/: a trace is a JSON object"]);
  }
  const top = value as Record<string, unknown>;
  if (top.format !== TRACE_FORMAT) {
    throw new TraceLoadError(file, [
      `/format: not an iommu-conformance trace (format is ${JSON.stringify(top.format) ?? "missing"}, expected "${TRACE_FORMAT}")`,
    ]);
  }
  if (typeof top.version === "number" && top.version > TRACE_VERSION) {
    throw new TraceLoadError(file, [
      `/version: trace format version ${top.version} is newer than this suite reads (${TRACE_VERSION}); upgrade the suite`,
    ]);
  }
  const v = validate();
  const problems = v(value) ? [] : tidy(describeErrors(v.errors));
  if (problems.length === 0) {
    const trace = value as Trace;
    if (trace.failure !== undefined && trace.failure.step >= trace.steps.length) {
      problems.push(
        `/failure/step: step ${trace.failure.step} does not exist (the trace has ${trace.steps.length} steps)`,
      );
    }
  }
  if (problems.length > 0) throw new TraceLoadError(file, problems);
  return value as Trace;
}

/** Replace ajv's wording for the step's result-or-error alternative with a plain one. */
function tidy(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const m = /^(\/steps\/\d+): must match exactly one schema in oneOf$/.exec(line);
    if (m !== null) {
      out.push(`${m[1]}: must have exactly one of "result" and "error"`);
      continue;
    }
    // The alternatives' own complaints repeat the line above.
    if (
      /^\/steps\/\d+: (must have required property '(result|error)'|must not have "(result|error)" here)$/.test(
        line,
      )
    ) {
      continue;
    }
    out.push(line);
  }
  return out;
}

function describeJsonError(text: string, error: Error): string {
  const m = /position (\d+)/.exec(error.message);
  if (m === null) return error.message;
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const column = pos - before.lastIndexOf("\n");
  return `${error.message.replace(/ in JSON at position \d+.*$/, "")} at line ${line}, column ${column}`;
}

export async function loadTraceFile(file: string): Promise<Trace> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new TraceLoadError(file, [
      `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    ]);
  }
  return parseTrace(text, file);
}

/** A file, or every *.json file below a directory (sorted, so runs are reproducible). */
export async function listTraceFiles(path: string): Promise<string[]> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (e) {
    throw new TraceLoadError(path, [
      `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    ]);
  }
  if (!info.isDirectory()) return [path];
  const entries = await readdir(path, { recursive: true });
  return entries
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(path, f));
}
