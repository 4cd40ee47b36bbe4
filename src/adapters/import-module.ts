/**
 * Importing a user's module (a `module:` model, a `--registry`). A TypeScript file needs tsx's
 * loader, which the compiled CLI registers on first need (running from source it is already
 * there). [HARNESS-ADAPTER-3]
 */
import { MODULE_EXT } from "../contract/package-files.ts";

let typescript: Promise<void> | undefined;

async function registerTypeScript(): Promise<void> {
  const { register } = await import("tsx/esm/api");
  register();
}

export async function importModule(url: string): Promise<Record<string, unknown>> {
  if (MODULE_EXT === ".js" && /\.[cm]?tsx?$/.test(new URL(url).pathname)) {
    typescript ??= registerTypeScript();
    await typescript;
  }
  return (await import(url)) as Record<string, unknown>;
}
