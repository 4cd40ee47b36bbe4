#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx iommu-conformance` works without a build.
import { register } from "tsx/esm/api";

// A reader that stops early (`list rules | head`) is not an error: end quietly. [HARNESS-EXIT-4]
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
// An interrupted run leaves its last case behind: do not wait for it.
setTimeout(() => process.exit(), 1000).unref();
