/** The README and docs/ link only to files inside the repository that exist. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI_ROOT as ROOT } from "../harness/cli-fixtures.ts";

const DOCS = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

function relativeLinks(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => (m[1] ?? "").split("#")[0] ?? "")
    .filter((l) => l !== "" && !/^[a-z]+:/i.test(l));
}

describe("documentation links", () => {
  it.each(DOCS)("%s links only to existing files in the repository", (doc) => {
    const text = readFileSync(join(ROOT, doc), "utf8");
    for (const link of relativeLinks(text)) {
      const target = resolve(dirname(join(ROOT, doc)), link);
      expect(relative(ROOT, target).startsWith(".."), `${doc} links outside: ${link}`).toBe(false);
      expect(existsSync(target), `${doc} links to a missing file: ${link}`).toBe(true);
    }
  });
});
