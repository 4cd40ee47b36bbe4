/**
 * The report formats `run --report` and `merge` can write, each to its own file in the output
 * directory. Adding a format is its name in formats.ts and an entry here (the compiler holds the
 * two together). [HARNESS-REPORT-1]
 */
import type { RunReport } from "../runner.ts";
import type { ReportFormat } from "./formats.ts";
import { htmlReport } from "./html.ts";
import { jsonReport } from "./json.ts";
import { junitReport } from "./junit.ts";
import { textReport } from "./text.ts";

export { REPORT_FORMATS, type ReportFormat } from "./formats.ts";

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
} as const satisfies Record<ReportFormat, Reporter>;
