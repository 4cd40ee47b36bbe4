/** Validating a JSON run report against schema/report.schema.json (ajv). [HARNESS-REPORT-3] */
import { readFileSync } from "node:fs";
import type { ValidateFunction } from "ajv";
import { packageFile } from "../../contract/package-files.ts";
import { createAjv, describeErrors } from "../../contract/schema.ts";

export const REPORT_SCHEMA_ID = "https://iommu-conformance.invalid/schema/report.schema.json";

let validator: ValidateFunction | undefined;

/** The problems of `value` as a run report, one "/json/pointer: what is wrong" each; [] when valid. */
export function validateReport(value: unknown): string[] {
  if (validator === undefined) {
    const ajv = createAjv();
    ajv.addSchema(JSON.parse(readFileSync(packageFile("schema/report.schema.json"), "utf8")) as object);
    const v = ajv.getSchema(REPORT_SCHEMA_ID);
    if (v === undefined) throw new Error("the report schema did not compile");
    validator = v;
  }
  return validator(value) ? [] : describeErrors(validator.errors);
}
