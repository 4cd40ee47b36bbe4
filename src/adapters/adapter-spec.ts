/**
 * Adapter specs: the string a user gives to --adapter, parsed and loaded. [HARNESS-ADAPTER-1]
 *   reference[:k=v,…]    the reference model (src/adapters/reference.ts); options are cache
 *                        capacities, e.g. reference:iotlb=0,psc=0
 *   mutant:ID            the reference with one known bug (src/adapters/mutants.ts)
 *   qemu[:k=v,…]         QEMU's intel-iommu over qtest (src/adapters/qemu/adapter.ts)
 *   qemu:nested[,k=v,…]  QEMU's VMM side: L2 QEMU with a passed-through device in a Linux guest
 *                        (src/adapters/qemu-nested/adapter.ts)
 *   module:PATH[?k=v,…]  a module exporting createModel (or a default factory), called
 *                        with the options, e.g. module:./my-model.ts?cores=2
 *   stdio:COMMAND        a process speaking docs/protocol.md
 */
import { existsSync } from "node:fs";
import { relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MODULE_EXT } from "../contract/package-files.ts";
import type { Model, ModelFactory } from "../contract/types.ts";
import { AdapterLoadError, AdapterSpecError } from "./adapter-errors.ts";
import { importModule } from "./import-module.ts";
import { createStdioModel } from "./stdio/client.ts";

export type AdapterSpec =
  | { kind: "reference"; options: Record<string, string> }
  | { kind: "mutant"; id: string }
  | { kind: "qemu"; options: Record<string, string> }
  | { kind: "qemu-nested"; options: Record<string, string> }
  | { kind: "module"; path: string; options: Record<string, string> }
  | { kind: "stdio"; command: string };

export { AdapterLoadError, AdapterSpecError };

export const ADAPTER_FORMS = [
  "reference[:key=value,...]",
  "mutant:ID",
  "qemu[:key=value,...]",
  "qemu:nested[,key=value,...]",
  "module:PATH[?key=value,...]",
  "stdio:COMMAND",
] as const;

const USAGE = `valid adapter specs: ${ADAPTER_FORMS.join(", ")}`;

export function parseAdapterSpec(spec: string): AdapterSpec {
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? undefined : spec.slice(colon + 1);
  switch (kind) {
    case "reference":
      return { kind: "reference", options: parseOptions(spec, rest ?? "") };
    case "mutant":
      if (rest === undefined || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(rest)) {
        throw new AdapterSpecError(
          `"${spec}": mutant needs an id, e.g. mutant:pasid-global-no-unbind (see \`list mutants\`)`,
        );
      }
      return { kind: "mutant", id: rest };
    case "qemu": {
      const options = parseOptions(spec, rest ?? "");
      if (options.nested === undefined) return { kind: "qemu", options };
      if (options.nested !== "true") throw new AdapterSpecError(`"${spec}": write qemu:nested[,key=value,…]`);
      delete options.nested;
      return { kind: "qemu-nested", options };
    }
    case "module":
      if (rest === undefined || rest.trim() === "" || rest.startsWith("?"))
        throw new AdapterSpecError(`"${spec}": module needs a path, e.g. module:./my-model.ts`);
      return rest.includes("?")
        ? {
            kind: "module",
            path: rest.slice(0, rest.lastIndexOf("?")),
            options: parseOptions(spec, rest.slice(rest.lastIndexOf("?") + 1)),
          }
        : { kind: "module", path: rest, options: {} };
    case "stdio":
      if (rest === undefined || rest.trim() === "")
        throw new AdapterSpecError(`"${spec}": stdio needs a command, e.g. "stdio:./my-model --serve"`);
      return { kind: "stdio", command: rest };
    default:
      throw new AdapterSpecError(`unknown adapter "${spec}"; ${USAGE}`);
  }
}

function parseOptions(spec: string, text: string): Record<string, string> {
  const options: Record<string, string> = {};
  if (text === "") return options;
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(key))
      throw new AdapterSpecError(`"${spec}": bad option "${part}"; options are key=value,…`);
    if (key in options) throw new AdapterSpecError(`"${spec}": option "${key}" given twice`);
    options[key] = eq < 0 ? "true" : part.slice(eq + 1);
  }
  return options;
}

export interface LoadOptions {
  /** Per-request timeout for stdio adapters, in milliseconds. */
  timeoutMs?: number;
  /** Base for relative module paths; default the current directory. */
  cwd?: string;
  /** The run's seed, for adapters with seeded choices (reference:evict=random). */
  seed?: number;
}

/** The built-in adapters' modules, relative to this file. */
const BUILT_IN = {
  reference: `./reference${MODULE_EXT}`,
  mutants: `./mutants${MODULE_EXT}`,
  qemu: `./qemu/adapter${MODULE_EXT}`,
  qemuNested: `./qemu-nested/adapter${MODULE_EXT}`,
};

/** Import a built-in adapter's module, or say plainly that this build does not have it. */
export async function importBuiltIn(
  name: keyof typeof BUILT_IN,
  label: string,
): Promise<Record<string, unknown>> {
  return importAdapterModule(new URL(BUILT_IN[name], import.meta.url), label);
}

