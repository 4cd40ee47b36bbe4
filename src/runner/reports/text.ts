/** The run report for people: one line a property, details under failures. [HARNESS-REPORT-1] */
import { findingLine, walkText } from "../finding.ts";
import type { PropertyResult, RunReport } from "../runner.ts";

const LABEL: Record<PropertyResult["status"], string> = {
  pass: "PASS ",
  fail: "FAIL ",
  skip: "SKIP ",
  error: "ERROR",
};

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function textReport(report: RunReport): string {
  const lines: string[] = [];
  lines.push(
    `iommu-conformance ${report.suite}: adapter ${report.adapter} (${report.model.name} ${report.model.version}), seed ${report.seed}, ${report.runs} runs per property`,
  );
  for (const r of report.results) {
    const timing = r.status === "skip" ? "" : ` (${r.runs} runs, ${seconds(r.durationMs)})`;
    lines.push(`${LABEL[r.status]} ${r.id}: ${r.title}${timing}`);
    if (r.status === "skip") lines.push(`      skipped: ${r.message ?? ""}`);
    if (r.status === "fail" || r.status === "error") {
      // [HARNESS-FAIL-1] the rule, the request, observed against permitted, in one line.
      if (r.finding !== undefined) lines.push(`      ${findingLine(r.finding)}`);
      for (const l of (r.message ?? "").split("\n")) lines.push(`      ${l}`);
      if (r.finding?.walk !== undefined) for (const l of walkText(r.finding.walk)) lines.push(`        ${l}`);
    }
    if ((r.status === "fail" || r.status === "error") && r.seed !== undefined) {
      const shrinks = r.shrinks === undefined ? "" : `, shrunk ${r.shrinks} times`;
      const replayPath = r.replayPath === undefined ? "" : `, replay path "${r.replayPath}"`;
      lines.push(`      seed ${r.seed}, path "${r.path ?? ""}"${replayPath}${shrinks}`);
    }
    // [HARNESS-SEED-2] commands as the user types them, from where the run was started.
    if (r.commands?.again !== undefined) lines.push(`      again: ${r.commands.again}`);
    if (r.trace !== undefined) lines.push(`      trace: ${r.trace} (${r.traceSteps ?? 0} steps)`);
    if (r.commands?.replay !== undefined) lines.push(`      replay: ${r.commands.replay}`);
    if (r.commands?.export !== undefined) lines.push(`      export: ${r.commands.export}`);
  }
  const s = report.summary;
  lines.push(
    `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.errors} errors in ${seconds(report.durationMs)}`,
  );
  return `${lines.join("\n")}\n`;
}
