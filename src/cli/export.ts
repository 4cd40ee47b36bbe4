/**
 * `iommu-conformance export TRACE --format qtest|jsonl`: a standalone reproducer of a trace in a
 * directory of its own. [HARNESS-EXPORT-1]
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { parseAdapterSpec } from "../adapters/adapter-spec.ts";
import { detectQemu } from "../adapters/qemu/process.ts";
import { createReferenceModel } from "../adapters/reference.ts";
import { displayPath } from "../runner/commands.ts";
import { exportJsonl } from "../runner/export/jsonl.ts";
import { ExportRefused, exportQtest } from "../runner/export/qtest.ts";
import { performStep } from "../trace/calls.ts";
import { loadTraceFile } from "../trace/load.ts";
import type { StepOutcome, Trace } from "../trace/types.ts";
import { type CliIO, EXIT_ERROR, EXIT_OK, UsageError } from "./errors.ts";

export interface ExportOptions {
  format: "qtest" | "jsonl";
  out?: string;
  /** qtest: the QEMU to write for (default: the one the trace names). */
  adapter?: string;
}

/** Each step's outcome on the reference model: the replies the specification gives. */
async function specReplies(trace: Trace): Promise<Array<StepOutcome | undefined>> {
  const model = await createReferenceModel();
  try {
    const out: Array<StepOutcome | undefined> = [];
    for (const step of trace.steps) out.push(await performStep(model, step.op, step.args));
    return out;
  } finally {
    await model.close();
  }
}

export async function exportCommand(target: string, opts: ExportOptions, io: CliIO): Promise<number> {
  const file = resolve(io.cwd, target);
  const trace = await loadTraceFile(file);
  const name = basename(file).replace(/\.json$/, "");
  const dir = resolve(io.cwd, opts.out ?? join("out", "export", `${name}.${opts.format}`));
  const spec = await specReplies(trace);
  let files: Record<string, string | Uint8Array>;
  if (opts.format === "jsonl") files = exportJsonl(trace, spec).files;
  else {
    const adapter = parseAdapterSpec(opts.adapter ?? trace.adapter);
    if (adapter.kind !== "qemu")
      throw new UsageError(
        `--format qtest needs a QEMU trace or --adapter qemu[:root=DIR] (the trace names ${trace.adapter})`,
      );
    const o = adapter.options as Record<string, string>;
    const install = await detectQemu({
      ...(o.qemu ? { qemu: o.qemu } : {}),
      ...(o.root ? { root: o.root } : {}),
    });
    try {
      files = (await exportQtest(trace, install, { spec, traceName: basename(file) })).files;
    } catch (e) {
      if (e instanceof ExportRefused) {
        io.err(`refused: ${e.message}\n`);
        return EXIT_ERROR;
      }
      throw e;
    }
  }
  await mkdir(dir, { recursive: true });
  for (const [f, content] of Object.entries(files)) await writeFile(join(dir, f), content);
  if (files["reproduce.sh"] !== undefined) await chmod(join(dir, "reproduce.sh"), 0o755);
  const shown = displayPath(dir, io.cwd);
  io.out(
    opts.format === "qtest"
      ? `wrote ${shown}/: reproduce.sh, commands.qtest, cmdline; run: sh ${shown}/reproduce.sh\n`
      : `wrote ${shown}/: requests.jsonl, expected.jsonl, README\n`,
  );
  return EXIT_OK;
}
