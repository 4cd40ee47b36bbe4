/** Every dependency in package.json is used by something in the repository. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI_ROOT as ROOT } from "../harness/cli-fixtures.ts";

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
};

/** How a package that is not imported shows that it is used (a command, a config value). */
const USED_AS: Record<string, RegExp> = {
  "@biomejs/biome": /\bbiome\b/,
  typescript: /\btsc\b/,
  vitest: /\bvitest\b/,
  "@vitest/coverage-v8": /provider: "v8"/,
  "dependency-cruiser": /\bdepcruise\b/,
  "@swc/core": /parser: "swc"/,
  "@stryker-mutator/core": /"stryker", "run"/,
};

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist" || name.startsWith(".git") || name === "out") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (/\.(ts|js|mjs|cjs)$/.test(name)) out.push(readFileSync(path, "utf8"));
  }
  return out;
}

const text = [...sources(ROOT), JSON.stringify(pkg.scripts)].join("\n");

describe("package.json", () => {
  it.each([...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)])("%s is used", (name) => {
    const imported = name.startsWith("@types/") ? name.slice("@types/".length) : name;
    const escaped = imported.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    const used = new RegExp(`["'\`]${escaped}(/[^"'\`]*)?["'\`]`).test(text) || USED_AS[name]?.test(text);
    expect(used, `${name} is a dependency nothing uses`).toBe(true);
  });
});
