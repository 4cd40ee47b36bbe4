import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HAND_WRITTEN } from "../../bench/mutants.ts";
import { createMutantModel, listMutants } from "../../src/adapters/mutants.ts";

const ROOT = join(import.meta.dirname, "../..");

/** Every `### ID — title` heading of spec/*.md. */
function specRules(): Set<string> {
  const ids = new Set<string>();
  for (const f of readdirSync(join(ROOT, "spec")).filter((n) => n.endsWith(".md"))) {
    for (const m of readFileSync(join(ROOT, "spec", f), "utf8").matchAll(/^### ([A-Z0-9-]+) — /gm))
      ids.add(m[1] as string);
  }
  return ids;
}

describe("the mutant gallery", () => {
  it("[HARNESS-MUTANT-2] at least 15 mutants, unique ids, over all three layers, each breaking named rules", () => {
    const list = listMutants();
    expect(list.length).toBeGreaterThanOrEqual(15);
    expect(new Set(list.map((m) => m.id)).size).toBe(list.length);
    expect(new Set(list.map((m) => m.layer))).toEqual(new Set(["viommu", "host", "vmm"]));
    const rules = specRules();
    for (const m of list) {
      expect(m.rules.length, m.id).toBeGreaterThan(0);
      for (const r of m.rules) expect(rules.has(r), `${m.id}: ${r}`).toBe(true);
    }
  });

  it("[HARNESS-MUTANT-2] every mutant has a direct test in test/mutants naming it", () => {
    const dir = import.meta.dirname;
    const text = readdirSync(dir)
      .filter((f) => f.endsWith(".test.ts") && f !== "gallery.test.ts")
      .map((f) => readFileSync(join(dir, f), "utf8"))
      .join("\n");
    for (const { id } of listMutants()) expect(text.includes(`onBoth("${id}"`), id).toBe(true);
  });

  it("[HARNESS-MUTANT-2] a mutant model describes itself by its adapter name; unknown ids are refused", async () => {
    const m = await createMutantModel("psi-mask-off-by-one");
    expect((await m.describe()).name).toBe("mutant:psi-mask-off-by-one");
    await m.close();
    await expect(createMutantModel("no-such-bug")).rejects.toThrow(/unknown mutant "no-such-bug"/);
  });

  it("[HARNESS-MUTANT-4] the kill-time benchmark has a hand-written trace length for every mutant", () => {
    for (const { id } of listMutants()) {
      expect(HAND_WRITTEN[id]?.steps, id).toBeGreaterThan(0);
      expect(HAND_WRITTEN[id]?.why, id).not.toBe("");
    }
    expect(Object.keys(HAND_WRITTEN).sort()).toEqual(
      listMutants()
        .map((m) => m.id)
        .sort(),
    );
  });
});
