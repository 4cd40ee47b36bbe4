/**
 * What a command loads at start-up [HARNESS-PACKAGE-2]: the CommonJS libraries only some runs
 * need are required on first use, and a command's module only when that command runs. Checked
 * in a fresh Node process (the CommonJS module cache is per process) through the CLI's `main`.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** The node_modules packages in the CommonJS cache after `main(argv)` ran in a fresh process. */
function packagesLoaded(argv: string[]): Promise<string[]> {
  const script = `
    import { createRequire } from "node:module";
    const { main } = await import(${JSON.stringify(MAIN)});
    const io = { out() {}, err() {}, isTTY: false, color: false, cwd: ${JSON.stringify(ROOT)}, invocation: "iommu-conformance" };
    await main(${JSON.stringify(argv)}, io);
    const names = new Set(Object.keys(createRequire(import.meta.url).cache)
      .map((f) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f)?.[1]).filter(Boolean));
    process.stdout.write(JSON.stringify([...names].sort()));`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      { cwd: ROOT, timeout: 60_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    );
  });
}

const ON_USE_ONLY = ["ajv", "xmlbuilder", "cli-progress", "seedrandom"];

describe("start-up loads only what the command needs [HARNESS-PACKAGE-2]", () => {
  it("--help and list properties load none of the on-use libraries", async () => {
    for (const argv of [["--help"], ["list", "properties"]]) {
      const loaded = await packagesLoaded(argv);
      expect(loaded, argv.join(" ")).toContain("commander");
      for (const lib of ON_USE_ONLY) expect(loaded, `${argv.join(" ")} loaded ${lib}`).not.toContain(lib);
    }
  });

  it("the libraries are loaded when a run needs them (JUnit, evict=random)", async () => {
    const out = fileURLToPath(new URL(`../../out/startup-loads-${process.pid}`, import.meta.url));
    const loaded = await packagesLoaded([
      "run",
      "--adapter",
      "reference:evict=random",
      "--property",
      "queue-behaviour",
      "--runs",
      "1",
      "--seed",
      "1",
      "--report",
      "junit",
      "--out",
      out,
    ]);
    expect(loaded).toContain("xmlbuilder");
    expect(loaded).toContain("seedrandom");
  });
});
