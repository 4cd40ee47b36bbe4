/**
 * The recorded QEMU findings (reference-traces/qemu/<id>.json + <id>.expect) replayed on each
 * installed QEMU: each must give the verdict recorded for that version, so a QEMU upgrade that
 * fixes (or changes) one shows up. The reference model must pass every one of them: they are
 * QEMU deviations, not judgements of our own model. Skipped, with the reason, without QEMU.
 */
import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { createReferenceModel } from "../../../src/adapters/reference.ts";
import { findQemus, rootOf } from "../../../src/cli/qemu.ts";
import { FINDINGS_DIR } from "../../../src/cli/qemu-expectations.ts";
import { checkFindings, findingJudge } from "../../../src/cli/qemu-findings.ts";
import { loadRegistry } from "../../../src/cli/registry.ts";
import { replayTrace } from "../../../src/runner/replay.ts";
import { loadTraceFile } from "../../../src/trace/load.ts";

const DIR = resolve(FINDINGS_DIR);
const properties = await loadRegistry(undefined, process.cwd()).catch(() => []);
const found = await findQemus(rootOf(undefined, process.cwd()));
const traces = (await readdir(DIR))
  .filter((f) => f.endsWith(".expect"))
  .map((f) => f.replace(/\.expect$/, ""));

describe("QEMU findings", () => {
  it("[QEMU-FIND-1] every finding has its trace and its expectation", async () => {
    expect(traces.length).toBeGreaterThan(0);
    for (const id of traces) {
      const t = await loadTraceFile(join(DIR, `${id}.json`));
      expect(t.verdict).toBe("fail");
      expect(t.failure?.message).toMatch(/\[VTD-[A-Z]+-\d+\]/);
    }
  });

  it("[QEMU-FIND-2] the reference model passes every finding (they are QEMU deviations)", async () => {
    const model = await createReferenceModel();
    try {
      for (const id of traces) {
        const t = await loadTraceFile(join(DIR, `${id}.json`));
        const r = await replayTrace(
          t,
          model,
          findingJudge(
            t,
            properties.find((p) => p.id === t.property),
          ),
        );
        expect([id, r.outcome]).toEqual([id, "passes-now"]);
      }
    } finally {
      await model.close();
    }
  }, 60_000);

  for (const f of found) {
    it.skipIf(f.target === undefined)(
      `[QEMU-FIND-2] each finding gives its recorded verdict on the ${f.name}${f.missing ? ` (skipped: ${f.missing})` : ""}`,
      async () => {
        const rows = await checkFindings(DIR, f.target!, properties);
        expect(rows.map((r) => [r.finding, r.got])).toEqual(rows.map((r) => [r.finding, r.expected]));
      },
      300_000,
    );
  }
});
