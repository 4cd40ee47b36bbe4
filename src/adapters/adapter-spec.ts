/**
 * Adapter specs: the string a user gives to --adapter, parsed and loaded. [HARNESS-ADAPTER-1]
 *   reference[:k=v,…]    the reference model (src/adapters/reference.ts); options are cache
 *                        capacities, e.g. reference:iotlb=0,psc=0
 *   mutant:ID            the reference with one known bug (src/adapters/mutants.ts)
 *   qemu[:k=v,…]         QEMU's intel-iommu over qtest (src/adapters/qemu/adapter.ts)
 *   module:PATH          a module exporting createModel (or a default factory)
 *   stdio:COMMAND        a process speaking docs/protocol.md
 */
import { existsSync } from "node:fs";
import { relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Model, ModelFactory } from "../contract/types.ts";
import { createStdioModel } from "./stdio/client.ts";

export type AdapterSpec =
  | { kind: "reference"; options: Record<string, string> }
  | { kind: "mutant"; id: string }
  | { kind: "qemu"; options: Record<string, string> }
  | { kind: "module"; path: string }
  | { kind: "stdio"; command: string };

/** A spec that cannot be parsed: a usage error (exit 2). */
export class AdapterSpecError extends Error {
  override readonly name = "AdapterSpecError";
}

/** The adapter could not be loaded or started (exit 2). [HARNESS-ADAPTER-2] */
export class AdapterLoadError extends Error {
  override readonly name = "AdapterLoadError";
}

export const ADAPTER_FORMS = [
  "reference[:key=value,...]",
  "mutant:ID",
  "qemu[:key=value,...]",
  "module:PATH",
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
    case "qemu":
      return { kind: "qemu", options: parseOptions(spec, rest ?? "") };
    case "module":
      if (rest === undefined || rest.trim() === "")
        throw new AdapterSpecError(`"${spec}": module needs a path, e.g. module:./my-model.ts`);
      return { kind: "module", path: rest };
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
  reference: "./reference.ts",
  mutants: "./mutants.ts",
  qemu: "./qemu/adapter.ts",
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
      case "module":
        return await loadModuleAdapter(parsed.path, options.cwd ?? process.cwd());
      case "stdio":
        return await createStdioModel(parsed.command, { timeoutMs: options.timeoutMs ?? 10_000 });
    }
  } catch (e) {
    if (e instanceof AdapterSpecError || e instanceof AdapterLoadError) throw e;
    throw new AdapterLoadError(`adapter ${spec} could not be started: ${(e as Error).message}`);
  }
}

async function loadModuleAdapter(path: string, cwd: string): Promise<Model> {
  const url = pathToFileURL(resolve(cwd, path)).href;
  let module: Record<string, unknown>;
  try {
    module = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    throw new AdapterLoadError(`adapter module:${path} could not be imported: ${(e as Error).message}`);
  }
  const factory = (module.createModel ?? module.default) as ModelFactory | undefined;
  if (typeof factory !== "function") {
    throw new AdapterLoadError(
      `adapter module:${path} exports neither createModel nor a default factory function`,
    );
  }
  return factory();
}
