/**
 * The package as a user gets it: `npm pack`, installed from the tarball in a fresh project
 * (its dependencies from the registry), imported from ESM, typed from its .d.ts, its command
 * run, and a clear message from CommonJS. [HARNESS-PACKAGE-1]
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI_ROOT as ROOT } from "../harness/cli-fixtures.ts";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: 280_000, maxBuffer: 1 << 26 }, (error, stdout, stderr) =>
      resolve({
        code: error === null ? 0 : typeof error.code === "number" ? error.code : -1,
        stdout,
        stderr,
      }),
    );
  });
}

let project = "";

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist", ".build-stamp"))) {
    const build = await run("npm", ["run", "build"], ROOT);
    expect(build.code, build.stderr).toBe(0);
  }
  const packs = await mkdtemp(join(tmpdir(), "iommu-pack-"));
  // The build is npm test's first step; do not run it again through prepare.
  const pack = await run("npm", ["pack", "--ignore-scripts", "--pack-destination", packs], ROOT);
  expect(pack.code, pack.stderr).toBe(0);
  const tarball = join(packs, (await readdir(packs)).find((f) => f.endsWith(".tgz")) ?? "");
  project = await mkdtemp(join(tmpdir(), "iommu-user-"));
  await writeFile(
    join(project, "package.json"),
    JSON.stringify({ name: "user", private: true, type: "module" }),
  );
  const install = await run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts", tarball],
    project,
  );
  expect(install.code, install.stderr).toBe(0);
}, 300_000);

describe("the packed package", () => {
  it("imports from ESM and runs a property against the reference", async () => {
    await writeFile(
      join(project, "use.mjs"),
      `import { createReferenceModel, properties, runProperties, wrapModel } from "iommu-conformance";
const model = wrapModel(await createReferenceModel());
const report = await runProperties(properties.filter((p) => p.id === "translation-equals-walk"), {
  adapter: "reference", model, runs: 5, seed: 1,
});
await model.close();
console.log(JSON.stringify({ count: properties.length, summary: report.summary }));
`,
    );
    const r = await run("node", ["use.mjs"], project);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.count).toBeGreaterThan(10);
    expect(out.summary).toEqual({ passed: 1, failed: 0, skipped: 0, errors: 0, incomplete: 0 });
  }, 120_000);

  it("types a module: model from its .d.ts", async () => {
    await writeFile(
      join(project, "model.ts"),
      `import { createReferenceModel, type Model, type PlatformSurface, wrapModel } from "iommu-conformance";
export async function createModel(options: Record<string, string> = {}): Promise<Model> {
  const reference = await createReferenceModel();
  const dma: PlatformSurface["dma"] = (request) => reference.platform.dma(request);
  return wrapModel(reference, { platform: { dma } });
}
// @ts-expect-error a Model has no such call
wrapModel(await createReferenceModel(), { platform: { frobnicate: 1 } });
`,
    );
    await writeFile(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2023",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ["model.ts"],
      }),
    );
    const tsc = await run(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], project);
    expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0);
  }, 120_000);

  it("runs its command, the compiled CLI, with a .ts module: model", async () => {
    const list = await run("npx", ["--no-install", "iommu-conformance", "list", "properties"], project);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^translation-equals-walk: /);
    const r = await run(
      "npx",
      [
        "--no-install",
        "iommu-conformance",
        "run",
        "--adapter",
        "module:./model.ts?x=1",
        "--property",
        "translation-equals-walk",
        "--runs",
        "5",
        "--seed",
        "1",
      ],
      project,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^PASS {2}translation-equals-walk/m);
  }, 120_000);

  it("says plainly that require() cannot load it", async () => {
    const r = await run("node", ["-e", 'require("iommu-conformance")'], project);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("iommu-conformance is an ES module and cannot be loaded with require()");
    expect(r.stderr).toContain('await import("iommu-conformance")');
  });
});