/** [HARNESS-ADAPTER-2] A missing module is "not available in this build", not a stack trace. */
export async function importAdapterModule(url: URL, label: string): Promise<Record<string, unknown>> {
  const file = fileURLToPath(url);
  if (!existsSync(file)) {
    throw new AdapterLoadError(
      `adapter ${label} is not available in this build (${relative(process.cwd(), file)} is missing)`,
    );
  }
  try {
    return (await import(url.href)) as Record<string, unknown>;
  } catch (e) {
    throw new AdapterLoadError(`adapter ${label} failed to load: ${(e as Error).message}`);
  }
}

function needFunction(
  module: Record<string, unknown>,
  name: string,
  label: string,
): (...args: never[]) => unknown {
  const f = module[name];
  if (typeof f !== "function")
    throw new AdapterLoadError(`adapter ${label} is not available in this build (no ${name} export)`);
  return f as (...args: never[]) => unknown;
}

export async function loadAdapter(spec: string, options: LoadOptions = {}): Promise<Model> {
  const parsed = parseAdapterSpec(spec);
  try {
    switch (parsed.kind) {
      case "reference": {
        const m = await importBuiltIn("reference", "reference");
        const create = needFunction(m, "createReferenceModel", "reference") as (
          options: Record<string, string>,
          hooks: undefined,
          seed: number,
        ) => Promise<Model>;
        return await create(parsed.options, undefined, options.seed ?? 0);
      }
      case "mutant": {
        const m = await importBuiltIn("mutants", spec);
        const list = (needFunction(m, "listMutants", spec) as () => Array<{ id: string } | string>)();
        const ids = list.map((x) => (typeof x === "string" ? x : x.id));
        if (!ids.includes(parsed.id)) {
          throw new AdapterSpecError(
            `unknown mutant "${parsed.id}"; known mutants: ${ids.join(", ") || "(none)"}`,
          );
        }
        return await (needFunction(m, "createMutantModel", spec) as (id: string) => Promise<Model>)(
          parsed.id,
        );
      }
      case "qemu": {
        const m = await importBuiltIn("qemu", "qemu");
        return await (
          needFunction(m, "createQemuModel", "qemu") as (o: Record<string, string>) => Promise<Model>
        )(parsed.options);
      }
      case "qemu-nested": {
        const m = await importBuiltIn("qemuNested", "qemu:nested");
        return await (
          needFunction(m, "createNestedModel", "qemu:nested") as (o: Record<string, string>) => Promise<Model>
        )(parsed.options);
      }
      case "module":
        return await loadModuleAdapter(parsed.path, parsed.options, options.cwd ?? process.cwd());
      case "stdio":
        return await createStdioModel(parsed.command, { timeoutMs: options.timeoutMs ?? 10_000 });
    }
  } catch (e) {
    if (e instanceof AdapterSpecError || e instanceof AdapterLoadError) throw e;
    throw new AdapterLoadError(`adapter ${spec} could not be started: ${(e as Error).message}`);
  }
}

async function loadModuleAdapter(path: string, options: Record<string, string>, cwd: string): Promise<Model> {
  const url = pathToFileURL(resolve(cwd, path)).href;
  let module: Record<string, unknown>;
  try {
    module = await importModule(url);
  } catch (e) {
    throw new AdapterLoadError(
      `adapter module:${path} could not be imported: ${(e as Error).message}${moduleHint(e)}`,
    );
  }
  const factory = (module.createModel ?? module.default) as ModelFactory | undefined;
  if (typeof factory !== "function") {
    throw new AdapterLoadError(
      `adapter module:${path} exports neither createModel nor a default factory function`,
    );
  }
  const model = await factory(options);
  const problem = notAModel(model);
  if (problem !== undefined)
    throw new AdapterLoadError(
      `adapter module:${path}: the factory's result is not a Model (${problem}); see docs/adapters.md`,
    );
  return model;
}

/** A hint for the usual ES-module mistakes of a model written as CommonJS. */
function moduleHint(e: unknown): string {
  const text = `${(e as { code?: string }).code ?? ""} ${(e as Error).message ?? ""}`;
  return /ERR_REQUIRE_ESM|ERR_REQUIRE_ASYNC_MODULE|ERR_REQUIRE_CYCLE_MODULE|Cannot require\(\) ES Module|Cannot use import statement|exports is not defined|require is not defined|module is not defined/.test(
    text,
  )
    ? ` (the suite loads models as ES modules with import(): export createModel with \`export\`, and name the file .mjs/.mts or set "type": "module" in its package.json; see docs/adapters.md)`
    : "";
}

/** What keeps `value` from being a Model (src/contract/types.ts), or undefined. */
export function notAModel(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null)
    return `it returned ${value === null ? "null" : typeof value}, not an object`;
  const m = value as Record<string, unknown>;
  const missing = ["describe", "reset", "close"].filter((k) => typeof m[k] !== "function");
  if (missing.length > 0) return `no ${missing.join(", ")} method${missing.length > 1 ? "s" : ""}`;
  const platform = m.platform as Record<string, unknown> | undefined;
  if (typeof platform !== "object" || platform === null) return "no platform object";
  const calls = ["writeGuest", "readGuest", "writeReg", "readReg", "dma"].filter(
    (k) => typeof platform[k] !== "function",
  );
  if (calls.length > 0) return `its platform lacks ${calls.join(", ")}`;
  return undefined;
}
