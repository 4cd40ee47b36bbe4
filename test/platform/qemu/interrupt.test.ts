/**
 * [HARNESS-STOP-1] [QEMU-START-4] `run --adapter qemu` interrupted as CI or Ctrl-C interrupts it:
 * a real signal to the real command while a real QEMU serves a case. The run exits with the
 * signal's code and its partial reports, and no QEMU it started is left. Skipped, with the reason,
 * without QEMU 7.2/11.1 on the system.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { detectQemu } from "../../../src/adapters/qemu/process.ts";
import { validateReport } from "../../../src/runner/reports/validate.ts";
import { BIN, ROOT } from "../../harness/cli-fixtures.ts";
import { alive, descendants, until } from "../../harness/proc-fixtures.ts";

const missing = await detectQemu({}).then(
  () => undefined,
  (e: Error) => e.message,
);

/** The QEMU machines below `pid` (not a `--version` probe). */
const machines = (pid: number) =>
  descendants(pid).filter((p) => p.cmdline.includes("qemu-system") && p.cmdline.includes("-machine"));

describe.skipIf(missing !== undefined)(
  `interrupting a QEMU run${missing ? ` (skipped: ${missing})` : ""}`,
  () => {
    it.each(["SIGTERM", "SIGINT"] as const)(
      "[HARNESS-STOP-1] [QEMU-START-4] %s: exit 128 + n, partial reports written, every QEMU of the run ended",
      async (signal) => {
        const out = await mkdtemp(join(tmpdir(), "iommu-qemu-int-"));
        const args = ["run", "--adapter", "qemu", "--property", "translation-equals-walk"];
        args.push("--runs", "100000000", "--seed", "1", "--out", out, "--report", "text,json,junit");
        const child = spawn("node", [BIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => {
          stdout += c.toString();
        });
        child.stderr.on("data", (c: Buffer) => {
          stderr += c.toString();
        });
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
        // Under way: the header is printed once the model answered, and a QEMU machine runs.
        const qemus = await until("a running QEMU", 45_000, () => {
          const found = machines(child.pid as number);
          return /^iommu-conformance .* seed 1,/m.test(stdout) && found.length > 0 ? found : undefined;
        });
        for (const q of qemus) expect(alive(q.pid)).toBe(true);
        child.kill(signal);
        expect(await exited).toBe(signal === "SIGINT" ? 130 : 143);
        expect(stderr).toContain(`${signal}: stopping; writing the partial report`);
        expect(stdout).toMatch(
          new RegExp(
            `^0 passed, 0 failed, 0 skipped, 0 errors, 1 incomplete in .* \\(interrupted: ${signal}\\)$`,
            "m",
          ),
        );
        const report = JSON.parse(await readFile(join(out, "report.json"), "utf8"));
        expect(validateReport(report)).toEqual([]);
        expect(report.interrupted).toBe(signal);
        expect(report.results.map((r: { status: string }) => r.status)).toEqual(["incomplete"]);
        expect(await readFile(join(out, "junit.xml"), "utf8")).toMatch(
          /<skipped message="incomplete: (interrupted by|not run)/,
        );
        expect(await readFile(join(out, "report.txt"), "utf8")).toContain(
          "INCOMPLETE translation-equals-walk",
        );
        for (const q of qemus) expect(alive(q.pid), q.cmdline.slice(0, 80)).toBe(false);
      },
      60_000,
    );
  },
);
