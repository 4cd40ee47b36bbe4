/**
 * Issue 13's done-criterion, shown by a run: every listed case has a test that fails on the code
 * before the issue's work and passes now.
 *
 *   npx tsx bench/fails-before.ts [OLD_COMMIT]      (default 302f9d5; prints a Markdown table)
 *
 * The old commit is unpacked (git archive) into a temporary directory with its own dependencies
 * (npm install). Two kinds of test:
 * - cli: the test drives the command (or reads the package files) of the checkout named by
 *   IOMMU_CLI_ROOT (test/harness/cli-fixtures.ts): run from this tree with it pointing at the old
 *   tree, so the old command meets today's test and fixtures.
 * - lib: the test imports the library: today's test/ is copied over the old tree's and run there,
 *   against the old src/. A test that cannot even load there (the module or export it imports did
 *   not exist) says so in the table: the missing API is the "before".
 * Then every test runs once more here, on the new code. Long: a few minutes on 2 cores.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const OLD = process.argv[2] ?? "302f9d5";

interface Item {
  item: string;
  mode: "cli" | "lib";
  file: string;
  /** A substring of the test's full name. */
  test: string;
}

const ITEMS: Item[] = [
  {
    item: "SIGINT/SIGTERM: partial reports, model's process group ended (run)",
    mode: "cli",
    file: "test/harness/cli-ci.test.ts",
    test: "results streamed, partial reports written",
  },
  {
    item: "results streamed when stdout is not a terminal",
    mode: "cli",
    file: "test/harness/cli-ci.test.ts",
    test: "SIGTERM: results streamed",
  },
  {
    item: "SIGINT/SIGTERM: mutants (one process, --jobs)",
    mode: "cli",
    file: "test/mutants/cli-signals.test.ts",
    test: "[HARNESS-STOP-4]",
  },
  {
    item: "SIGINT/SIGTERM: QEMU ended (real QEMU)",
    mode: "cli",
    file: "test/platform/qemu/interrupt.test.ts",
    test: "every QEMU of the run ended",
  },
  {
    item: "interrupt stops the running property; while shrinking keeps the failure",
    mode: "lib",
    file: "test/harness/runner.test.ts",
    test: "[HARNESS-STOP-1]",
  },
  {
    item: "--out checked first (file, /proc/nope, unwritable)",
    mode: "cli",
    file: "test/harness/cli-ci.test.ts",
    test: "--out that is a file",
  },
  {
    item: "unwritable trace keeps a failure a failure",
    mode: "cli",
    file: "test/harness/cli-ci.test.ts",
    test: "a trace that cannot be written",
  },
  {
    item: "70 MiB line from a model: 'line too long' at once (client)",
    mode: "lib",
    file: "test/platform/stdio-broken.test.ts",
    test: "70 MiB line without a newline",
  },
  {
    item: "70 MiB line into serve: 'line too long' at once (server)",
    mode: "cli",
    file: "test/platform/stdio-serve-limits.test.ts",
    test: "serve: a 70 MiB request",
  },
  {
    item: "bounded line reader (server side)",
    mode: "lib",
    file: "test/platform/stdio-serve-limits.test.ts",
    test: "lines across chunks",
  },
  {
    item: "4 MiB readGuest/writeGuest through codec, schema and serve",
    mode: "lib",
    file: "test/platform/stdio-roundtrip.test.ts",
    test: "a 4 MiB writeGuest",
  },
  {
    item: "module: factory returning a non-model is named",
    mode: "cli",
    file: "test/harness/cli-ci.test.ts",
    test: "a module: factory that returns no Model",
  },
  {
    item: "--seed above 32 bits rejected",
    mode: "cli",
    file: "test/harness/cli-ci.test.ts",
    test: "a seed beyond 32 bits",
  },
  {
    item: "stale .tmp traces removed",
    mode: "cli",
    file: "test/harness/cli-ci.test.ts",
    test: "temporary files a killed run left",
  },
  {
    item: "list rules | head: no EPIPE stack",
    mode: "cli",
    file: "test/harness/cli-ci.test.ts",
    test: "list rules | head ends quietly",
  },
  {
    item: "--time-limit: INCOMPLETE, exit 3 (CLI)",
    mode: "cli",
    file: "test/harness/cli-ci.test.ts",
    test: "a run the time limit cuts short",
  },
  {
    item: "--time-limit: INCOMPLETE, not PASS (runner)",
    mode: "lib",
    file: "test/harness/runner.test.ts",
    test: "a property the time limit cuts short is incomplete",
  },
  {
    item: "JUnit bodies and skip messages",
    mode: "lib",
    file: "test/harness/reports.test.ts",
    test: "[HARNESS-REPORT-5]",
  },
  {
    item: "several report formats at once, text still on stdout",
    mode: "lib",
    file: "test/harness/reports.test.ts",
    test: "every format has its own file",
  },
  {
    item: "--report junit keeps the text on stdout (CLI)",
    mode: "cli",
    file: "test/harness/cli.test.ts",
    test: "JUnit goes to junit.xml, the text to stdout",
  },
  {
    item: "JSON report versioned, with a schema",
    mode: "lib",
    file: "test/harness/reports.test.ts",
    test: "the JSON report is valid against schema",
  },
  {
    item: "replay --report json has a format and version",
    mode: "cli",
    file: "test/harness/reports.test.ts",
    test: "replay --report json has a format",
  },
  {
    item: "sharding: --shard i/n and merge, same verdicts as one run",
    mode: "cli",
    file: "test/harness/shard-merge.test.ts",
    test: "a two-shard run merged",
  },
  {
    item: "--shard usage checked",
    mode: "cli",
    file: "test/harness/cli-ci.test.ts",
    test: "--shard is INDEX/COUNT",
  },
  {
    item: "progress line with an estimate on a terminal",
    mode: "lib",
    file: "test/harness/reports.test.ts",
    test: "on a terminal one progress line",
  },
  {
    item: "'!glob' excludes (picomatch)",
    mode: "lib",
    file: "test/harness/runner.test.ts",
    test: "a glob starting with ! excludes",
  },
  {
    item: "colours only on a terminal, NO_COLOR (library)",
    mode: "lib",
    file: "test/harness/reports.test.ts",
    test: "colours only on a terminal",
  },
  {
    item: "no colours in a pipe (CLI)",
    mode: "cli",
    file: "test/harness/cli-ci.test.ts",
    test: "no colours in a pipe",
  },
  {
    item: "packed package imports and runs from a fresh ESM project; CommonJS told",
    mode: "cli",
    file: "test/package/pack.test.ts",
    test: "",
  },
  {
    item: ".ts model in a CommonJS project explained",
    mode: "cli",
    file: "test/harness/cli-ci.test.ts",
    test: "an ES-module model in a CommonJS package",
  },
  {
    item: "module:PATH?key=value options",
    mode: "lib",
    file: "test/harness/adapter-spec.test.ts",
    test: "module:",
  },
  {
    item: "docs/adapters.md examples (module: and stdio:) run",
    mode: "cli",
    file: "test/package/adapters-doc.test.ts",
    test: "",
  },
  {
    item: "@fast-check/vitest and other unused dependencies removed",
    mode: "cli",
    file: "test/package/dependencies.test.ts",
    test: "",
  },
  {
    item: "README/docs links stay inside the repository",
    mode: "cli",
    file: "test/package/links.test.ts",
    test: "",
  },
];

