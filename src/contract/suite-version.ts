/** The suite's version (package.json), sent in the handshake and written into traces. */
import { readFileSync } from "node:fs";

const PACKAGE_URL = new URL("../../package.json", import.meta.url);
let cached: string | undefined;

export function suiteVersion(): string {
  cached ??= (JSON.parse(readFileSync(PACKAGE_URL, "utf8")) as { version: string }).version;
  return cached;
}
