/**
 * The `iommu-conformance` command. Exit codes: 0 all held, 1 a property failed, 2 usage,
 * adapter or protocol error; unknown commands and options are usage errors. [HARNESS-EXIT-1]
 * [HARNESS-EXIT-2]
 */
import { availableParallelism } from "node:os";
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { AdapterLoadError, AdapterSpecError } from "../adapters/adapter-errors.ts";
import { parseCommandsReplayPath } from "../arbitraries/commands-replay-path.ts";
import { ModelRequestError, ProtocolError } from "../contract/errors.ts";
import { suiteVersion } from "../contract/suite-version.ts";
import { REPORT_FORMATS, type ReportFormat } from "../runner/reports/formats.ts";
import { TraceLoadError } from "../trace/load-error.ts";
import { wantsColor } from "./colors.ts";
import { type CliIO, EXIT_ERROR, EXIT_OK, UsageError } from "./errors.ts";
import { invocation } from "./invocation.ts";
import { LIST_TOPICS } from "./list-topics.ts";
import { registerQemuCommand } from "./qemu.ts";
import { parseShard } from "./shard.ts";

// Each command's module is imported when the command runs, so start-up loads only the parser and
// what the options need [HARNESS-PACKAGE-2].
function positiveInt(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError("must be a positive integer");
  }
  return Number(value);
}

/** fast-check seeds are 32-bit: a larger one would silently run as another seed. */
function seedValue(value: string): number {
  if (!/^-?[0-9]+$/.test(value)) throw new InvalidArgumentError("must be an integer");
  const n = Number(value);
  if (n < -0x8000_0000 || n > 0x7fff_ffff)
    throw new InvalidArgumentError(
      "fast-check seeds are 32-bit: give an integer from -2147483648 to 2147483647",
    );
  return n;
}

function reportFormats(value: string): ReportFormat[] {
  const formats = value.split(",").map((f) => f.trim());
  for (const f of formats) {
    if (!(REPORT_FORMATS as readonly string[]).includes(f))
      throw new InvalidArgumentError(
        `"${f}" is not a report format; choose from ${REPORT_FORMATS.join(", ")}`,
      );
  }
  return formats as ReportFormat[];
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError("must be a positive number");
  return n;
}

function pathValue(value: string): string {
  if (!/^[0-9]+(:[0-9]+)*$/.test(value))
    throw new InvalidArgumentError('must be a fast-check path such as "4:0:1"');
  return value;
}

function replayPathValue(value: string): string {
  if (parseCommandsReplayPath(value) === undefined)
    throw new InvalidArgumentError('must be a replay path as printed with a failure, such as "3@AB:E"');
  return value;
}

const timeoutOption = (): Option =>
  new Option("--timeout <ms>", "per-request timeout for stdio adapters, in milliseconds")
    .argParser(positiveInt)
    .default(10_000);
const registryOption = (): Option =>
  new Option("--registry <module>", "property registry module (default: properties/index.ts)");

