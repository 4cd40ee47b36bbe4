/**
 * The report formats `run --report` and `merge` can write, each to its own file in the output
 * directory. Adding a format is one entry here. [HARNESS-REPORT-1]
 */
import type { RunReport } from "../runner.ts";
import { htmlReport } from "./html.ts";
import { jsonReport } from "./json.ts";
import { junitReport } from "./junit.ts";
import { textReport } from "./text.ts";

export interface Reporter {
  /** The file it is written to, in the output directory. */
  readonly file: string;
  render(report: RunReport): string;
}

export const REPORTERS = {
  text: { file: "report.txt", render: (r) => textReport(r) },
  json: { file: "report.json", render: jsonReport },
  junit: { file: "junit.xml", render: junitReport },
  html: { file: "report.html", render: (r) => htmlReport(r) },
} as const satisfies Record<string, Reporter>;

export type ReportFormat = keyof typeof REPORTERS;

export const REPORT_FORMATS = Object.keys(REPORTERS) as ReportFormat[];
