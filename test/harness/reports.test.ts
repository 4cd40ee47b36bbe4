import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { colors, wantsColor } from "../../src/cli/colors.ts";
import { createRunProgress } from "../../src/cli/progress.ts";
import { REPORT_FORMATS, REPORTERS } from "../../src/runner/reports/index.ts";
import { junitReport } from "../../src/runner/reports/junit.ts";
import { textReport } from "../../src/runner/reports/text.ts";
import { validateReport } from "../../src/runner/reports/validate.ts";
import { runProperties } from "../../src/runner/runner.ts";
import { createMemoryModel } from "../fixtures/harness/memory-model.ts";
import { properties } from "../fixtures/harness/test-properties.ts";
import { BIN, ROOT } from "./cli-fixtures.ts";

async function buggyRun() {
  return runProperties(properties, {
    adapter: "module:buggy",
    model: createMemoryModel({ corruptReadAt: 0x5020n }),
    runs: 200,
    seed: 7,
    outDir: await mkdtemp(join(tmpdir(), "iommu-reports-")),
  });
}

describe("reports", () => {
  it("[HARNESS-REPORT-3] the JSON report is valid against schema/report.schema.json, and the schema rejects what it should", async () => {
    const report = JSON.parse(REPORTERS.json.render(await buggyRun()));
    expect(validateReport(report)).toEqual([]);
    expect(report).toMatchObject({ format: "iommu-conformance-report", version: 2 });
    expect(validateReport({ ...report, version: 1 })).toEqual(["/version: must be equal to constant"]);
    expect(validateReport({ ...report, seed: 2 ** 32 })).toEqual(["/seed: must be <= 2147483647"]);
    const bad = { ...report, results: [{ ...report.results[0], status: "passed" }] };
    expect(validateReport(bad)).toEqual([
      '/results/0/status: must be one of "pass", "fail", "skip", "error", "incomplete"',
    ]);
    // A run that tolerated known deviations (every qemu run by default) names them. [HARNESS-KNOWN-1]
    const tolerant = {
      ...report,
      known: ["fault-info-above-agaw"],
      results: [{ ...report.results[0], tolerated: { "fault-info-above-agaw": 3 } }],
    };
    expect(validateReport(tolerant)).toEqual([]);
    expect(validateReport({ ...tolerant, known: "fault-info-above-agaw" })).toEqual([
      "/known: must be array",
    ]);
  });

  it("[HARNESS-REPORT-5] a JUnit failure carries rules, observed and permitted, the trace and the replay commands; a skip its reason", async () => {
    const report = await buggyRun();
    report.results[0]!.rules = ["HARNESS-TEST-1"];
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(
      junitReport(report),
    );
    const suite = xml.testsuites.testsuite;
    expect(xml.testsuites).toMatchObject({ tests: "3", failures: "1", errors: "0", skipped: "1" });
    const [fail, skip, pass] = suite.testcase;
    const body: string = fail.failure["#text"];
    expect(fail.failure.message).toBe(report.results[0]!.message!.split("\n")[0]);
    // [HARNESS-FAIL-1] the finding in one line: the request, observed against permitted.
    expect(body).toMatch(
      /^rules: HARNESS-TEST-1\nstep 2, DMA read, SID 0x10, no PASID, IOVA 0x[0-9a-f]+, \d+ bytes: .* — observed \{"status":"ok".*; permitted \{"status":"ok".*\ncounterexample /,
    );
    expect(body).toMatch(/\njudged step: 2\n/);
    expect(body).toMatch(/\nobserved: {2}\{"status":"ok","data":"[0-9a-f]+"\}\n/);
    expect(body).toMatch(/\npermitted: \[\{"status":"ok","data":"[0-9a-f]+"\}\]\n/);
    expect(body).toContain(`\ntrace: ${report.results[0]!.trace} (3 steps)\n`);
    // [HARNESS-SEED-2] commands as typed for a local install.
    expect(body).toContain(`\nreplay: npx iommu-conformance replay ${report.results[0]!.trace}`);
    expect(body).toMatch(
      /\nagain: npx iommu-conformance run --adapter module:buggy --property test-dma-read-sees-guest-write --seed 7 --path [0-9:]+\n/,
    );
    expect(skip.skipped.message).toBe("the model has no host surface (iommufd ioctls)");
    expect(pass.failure).toBeUndefined();
    expect(pass.skipped).toBeUndefined();
  });

  it("[HARNESS-REPORT-1] every format has its own file; the text report is the streamed one", () => {
    expect(REPORT_FORMATS).toEqual(expect.arrayContaining(["text", "json", "junit"]));
    const files = REPORT_FORMATS.map((f) => REPORTERS[f].file);
    expect(new Set(files).size).toBe(files.length);
  });

  it("[HARNESS-REPORT-4] colours only on a terminal without NO_COLOR; files never have them", async () => {
    expect(wantsColor(true, {})).toBe(true);
    expect(wantsColor(false, {})).toBe(false);
    expect(wantsColor(true, { NO_COLOR: "1" })).toBe(false);
    expect(wantsColor(true, { NO_COLOR: "" })).toBe(true);
    expect(wantsColor(true, { TERM: "dumb" })).toBe(false);
    const report = await buggyRun();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences
    const ansiEscape = /\u001b\[/;
    expect(textReport(report, colors(true))).toMatch(ansiEscape);
    expect(textReport(report)).not.toMatch(ansiEscape);
    expect(REPORTERS.text.render(report)).not.toMatch(ansiEscape);
  });

  it("[HARNESS-REPORT-1] on a terminal one progress line shows the cases of the whole run and an estimate", () => {
    const stream = Object.assign(new PassThrough(), {
      isTTY: true,
      columns: 120,
      cursorTo() {},
      moveCursor() {},
      clearLine() {},
      clearScreenDown() {},
    });
    let drawn = "";
    stream.on("data", (c: Buffer) => {
      drawn += c.toString();
    });
    const printed: string[] = [];
    const progress = createRunProgress(stream as unknown as NodeJS.WriteStream, 300, (t) => printed.push(t));
    progress.property("prop-a", 0);
    progress.cases(50);
    progress.print("PASS  prop-a\n");
    progress.property("prop-b", 100);
    progress.cases(20);
    progress.print("PASS  prop-b\n");
    progress.stop();
    expect(drawn).toContain("PASS  prop-a");
    expect(drawn).toMatch(/120\/300 cases \| prop-b \| \d+s elapsed, about .* left/);
    expect(printed).toEqual([]);
    // Not a terminal: nothing drawn, text printed as it comes.
    const plain = createRunProgress(new PassThrough() as unknown as NodeJS.WriteStream, 300, (t) =>
      printed.push(t),
    );
    plain.print("PASS  prop-a\n");
    expect(printed).toEqual(["PASS  prop-a\n"]);
  });

  it("[HARNESS-REPORT-3] replay --report json has a format and a version", async () => {
    const out = await new Promise<string>((resolve) => {
      execFile(
        "node",
        [BIN, "replay", "reference-traces/mutants", "--report", "json"],
        { cwd: ROOT, timeout: 60_000 },
        (_e, stdout) => resolve(stdout),
      );
    });
    const report = JSON.parse(out);
    expect(report).toMatchObject({ format: "iommu-conformance-replay", version: 1 });
    expect(report.traces.length).toBeGreaterThan(0);
    expect(Object.keys(report.summary)).toEqual(["reproduced", "fails", "passesNow", "passes", "errors"]);
  });
});