function buildProgram(io: CliIO, setCode: (code: number) => void): Command {
  const program = new Command("iommu-conformance")
    .description("Property-based conformance suite for IOMMU models")
    .version(suiteVersion())
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError("(iommu-conformance --help shows the commands and options)");

  program
    .command("run")
    .description("run the properties against an adapter")
    .option(
      "--adapter <spec>",
      "reference, mutant:ID, qemu[:k=v,...], qemu:nested[,k=v,...], module:PATH or stdio:COMMAND",
      "reference",
    )
    .option("--property <glob>", "only properties whose id matches (globs, comma-separated; !GLOB excludes)")
    .addOption(new Option("--runs <n>", "cases per property").argParser(positiveInt).default(100))
    .addOption(new Option("--seed <s>", "fast-check seed (default: random, printed)").argParser(seedValue))
    .addOption(
      new Option("--path <p>", "replay one fast-check case (with --seed and one property)").argParser(
        pathValue,
      ),
    )
    .addOption(
      new Option(
        "--replay-path <r>",
        "with --path: fast-check's record of the commands that ran (N@PATH, printed with failures)",
      ).argParser(replayPathValue),
    )
    .addOption(
      new Option(
        "--report <formats>",
        `reports written to OUT, comma-separated: ${REPORT_FORMATS.join(", ")} (the text report is always on stdout)`,
      )
        .argParser(reportFormats)
        .default(["text"], "text"),
    )
    .option("--out <dir>", "directory for traces and the report files", "out")
    .addOption(
      new Option("--shard <i/n>", "run shard i of n of the selected properties (needs --seed)").argParser(
        parseShard,
      ),
    )
    .addOption(
      new Option("--time-limit <s>", "time budget for the whole run, in seconds").argParser(positiveNumber),
    )
    .option(
      "--known <ids|file>",
      "known deviations to tolerate: ID,ID…, a known-deviations file, or none (default for qemu: its recorded findings)",
    )
    .option(
      "--no-shrink",
      "report each property's first failing case as found, unshrunk (for slow models: a shrink step there is a whole case)",
    )
    .addOption(timeoutOption())
    .addOption(registryOption())
    .action(async (opts) => setCode(await (await import("./run.ts")).runCommand(opts, io)));

  program
    .command("merge")
    .description("merge the JSON reports of the shards of a run (run --shard i/n) into one report")
    .argument("<reports...>", "the shards' report.json files")
    .option("--out <dir>", "directory for the merged report files", "out")
    .addOption(
      new Option(
        "--report <formats>",
        `reports written to OUT, comma-separated: ${REPORT_FORMATS.join(", ")}`,
      )
        .argParser(reportFormats)
        .default(["json", "junit"], "json,junit"),
    )
    .action(async (files: string[], opts) =>
      setCode(await (await import("./merge.ts")).mergeCommand(files, opts, io)),
    );

  program
    .command("replay")
    .description("replay trace files against an adapter (default: the adapter each trace names)")
    .argument("<target>", "a trace file or a directory of them")
    .option("--adapter <spec>", "adapter to replay against")
    .option("--known <ids|file>", "known deviations to judge with their relaxations (ID,ID… or a file)")
    .addOption(new Option("--report <format>", "report format").choices(["text", "json"]).default("text"))
    .addOption(timeoutOption())
    .addOption(registryOption())
    .action(async (target: string, opts) =>
      setCode(await (await import("./replay.ts")).replayCommand(target, opts, io)),
    );

  program
    .command("reach")
    .description(
      "measure what the generators produce: every field's value classes, invalidations, edits, VMM events",
    )
    .addOption(new Option("--runs <n>", "cases per property").argParser(positiveInt).default(100))
    .addOption(new Option("--seed <s>", "fast-check seed").argParser(seedValue).default(1))
    .addOption(registryOption())
    .action(async (opts) => setCode(await (await import("./reach.ts")).reachCommand(opts, io)));

  program
    .command("export")
    .description(
      "write a standalone reproducer of a trace (qtest: QEMU and a shell script; jsonl: stdio requests)",
    )
    .argument("<trace>", "a trace file")
    .addOption(
      new Option("--format <format>", "reproducer format").choices(["qtest", "jsonl"]).makeOptionMandatory(),
    )
    .option("--out <dir>", "directory to write (default out/export/NAME.FORMAT)")
    .option("--adapter <spec>", "qtest: the QEMU to write for, qemu[:root=DIR] (default: the trace's)")
    .action(async (target: string, opts) =>
      setCode(await (await import("./export.ts")).exportCommand(target, opts, io)),
    );

  program
    .command("story")
    .description("tell a trace step by step: registers by name, descriptors and table entries decoded")
    .argument("<trace>", "a trace file")
    .action(async (target: string) => setCode(await (await import("./story.ts")).storyCommand(target, io)));

  program
    .command("list")
    .description("list properties, rules (with what cites them), mutants or adapters")
    .addArgument(new Argument("<topic>", "what to list").choices([...LIST_TOPICS]))
    .option("--html", "rules: the rule × property grid as an HTML page")
    .addOption(registryOption())
    .action(async (topic: string, opts) =>
      setCode(await (await import("./list.ts")).listCommand(topic, opts, io)),
    );

  program
    .command("mutants")
    .description("kill matrix: run the properties against every built-in mutant")
    .addOption(new Option("--runs <n>", "cases per property").argParser(positiveInt).default(100))
    .addOption(new Option("--seed <s>", "fast-check seed").argParser(seedValue))
    .option("--property <glob>", "only properties whose id matches")
    .option("--mutant <glob>", "only mutants whose id matches")
    .option("--all", "also run the properties that fail on the reference (their kills do not count)")
    .addOption(
      new Option("--jobs <n>", "child processes to spread the mutants over")
        .argParser(positiveInt)
        .default(availableParallelism()),
    )
    .addOption(
      new Option("--unsound <ids>", "skip the baseline: these properties fail on the reference").hideHelp(),
    )
    .option("--out <dir>", "directory for traces", "out")
    .addOption(
      new Option("--report <format>", "report format (html: OUT/mutants.html)")
        .choices(["text", "json", "html"])
        .default("text"),
    )
    .addOption(timeoutOption())
    .addOption(registryOption())
    .action(async (opts) => setCode(await (await import("./mutants.ts")).mutantsCommand(opts, io)));

  program
    .command("serve")
    .description("serve a model (default: the reference) over the stdio protocol on stdin/stdout")
    .option("--adapter <spec>", "the adapter to serve", "reference")
    .addOption(timeoutOption())
    .action(async (opts) => setCode(await (await import("./serve.ts")).serveCommand(opts, io)));

  registerQemuCommand(program, io, setCode);
  return program;
}

export function processIO(): CliIO {
  return {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    isTTY: process.stdout.isTTY === true,
    color: wantsColor(process.stdout.isTTY === true),
    ...(process.stdout.isTTY === true ? { terminal: process.stdout } : {}),
    cwd: process.cwd(),
    invocation: invocation(process.cwd()),
  };
}

/** Run the command line `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed its message; help and version are not errors.
      return e.code === "commander.helpDisplayed" || e.code === "commander.version" ? EXIT_OK : EXIT_ERROR;
    }
    if (e instanceof TraceLoadError) {
      io.err(`${e.message}\n`);
      return EXIT_ERROR;
    }
    const known =
      e instanceof UsageError ||
      e instanceof AdapterSpecError ||
      e instanceof AdapterLoadError ||
      e instanceof ProtocolError ||
      e instanceof ModelRequestError;
    const message = e instanceof Error ? e.message : String(e);
    io.err(`iommu-conformance: ${known ? "" : "internal error: "}${message}\n`);
    if (!known && e instanceof Error && e.stack !== undefined) io.err(`${e.stack}\n`);
    return EXIT_ERROR;
  }
}
