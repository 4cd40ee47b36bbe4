/**
 * docs/adapters.md's commands, run as written (npx iommu-conformance → this checkout's bin), each
 * exiting with the code its comment names; and its code blocks are the example files.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI_ROOT as ROOT } from "../harness/cli-fixtures.ts";

const doc = await readFile(join(ROOT, "docs", "adapters.md"), "utf8");
const blocks = (lang: string): string[] =>
  [...doc.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, "g"))].map((m) => m[1] ?? "");

const commands = blocks("sh")
  .flatMap((b) => b.split("\n"))
  .filter((l) => l.startsWith("npx iommu-conformance "))
  .map((line) => {
    const m = /^npx iommu-conformance (.*?)\s+# exits (\d+)$/.exec(line);
    if (m === null) throw new Error(`docs/adapters.md: a command without "# exits N": ${line}`);
    return { line, args: m[1] ?? "", code: Number(m[2]) };
  });

describe("docs/adapters.md", () => {
  it("has module: and stdio: commands", () => {
    expect(commands.some((c) => c.args.includes("--adapter 'module:"))).toBe(true);
    expect(commands.some((c) => c.args.includes("--adapter 'stdio:"))).toBe(true);
  });

  it.each(commands)(
    "[HARNESS-ADAPTER-3] $line",
    async ({ args, code }) => {
      const out = await mkdtemp(join(tmpdir(), "iommu-doc-"));
      const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          "sh",
          ["-c", `node bin/iommu-conformance.js ${args} --out ${out}`],
          { cwd: ROOT, timeout: 120_000 },
          (error, stdout, stderr) =>
            resolve({
              code: error === null ? 0 : typeof error.code === "number" ? error.code : -1,
              stdout,
              stderr,
            }),
        );
      });
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.code, result.stdout + result.stderr).toBe(code);
      expect(result.stdout).toMatch(
        code === 0 ? /^PASS {2}translation-equals-walk/m : /^FAIL {2}translation-equals-walk/m,
      );
    },
    150_000,
  );

  it("shows the example files as they are", async () => {
    const ts = await readFile(join(ROOT, "docs", "examples", "wrapped-reference.ts"), "utf8");
    const mjs = await readFile(join(ROOT, "docs", "examples", "stdio-model.mjs"), "utf8");
    expect(ts).toContain(blocks("ts")[0]);
    expect(mjs).toContain(blocks("js")[0]);
  });
});
