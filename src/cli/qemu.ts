/**
 * `iommu-conformance qemu …`: preparing and checking the QEMUs the `qemu` adapter drives.
 *   qemu setup [--root DIR]     make the Debian sid root with QEMU 11.1 [QEMU-SETUP-1]
 *   qemu status [--root DIR]    which QEMUs are installed, their versions, or how to install them
 *   qemu findings [--dir DIR]   replay the recorded QEMU findings on every installed QEMU and
 *                               compare each verdict with the one recorded for that version
 *                               [QEMU-FIND-1] [QEMU-FIND-2]
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { loadAdapter } from "../adapters/adapter-spec.ts";
import { detectQemu, type QemuInstall } from "../adapters/qemu/process.ts";
import { DEFAULT_ROOT, qemuSetup } from "../adapters/qemu/setup.ts";
import { nestedDir, nestedSetup, nestedStatus } from "../adapters/qemu-nested/setup.ts";
import type { StepJudge } from "../cases/judge.ts";
import type { PropertyDefinition } from "../cases/property.ts";
import { type ReplayOutcome, replayTrace } from "../runner/replay.ts";
import { loadTraceFile } from "../trace/load.ts";
import { canonicalJson } from "../trace/serialize.ts";
import type { StepOutcome, Trace } from "../trace/types.ts";
import { type CliIO, EXIT_ERROR, EXIT_FAILED, EXIT_OK } from "./errors.ts";
import { loadRegistry } from "./registry.ts";

/** Where the findings live, relative to the repository. */
export const FINDINGS_DIR = "reference-traces/qemu";

/** A replay verdict, or `refused`: this QEMU cannot build the trace's configuration. */
export type FindingVerdict = ReplayOutcome | "refused";

/** The sidecar `<id>.expect` beside a finding's trace `<id>.json` [QEMU-FIND-1]. */
export interface FindingExpectation {
  finding: string;
  /** The specification rule QEMU breaks (or the spec/ rule that records a choice). */
  rule: string;
  summary: string;
  /** The `--version` line of the QEMU the trace was recorded on. */
  recordedOn: string;
  /** Expected verdict per QEMU version ("7.2", "11.1"). */
  expected: Record<string, FindingVerdict>;
}

export interface QemuTarget {
  /** The adapter spec that runs this QEMU. */
  adapter: string;
  install: QemuInstall;
  /** "major.minor". */
  version: string;
}

/** The root to use: --root, else IOMMU_QEMU_ROOT, else .cache/qemu-sid under cwd. */
export function rootOf(root: string | undefined, cwd: string): string {
  return resolve(cwd, root ?? process.env.IOMMU_QEMU_ROOT ?? DEFAULT_ROOT);
}

/** The system QEMU and the one in the root, each with why it is missing when it is. */
export async function findQemus(
  root: string,
): Promise<Array<{ name: string; target?: QemuTarget; missing?: string }>> {
  const out: Array<{ name: string; target?: QemuTarget; missing?: string }> = [];
  const probe = async (name: string, adapter: string, opts: { root?: string }) => {
    try {
      const install = await detectQemu(opts);
      out.push({
        name,
        target: { adapter, install, version: `${install.version.major}.${install.version.minor}` },
      });
    } catch (e) {
      out.push({ name, missing: (e as Error).message });
    }
  };
  await probe("system QEMU", "qemu", {});
  if (!existsSync(root)) {
    out.push({ name: `QEMU in ${root}`, missing: `no root at ${root}: npx iommu-conformance qemu setup` });
  } else if (process.getuid?.() !== 0) {
    out.push({ name: `QEMU in ${root}`, missing: "running QEMU in a root needs root privileges (chroot)" });
  } else await probe(`QEMU in ${root}`, `qemu:root=${root}`, { root });
  return out;
}

/**
 * [QEMU-FIND-2] The judge of a finding: the judge of the property that recorded it (the oracle,
 * which also judges FSTS and fault records, ORACLE-CTL-5 and ORACLE-JUDGE-8). Only for a
 * property without a judge does the step the finding names decide: giving its recorded outcome
 * again reproduces it.
 */
export function findingJudge(trace: Trace, property: PropertyDefinition | undefined): StepJudge {
  const inner = property?.judge?.(trace);
  if (inner !== undefined) return inner;
  const failure = trace.failure;
  const recorded = failure === undefined ? undefined : trace.steps[failure.step];
  const key = (o: StepOutcome): string =>
    o.error !== undefined ? canonicalJson({ error: o.error.code }) : canonicalJson({ result: o.result });
  return {
    onStep(step, outcome) {
      if (failure !== undefined && recorded !== undefined && step.index === failure.step) {
        if (key(recorded) === key(outcome))
          return { ok: false, message: `gives the recorded deviation again: ${failure.message}` };
      }
      return { ok: true };
    },
  };
}

export interface FindingRow {
  finding: string;
  rule: string;
  qemu: string;
  expected: FindingVerdict | undefined;
  got: FindingVerdict;
  message: string;
  ok: boolean;
}

export async function readExpectation(file: string): Promise<FindingExpectation> {
  const e = JSON.parse(await readFile(file, "utf8")) as FindingExpectation;
  if (typeof e.finding !== "string" || typeof e.rule !== "string" || typeof e.expected !== "object")
    throw new Error(`${file}: needs finding, rule and expected`);
  return e;
}

/** The expectation for a version: exact, else the newest recorded one of the same major. */
export function expectedFor(e: FindingExpectation, version: string): FindingVerdict | undefined {
  if (e.expected[version] !== undefined) return e.expected[version];
  const major = version.split(".")[0];
  const same = Object.keys(e.expected)
    .filter((v) => v.split(".")[0] === major)
    .sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]));
  const last = same.at(-1);
  return last === undefined ? undefined : e.expected[last];
}

