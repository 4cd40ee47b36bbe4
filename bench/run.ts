/**
 * `npm run bench`: runs every benchmark and prints its figures next to its targets.
 * Figures are measured, never asserted: a missed target is reported, not failed.
 * `npm run bench -- translation properties` runs only the named groups
 * (translation, mutants, properties, startup, stryker); with no names, all but stryker (~45 min). `mutants=ID,ID` measures only
 * the named mutants.
 */
import { printMutantBench } from "./mutants.ts";
import { printPropertyBench } from "./properties.ts";
import { printStartupBench } from "./startup.ts";
import { printStrykerBench } from "./stryker.ts";
import { runTranslationBench } from "./translation.ts";

function fmt(opsPerSecond: number): string {
  return `${(opsPerSecond / 1e6).toFixed(2)} M/s`;
}

// A group may name its subjects: `mutants=id,id` measures only those mutants.
const args = process.argv.slice(2).map((a) => a.split("=") as [string, string?]);
const wanted = new Set(args.map(([g]) => g));
const subjects = new Map(args.map(([g, list]) => [g, list?.split(",").filter((x) => x !== "")]));
const want = (group: string): boolean => wanted.size === 0 || wanted.has(group);

async function translation(): Promise<void> {
  console.log("translation throughput of the reference vIOMMU (one core; per second of process CPU time)");
  const figures = await runTranslationBench();
  const by = new Map(figures.map((f) => [f.name, f.opsPerSecond]));
  for (const f of figures) console.log(`  ${f.name.padEnd(46)} ${fmt(f.opsPerSecond).padStart(11)}`);
  const bare = by.get("bare 4-level walk (floor)") ?? 0;
  const cold = by.get("reference cold walk, 4 KiB") ?? 0;
  const hit = by.get("reference IOTLB hit, 4 KiB") ?? 0;
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  console.log("targets");
  console.log(`  cold walk >= 2 M/s: ${fmt(cold)} (${verdict(cold >= 2e6)})`);
  console.log(`  IOTLB hit >= 10 M/s: ${fmt(hit)} (${verdict(hit >= 10e6)})`);
  const ratio = cold > 0 ? bare / cold : Number.POSITIVE_INFINITY;
  console.log(
    `  reference cold walk within 3x of the bare walk: ${ratio.toFixed(2)}x (${verdict(ratio <= 3)})`,
  );
}

async function main(): Promise<void> {
  for (const group of wanted) {
    if (!["translation", "mutants", "properties", "startup", "stryker"].includes(group)) {
      console.error(
        `bench: unknown group '${group}' (known: translation, mutants, properties, startup, stryker)`,
      );
      process.exit(2);
    }
  }
  if (want("translation")) await translation();
  if (want("mutants")) await printMutantBench(subjects.get("mutants"));
  if (want("properties")) await printPropertyBench();
  if (want("startup")) await printStartupBench();
  // Stryker takes ~45 minutes: only when named.
  if (wanted.has("stryker")) await printStrykerBench(subjects.get("stryker"));
}

await main();