interface Outcome {
  name: string;
  status: string;
  message: string;
}

/** Per file: its tests' outcomes, or the reason the file did not load. */
type Results = Map<string, { loadError?: string; tests: Outcome[] }>;

function vitest(cwd: string, files: string[], env: NodeJS.ProcessEnv, label: string): Results {
  const out = join(tmpdir(), `fails-before-${label}-${process.pid}.json`);
  const r = spawnSync("npx", ["vitest", "run", ...files, "--reporter=json", `--outputFile=${out}`], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "inherit"],
    timeout: 30 * 60_000,
  });
  const results: Results = new Map();
  if (!existsSync(out)) {
    process.stderr.write(`fails-before: vitest (${label}) wrote no report (status ${r.status})\n`);
    return results;
  }
  const json = JSON.parse(readFileSync(out, "utf8")) as {
    testResults: Array<{
      name: string;
      message?: string;
      assertionResults: Array<{ fullName: string; status: string; failureMessages: string[] }>;
    }>;
  };
  for (const f of json.testResults) {
    const file = f.name.startsWith(cwd) ? f.name.slice(cwd.length).replace(/^\//, "") : f.name;
    const tests = f.assertionResults.map((a) => ({
      name: a.fullName,
      status: a.status,
      message: firstLine(a.failureMessages[0] ?? ""),
    }));
    results.set(file, {
      // A file that did not load, or whose beforeAll failed (its tests then read "skipped").
      ...(f.message && tests.every((t) => t.status !== "passed" && t.status !== "failed")
        ? { loadError: firstLine(f.message) }
        : {}),
      tests,
    });
  }
  rmSync(out, { force: true });
  return results;
}