/** Every finding in `dir` (pairs of <id>.json and <id>.expect) against one QEMU. */
export async function checkFindings(
  dir: string,
  target: QemuTarget,
  properties: PropertyDefinition[],
  timeoutMs = 10_000,
): Promise<FindingRow[]> {
  const names = (await readdir(dir)).filter((f) => f.endsWith(".expect")).sort();
  const rows: FindingRow[] = [];
  const model = await loadAdapter(target.adapter, { timeoutMs });
  try {
    for (const name of names) {
      const e = await readExpectation(join(dir, name));
      const trace = await loadTraceFile(join(dir, name.replace(/\.expect$/, ".json")));
      const property = properties.find((p) => p.id === trace.property);
      const r = await replayTrace(trace, model, findingJudge(trace, property));
      const got: FindingVerdict =
        r.outcome === "error" && /refused the trace's configuration/.test(r.message) ? "refused" : r.outcome;
      const expected = expectedFor(e, target.version);
      rows.push({
        finding: e.finding,
        rule: e.rule,
        qemu: target.install.version.text,
        expected,
        got,
        message: r.message,
        ok: expected === got,
      });
    }
  } finally {
    await model.close().catch(() => undefined);
  }
  return rows;
}

function register(program: Command, io: CliIO, setCode: (code: number) => void): void {
  const qemu = program.command("qemu").description("set up and check the QEMUs the qemu adapter runs");
  const rootOption = () =>
    new Option(
      "--root <dir>",
      `the Debian sid root with QEMU 11.1 (default $IOMMU_QEMU_ROOT or ${DEFAULT_ROOT})`,
    );

  qemu
    .command("setup")
    .description("prepare QEMU 11.1 in a Debian sid root (idempotent; needs root and debootstrap)")
    .addOption(rootOption())
    .option("--nested", "also build what qemu:nested needs (L1 kernel, root copy, initramfs) beside the root")
    .action(async (opts: { root?: string; nested?: boolean }) => {
      try {
        const root = rootOf(opts.root, io.cwd);
        const t0 = Date.now();
        await qemuSetup({ root, log: (l) => io.out(`${l}\n`) });
        io.out(`sid root: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
        if (opts.nested) {
          // [QEMU-NEST-1]
          const r = await nestedSetup(root, (l) => io.out(`${l}\n`));
          const total = r.steps.reduce((a, x) => a + x.seconds, 0);
          io.out(
            `nested setup: ${total.toFixed(1)} s (${r.steps.filter((x) => !x.reused).length} steps done, ${r.steps.filter((x) => x.reused).length} reused)\n`,
          );
        }
        setCode(EXIT_OK);
      } catch (e) {
        io.err(`iommu-conformance qemu setup: ${(e as Error).message}\n`);
        setCode(EXIT_ERROR);
      }
    });

  qemu
    .command("status")
    .description("show the installed QEMUs and their versions, or how to install them")
    .addOption(rootOption())
    .action(async (opts: { root?: string }) => {
      const root = rootOf(opts.root, io.cwd);
      const found = await findQemus(root);
      for (const f of found) {
        if (f.target) io.out(`${f.name}: ${f.target.install.version.text} (--adapter ${f.target.adapter})\n`);
        else io.out(`${f.name}: not available: ${f.missing}\n`);
      }
      const n = await nestedStatus(root);
      if (n.ready && n.stamp)
        io.out(
          `nested setup in ${nestedDir(root)}: L1 kernel ${n.stamp.kernelRelease}, L2 ${n.stamp.qemu} (--adapter qemu:nested,root=${root})\n`,
        );
      else
        io.out(
          `nested setup: not available (missing ${n.missing.join(", ")}): iommu-conformance qemu setup --nested\n`,
        );
      setCode(found.some((f) => f.target) ? EXIT_OK : EXIT_ERROR);
    });

  qemu
    .command("findings")
    .description(
      "replay the recorded QEMU findings on each installed QEMU; compare with the recorded verdicts",
    )
    .addOption(rootOption())
    .option("--dir <dir>", "directory of findings (<id>.json trace + <id>.expect)", FINDINGS_DIR)
    .addOption(new Option("--report <format>", "report format").choices(["text", "json"]).default("text"))
    .action(async (opts: { root?: string; dir: string; report: "text" | "json" }) => {
      const dir = resolve(io.cwd, opts.dir);
      const found = await findQemus(rootOf(opts.root, io.cwd));
      let properties: PropertyDefinition[] = [];
      try {
        properties = await loadRegistry(undefined, io.cwd);
      } catch {
        // Without the registry the recorded deviation alone judges.
      }
      const rows: FindingRow[] = [];
      for (const f of found) {
        if (!f.target) {
          io.err(`skipped ${f.name}: ${f.missing}\n`);
          continue;
        }
        rows.push(...(await checkFindings(dir, f.target, properties)));
      }
      if (opts.report === "json") io.out(`${JSON.stringify(rows, null, 2)}\n`);
      else {
        for (const r of rows) {
          io.out(
            `${r.ok ? "AS RECORDED" : "CHANGED    "} ${r.finding} [${r.rule}] on ${r.qemu}: ${r.got}${r.ok ? "" : ` (recorded: ${r.expected ?? "nothing for this version"})`}\n`,
          );
          if (!r.ok) io.out(`    ${r.message}\n`);
        }
        io.out(`${rows.length} checks: ${rows.filter((r) => !r.ok).length} differ from the record\n`);
      }
      if (!found.some((f) => f.target)) setCode(EXIT_ERROR);
      else setCode(rows.every((r) => r.ok) ? EXIT_OK : EXIT_FAILED);
    });
}

export { register as registerQemuCommand };
