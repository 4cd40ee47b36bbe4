/**
 * Files of the package beside the code: schema/, spec/, package.json, bin/. Found from this
 * module whether it runs as source (src/contract/) or compiled (dist/src/contract/).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

/** The package's root directory. */
export const PACKAGE_ROOT = findRoot();

/** A file of the package, by its path from the root ("schema/trace.schema.json"). */
export function packageFile(path: string): string {
  return join(PACKAGE_ROOT, path);
}

/** The extension of this package's modules as they run: ".ts" from source, ".js" compiled. */
export const MODULE_EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