function firstLine(text: string): string {
  const line =
    stripVTControlCharacters(text)
      .split("\n")
      .find((l) => l.trim() !== "") ?? "";
  return line.trim().slice(0, 140).replace(/\|/g, "\\|");
}

/** One cell: passed / failed (why) / skipped / did not load (why). */
function verdict(results: Results, item: Item): string {
  const file = results.get(item.file);
  if (file === undefined) return "not run";
  if (file.loadError !== undefined) return `**fails: cannot load or set up** (${file.loadError})`;
  const tests = file.tests.filter((t) => t.name.includes(item.test));
  if (tests.length === 0) return "no such test";
  const failed = tests.filter((t) => t.status === "failed");
  if (failed.length > 0) return `**fails** ${failed.length}/${tests.length} (${failed[0]?.message ?? ""})`;
  if (tests.every((t) => t.status === "skipped" || t.status === "pending")) return "skipped";
  return `passes ${tests.length}/${tests.length}`;
}

const work = mkdtempSync(join(tmpdir(), "fails-before-"));
const old = join(work, "old");
try {
  process.stderr.write(`fails-before: unpacking ${OLD} into ${old}\n`);
  execFileSync("sh", ["-c", `mkdir -p '${old}' && git archive '${OLD}' | tar -x -C '${old}'`], { cwd: ROOT });
  // The old lock file is out of step with its package.json (npm ci refuses it): install.
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts"], {
    cwd: old,
    stdio: "ignore",
  });

  const cliFiles = [...new Set(ITEMS.filter((i) => i.mode === "cli").map((i) => i.file))];
  const libFiles = [...new Set(ITEMS.filter((i) => i.mode === "lib").map((i) => i.file))];
  process.stderr.write("fails-before: today's tests against the old command\n");
  const oldCli = vitest(ROOT, cliFiles, { IOMMU_CLI_ROOT: old }, "old-cli");
  process.stderr.write("fails-before: today's tests against the old library\n");
  rmSync(join(old, "test"), { recursive: true, force: true });
  cpSync(join(ROOT, "test"), join(old, "test"), { recursive: true });
  const oldLib = vitest(old, libFiles, {}, "old-lib");
  process.stderr.write("fails-before: the same tests on the new code\n");
  const now = vitest(ROOT, [...new Set([...cliFiles, ...libFiles])], {}, "new");

  const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  const oldFull = execFileSync("git", ["rev-parse", "--short", OLD], { cwd: ROOT, encoding: "utf8" }).trim();
  const lines = [
    `Old: ${oldFull}; new: ${head}. Command: \`npx tsx bench/fails-before.ts ${OLD}\`.`,
    "",
    "| item | test (file: name contains) | how | old code | new code |",
    "|---|---|---|---|---|",
  ];
  for (const item of ITEMS) {
    const before = verdict(item.mode === "cli" ? oldCli : oldLib, item);
    const after = verdict(now, item);
    const name = item.test === "" ? "(every test)" : `"${item.test.replace(/\|/g, "\\|")}"`;
    lines.push(`| ${item.item} | ${item.file}: ${name} | ${item.mode} | ${before} | ${after} |`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
