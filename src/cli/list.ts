/** `iommu-conformance list properties|rules|mutants|adapters`. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ADAPTER_FORMS, importBuiltIn } from "../adapters/adapter-spec.ts";
import { MODULE_EXT, PACKAGE_ROOT } from "../contract/package-files.ts";
import { ruleGridHtml } from "../runner/reports/html.ts";
import { type CliIO, EXIT_OK, UsageError } from "./errors.ts";
import { LIST_TOPICS } from "./list-topics.ts";
import { loadRegistry } from "./registry.ts";
import { addDeclaredRules, parseRules, rulesReport, scanCitations } from "./rules.ts";

/** The repository root (where spec/, test/ and properties/ are). */
export const REPO_ROOT = PACKAGE_ROOT;

export async function listCommand(
  topic: string,
  opts: { registry?: string; html?: boolean },
  io: CliIO,
): Promise<number> {
  switch (topic) {
    case "properties": {
      const props = await loadRegistry(opts.registry, io.cwd);
      if (props.length === 0) io.out("no properties are registered (properties/index.ts is empty)\n");
      for (const p of props)
        io.out(`${p.id}: ${p.title}${p.rules.length > 0 ? `\n    rules: ${p.rules.join(", ")}` : ""}\n`);
      return EXIT_OK;
    }
    case "rules": {
      const rules = await parseRules(join(REPO_ROOT, "spec"));
      // [HARNESS-HTML-1] the rule × property grid as one HTML page.
      if (opts.html === true) {
        io.out(ruleGridHtml(rules, await loadRegistry(opts.registry, io.cwd)));
        return EXIT_OK;
      }
      const citations = addDeclaredRules(
        await scanCitations(REPO_ROOT),
        await loadRegistry(opts.registry, io.cwd),
      );
      io.out(rulesReport(rules, citations, REPO_ROOT));
      return EXIT_OK;
    }
    case "mutants": {
      for (const m of await listMutants()) io.out(`${m.id}${m.description ? `: ${m.description}` : ""}\n`);
      return EXIT_OK;
    }
    case "adapters": {
      // The built-in adapters' modules, beside this file's folder, as source or compiled.
      const have = (rel: string): string =>
        existsSync(fileURLToPath(new URL(`../adapters/${rel}${MODULE_EXT}`, import.meta.url)))
          ? ""
          : "  (not in this build)";
      const notes: Record<(typeof ADAPTER_FORMS)[number], string> = {
        "reference[:key=value,...]": `the reference model; options: cache capacities (context, pasid, iotlb, psc)${have("reference")}`,
        "mutant:ID": `the reference with one known bug; see \`list mutants\`${have("mutants")}`,
        "qemu[:key=value,...]": `QEMU's intel-iommu over qtest${have("qemu/adapter")}`,
        "qemu:nested[,key=value,...]": `QEMU's VMM side: a passed-through device in a nested guest (qemu setup --nested)${have("qemu-nested/adapter")}`,
        "module:PATH[?key=value,...]":
          "a module exporting createModel(options) (or a default factory) returning a Model; see docs/adapters.md",
        "stdio:COMMAND": "a process speaking the JSON-lines protocol of docs/protocol.md",
      };
      for (const form of ADAPTER_FORMS) io.out(`${form.padEnd(28)} ${notes[form]}\n`);
      return EXIT_OK;
    }
    default:
      throw new UsageError(`unknown list topic "${topic}"; choose one of ${LIST_TOPICS.join(", ")}`);
  }
}

export async function listMutants(): Promise<Array<{ id: string; description?: string }>> {
  const m = await importBuiltIn("mutants", "mutant");
  const list = m.listMutants;
  if (typeof list !== "function")
    throw new UsageError("adapter mutant is not available in this build (no listMutants export)");
  return ((list as () => Array<string | { id: string; description?: string; title?: string }>)() ?? []).map(
    (x) =>
      typeof x === "string"
        ? { id: x }
        : { id: x.id, ...((x.description ?? x.title) ? { description: x.description ?? x.title } : {}) },
  );
}
