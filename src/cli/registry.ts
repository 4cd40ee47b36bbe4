/** Loading the property registry: properties/index.ts, or a module given with --registry. */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { importModule } from "../adapters/import-module.ts";
import type { PropertyDefinition } from "../cases/property.ts";
import { MODULE_EXT } from "../contract/package-files.ts";
import { UsageError } from "./errors.ts";
import { globMatcher } from "./glob.ts";

const DEFAULT_REGISTRY = new URL(`../../properties/index${MODULE_EXT}`, import.meta.url);

export async function loadRegistry(path: string | undefined, cwd: string): Promise<PropertyDefinition[]> {
  const url = path === undefined ? DEFAULT_REGISTRY.href : pathToFileURL(resolve(cwd, path)).href;
  let module: { properties?: unknown };
  try {
    module = (await importModule(url)) as { properties?: unknown };
  } catch (e) {
    throw new UsageError(
      `cannot load the property registry ${path ?? "properties/index.ts"}: ${(e as Error).message}`,
    );
  }
  if (!Array.isArray(module.properties)) {
    throw new UsageError(
      `the property registry ${path ?? "properties/index.ts"} does not export a \`properties\` array`,
    );
  }
  return module.properties as PropertyDefinition[];
}

export function selectProperties(all: PropertyDefinition[], glob: string | undefined): PropertyDefinition[] {
  if (all.length === 0) throw new UsageError("no properties are registered (properties/index.ts is empty)");
  if (glob === undefined) return all;
  const matches = globMatcher(glob);
  const chosen = all.filter((p) => matches(p.id));
  if (chosen.length === 0) {
    throw new UsageError(`no property matches "${glob}"; \`iommu-conformance list properties\` shows them`);
  }
  return chosen;
}
