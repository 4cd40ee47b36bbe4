/** The run report for people: one line a property, details under failures. [HARNESS-REPORT-1] */
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

/** "scalable-write-fault-legacy-reason ×37, fault-info-above-agaw ×2" */
function tolerated(counts: Array<[string, number]>): string {
  return counts.map(([id, n]) => `${id} ×${n}`).join(", ");
}

export function textReport(report: RunReport): string {
  const lines: string[] = [];
  lines.push(
    `iommu-conformance ${report.suite}: adapter ${report.adapter} (${report.model.name} ${report.model.version}), seed ${report.seed}, ${report.runs} runs per property`,
  );
  if (report.known !== undefined) lines.push(`known deviations tolerated: ${report.known.join(", ")}`);
  const total = new Map<string, number>();
  for (const r of report.results) {
    const timing = r.status === "skip" ? "" : ` (${r.runs} runs, ${seconds(r.durationMs)})`;
    lines.push(`${LABEL[r.status]} ${r.id}: ${r.title}${timing}`);
    if (r.status === "skip") lines.push(`      skipped: ${r.message ?? ""}`);
    if (r.tolerated !== undefined) {
      lines.push(`      tolerated: ${tolerated(Object.entries(r.tolerated))}`);
      for (const [id, n] of Object.entries(r.tolerated)) total.set(id, (total.get(id) ?? 0) + n);
    }
    if (r.status === "fail" || r.status === "error") {
      for (const l of (r.message ?? "").split("\n")) lines.push(`      ${l}`);
    }
    if (r.status === "fail" && r.seed !== undefined) {
      const shrinks = r.shrinks === undefined ? "" : `, shrunk ${r.shrinks} times`;
      lines.push(`      seed ${r.seed}, path "${r.path ?? ""}"${shrinks}`);
      lines.push(
        `      again: iommu-conformance run --adapter '${report.adapter}' --property '${r.id}' --seed ${r.seed} --path '${r.path ?? ""}'`,
      );
    }
    if (r.trace !== undefined) {
      lines.push(
        `      trace: ${r.trace} (${r.traceSteps ?? 0} steps); replay: iommu-conformance replay ${r.trace}`,
      );
    }
  }
  if (total.size > 0) lines.push(`tolerated: ${tolerated([...total].sort())}`);
  const s = report.summary;
  lines.push(
    `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.errors} errors in ${seconds(report.durationMs)}`,
  );
  return `${lines.join("\n")}\n`;
}
