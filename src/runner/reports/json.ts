/** The run report as JSON, for tools and for merging sharded runs. [HARNESS-REPORT-1] */
import type { RunReport } from "../runner.ts";

export function jsonReport(report: RunReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
