/**
 * [HARNESS-EXPORT-1] Every recorded QEMU finding, exported with `export --format qtest` for each
 * installed QEMU, gives its recorded verdict from the shell script alone (no Node: `sh
 * reproduce.sh`), or is refused by the export where that QEMU cannot build its configuration.
 * Skipped, with the reason, without QEMU.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.ts";
import { findQemus, rootOf } from "../../../src/cli/qemu.ts";
import { expectedFor, FINDINGS_DIR, readExpectation } from "../../../src/cli/qemu-expectations.ts";

const DIR = resolve(FINDINGS_DIR);
const found = await findQemus(rootOf(undefined, process.cwd()));
const findings = (await readdir(DIR))
  .filter((f) => f.endsWith(".expect"))
  .map((f) => f.replace(/\.expect$/, ""));

/** Runs a command without a shell of Node's; resolves with its exit code and output. */
function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(
      cmd,
      args,
      { timeout: 120_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : 2;
        done({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

describe("standalone QEMU reproducers", () => {
  for (const f of found) {
    it.skipIf(f.target === undefined)(
      `[HARNESS-EXPORT-1] every finding reproduces its verdict from its shell script on the ${f.name}${f.missing ? ` (skipped: ${f.missing})` : ""}`,
      async () => {
        const target = f.target!;
        const rows: Array<[string, string | undefined, string]> = [];
        for (const id of findings) {
          const expected = expectedFor(await readExpectation(join(DIR, `${id}.expect`)), target.version);
          const out = await mkdtemp(join(tmpdir(), `iommu-export-${id}-`));
          let err = "";
          const code = await main(
            [
              "export",
              join(DIR, `${id}.json`),
              "--format",
              "qtest",
              "--adapter",
              target.adapter,
              "--out",
              out,
            ],
            { out: () => undefined, err: (s) => (err += s), isTTY: false, cwd: process.cwd() },
          );
          if (code !== 0) {
            rows.push([id, expected, /^refused: /.test(err) ? "refused" : `export failed: ${err}`]);
            continue;
          }
          const r = await run("sh", [join(out, "reproduce.sh")]);
          const verdict = /^verdict: (\S+)$/m.exec(r.out)?.[1] ?? `no verdict (exit ${r.code}): ${r.out}`;
          expect(r.code, r.out).toBe(verdict === "reproduced" ? 1 : verdict === "passes-now" ? 0 : 2);
          rows.push([id, expected, verdict]);
        }
        expect(rows.map(([id, , got]) => [id, got])).toEqual(rows.map(([id, want]) => [id, want]));
      },
      600_000,
    );
  }
});
