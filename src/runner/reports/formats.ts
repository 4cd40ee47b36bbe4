/** The report formats by name, apart from the reporters so the CLI can check `--report` without loading them. [HARNESS-REPORT-1] */
export const REPORT_FORMATS = ["text", "json", "junit", "html"] as const;

export type ReportFormat = (typeof REPORT_FORMATS)[number];
