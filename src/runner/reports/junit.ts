/**
 * The run report as JUnit XML (xmlbuilder), for CI systems: a failure's body carries its rules,
 * message, the judged step with what was observed and permitted, the trace and the commands that
 * replay it; a skip or an incomplete property carries its reason. [HARNESS-REPORT-5]
 */
import { createRequire } from "node:module";
import { findingLine } from "../finding.ts";
import type { PropertyResult, RunReport } from "../runner.ts";
import { replayCommand, rerunCommand } from "./text.ts";

/** XML 1.0 cannot hold most control characters, even escaped: a model's message may carry them. */
function xmlText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters removed
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "\uFFFD");
}

/** The body of a <failure> or <error>. */
export function failureBody(r: PropertyResult, adapter: string): string {
  const lines: string[] = [];
  if (r.rules.length > 0) lines.push(`rules: ${r.rules.join(", ")}`);
  if (r.finding !== undefined) lines.push(findingLine(r.finding));
  lines.push(r.message ?? r.status);
  if (r.failedStep !== undefined) lines.push(`judged step: ${r.failedStep}`);
  if (r.observed !== undefined) lines.push(`observed:  ${JSON.stringify(r.observed)}`);
  if (r.permitted !== undefined) lines.push(`permitted: ${JSON.stringify(r.permitted)}`);
  if ((r.status === "fail" || r.status === "error") && r.seed !== undefined) {
    lines.push(
      `seed ${r.seed}, path "${r.path ?? ""}"${r.replayPath === undefined ? "" : `, replay path "${r.replayPath}"`}`,
    );
    const again = rerunCommand(r, adapter);
    if (again !== undefined) lines.push(`again: ${again}`);
  }
  if (r.trace !== undefined) {
    lines.push(`trace: ${r.trace} (${r.traceSteps ?? 0} steps)`);
    lines.push(`replay: ${r.commands?.replay ?? replayCommand(r.trace)}`);
    if (r.commands?.export !== undefined) lines.push(`export: ${r.commands.export}`);
  }
  return xmlText(lines.join("\n"));
}

const firstLine = (text: string | undefined): string => xmlText((text ?? "").split("\n")[0] ?? "");

export function junitReport(report: RunReport): string {
  const s = report.summary;
  const tests = report.results.length;
  const skipped = s.skipped + s.incomplete;
  const time = (report.durationMs / 1000).toFixed(3);
  // Required here, not imported: xmlbuilder is thirty-odd CommonJS files only a JUnit report needs.
  const xmlbuilder = createRequire(import.meta.url)("xmlbuilder") as typeof import("xmlbuilder");
  const root = xmlbuilder
    .create("testsuites", { version: "1.0", encoding: "UTF-8" })
    .att({ name: "iommu-conformance", tests, failures: s.failed, errors: s.errors, skipped, time });
  const suite = root.ele("testsuite", {
    name: `iommu-conformance ${report.adapter}`,
    tests,
    failures: s.failed,
    errors: s.errors,
    skipped,
    time,
  });
  const props = suite.ele("properties");
  const property = (name: string, value: string): void => {
    props.ele("property", { name, value: xmlText(value) });
  };
  property("adapter", report.adapter);
  property("model", `${report.model.name} ${report.model.version}`);
  property("seed", String(report.seed));
  property("runs", String(report.runs));
  property("suite", report.suite);
  if (report.shard !== undefined) property("shard", `${report.shard.index}/${report.shard.count}`);
  if (report.interrupted !== undefined) property("interrupted", report.interrupted);
  for (const r of report.results) {
    const test = suite.ele("testcase", {
      classname: `iommu-conformance.${r.id}`,
      name: xmlText(`${r.id}: ${r.title}`),
      time: (r.durationMs / 1000).toFixed(3),
    });
    if (r.status === "fail")
      test.ele(
        "failure",
        { message: firstLine(r.message), type: "PropertyFailure" },
        failureBody(r, report.adapter),
      );
    else if (r.status === "error")
      test.ele(
        "error",
        { message: firstLine(r.message), type: "AdapterError" },
        failureBody(r, report.adapter),
      );
    else if (r.status === "skip") test.ele("skipped", { message: xmlText(r.message ?? "skipped") });
    else if (r.status === "incomplete")
      test.ele("skipped", { message: xmlText(`incomplete: ${r.message ?? ""}`) });
    if (r.rules.length > 0) test.ele("system-out", {}, `rules: ${r.rules.join(", ")}; runs: ${r.runs}`);
  }
  return `${root.end({ pretty: true })}\n`;
}
