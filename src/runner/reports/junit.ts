/** The run report as JUnit XML (junit-report-builder), for CI systems. [HARNESS-REPORT-1] */
import junitModule, { type Builder } from "junit-report-builder";
import type { RunReport } from "../runner.ts";

// The package is CommonJS whose module.exports is the builder; TypeScript types it as a namespace.
const junit = ((junitModule as unknown as { default?: Builder }).default ??
  junitModule) as unknown as Builder;

export function junitReport(report: RunReport): string {
  const builder = junit.newBuilder();
  const suite = builder
    .testSuite()
    .name(`iommu-conformance ${report.adapter}`)
    .property("adapter", report.adapter)
    .property("model", `${report.model.name} ${report.model.version}`)
    .property("seed", String(report.seed))
    .property("runs", String(report.runs))
    .property("suite", report.suite);
  for (const r of report.results) {
    const test = suite
      .testCase()
      .className(`iommu-conformance.${r.id}`)
      .name(`${r.id}: ${r.title}`)
      .time(r.durationMs / 1000);
    const details: string[] = [];
    if (r.rules.length > 0) details.push(`rules: ${r.rules.join(", ")}`);
    if (r.seed !== undefined)
      details.push(
        `seed ${r.seed}, path "${r.path ?? ""}"${r.replayPath === undefined ? "" : `, replay path "${r.replayPath}"`}`,
      );
    if (r.commands?.again !== undefined) details.push(`again: ${r.commands.again}`);
    if (r.trace !== undefined) details.push(`trace: ${r.trace} (${r.traceSteps ?? 0} steps)`);
    if (details.length > 0) test.standardOutput(details.join("\n"));
    if (r.status === "fail") test.failure(r.message ?? "failed", "PropertyFailure");
    else if (r.status === "error") test.error(r.message ?? "error", "AdapterError");
    else if (r.status === "skip") test.skipped().standardOutput(`skipped: ${r.message ?? ""}`);
  }
  return builder.build();
}
