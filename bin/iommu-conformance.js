#!/usr/bin/env node
// The `iommu-conformance` command. It runs the compiled CLI (dist/, from `npm run build`, which
// `npm install` runs through `prepare`) when that is at least as new as the TypeScript sources,
// else the sources through tsx, so an edited checkout never runs stale code.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// A reader that stops early (`list rules | head`) is not an error: end quietly. [HARNESS-EXIT-4]
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const root = fileURLToPath(new URL("../", import.meta.url));
const stamp = join(root, "dist", ".build-stamp");

/** The newest modification time of the .ts files under `dir` (0 if there are none). */
function newest(dir) {
  let latest = 0;
  if (!existsSync(dir)) return latest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(path));
    else if (entry.name.endsWith(".ts")) latest = Math.max(latest, statSync(path).mtimeMs);
  }
  return latest;
}

const compiled =
  existsSync(stamp) &&
  Math.max(newest(join(root, "src")), newest(join(root, "properties"))) <= statSync(stamp).mtimeMs;
let main;
if (compiled) {
  ({ main } = await import("../dist/src/cli/main.js"));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../src/cli/main.ts"));
}
process.exitCode = await main(process.argv.slice(2));
// An interrupted run leaves its last case behind: do not wait for it.
setTimeout(() => process.exit(), 1000).unref();
