/**
 * `iommu-conformance qemu …`: preparing and checking the QEMUs the `qemu` adapter drives.
 *   qemu setup [--root DIR]     make the Debian sid root with QEMU 11.1 [QEMU-SETUP-1]
 *   qemu status [--root DIR]    which QEMUs are installed, their versions, or how to install them
 *   qemu findings [--dir DIR]   replay the recorded QEMU findings on every installed QEMU and
 *                               compare each verdict with the one recorded for that version
 *                               [QEMU-FIND-1] [QEMU-FIND-2]
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { detectQemu } from "../adapters/qemu/process.ts";
import { DEFAULT_ROOT, qemuSetup } from "../adapters/qemu/setup.ts";
import { nestedDir, nestedSetup, nestedStatus } from "../adapters/qemu-nested/setup.ts";
import type { PropertyDefinition } from "../cases/property.ts";
import { type CliIO, EXIT_ERROR, EXIT_FAILED, EXIT_OK } from "./errors.ts";
import { FINDINGS_DIR, type FindingRow, type QemuTarget } from "./qemu-expectations.ts";

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
      // The replaying half is loaded only here: it needs the registry, the oracle and the adapters.
      const { checkFindings } = await import("./qemu-findings.ts");
      const { loadRegistry } = await import("./registry.ts");
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
