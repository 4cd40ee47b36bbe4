/** The suite's version (package.json), sent in the handshake and written into traces. */
import { readFileSync } from "node:fs";
import { packageFile } from "./package-files.ts";

const PACKAGE_URL = packageFile("package.json");
let cached: string | undefined;

export function suiteVersion(): string {
  cached ??= (JSON.parse(readFileSync(PACKAGE_URL, "utf8")) as { version: string }).version;
  return cached;
}
