/**
 * The CLI as a CI job uses it: interrupted, cut short by a time limit, given bad options, read
 * through a pipe. Every test spawns the real command.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { validateReport } from "../../src/runner/reports/validate.ts";
import { BIN, BUGGY, HONEST, REGISTRY, type Result, ROOT } from "./cli-fixtures.ts";
import { alive } from "./proc-fixtures.ts";

function cli(...args: string[]): Promise<Result> {
  return shell(["node", BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" "));
}

function shell(command: string, env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  return new Promise((resolve) => {
    execFile("sh", ["-c", command], { cwd: ROOT, timeout: 60_000, env }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const tempDir = (): Promise<string> => mkdtemp(join(tmpdir(), "iommu-ci-"));
const noStack = /\n\s+at /;

/** Resolves when `child`'s stdout has shown `pattern`, with what it printed so far. */
function waitFor(child: ChildProcess, pattern: RegExp, seen: { out: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`never printed ${pattern}: ${seen.out}`)), 45_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      seen.out += chunk.toString();
      if (pattern.test(seen.out)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

describe("interrupting a run", () => {
  it.each(["SIGINT", "SIGTERM"] as const)(
    "[HARNESS-STOP-1] [HARNESS-REPORT-1] %s: results streamed, partial reports written, the model's process group ended",
    async (signal) => {
      const out = await tempDir();
      const helperPid = join(out, "helper.pid");
      // A stdio model that started a helper of its own.
      const model = `stdio:sleep 300 & echo $! > ${helperPid}; exec node ${BIN} serve --adapter ${HONEST}`;
      const child = spawn(
        "node",
        [
          BIN,
          "run",
          "--registry",
          REGISTRY,
          "--adapter",
          model,
          "--property",
          "test-needs-host,test-register-round-trip",
        ].concat(["--runs", "100000000", "--seed", "5", "--out", out, "--report", "text,json,junit"]),
        { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
      );
      const seen = { out: "" };
      let stderr = "";
      child.stderr?.on("data", (c: Buffer) => {
        stderr += c.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      // Streamed although stdout is a pipe: the skip is printed while the next property runs.
      await waitFor(child, /^SKIP {2}test-needs-host: /m, seen);
      expect(child.exitCode).toBe(null);
      const helper = Number((await readFile(helperPid, "utf8")).trim());
      expect(alive(helper)).toBe(true);
      child.kill(signal);
      const code = await exited;
      expect(code).toBe(signal === "SIGINT" ? 130 : 143);
      expect(stderr).toContain(`${signal}: stopping; writing the partial report`);
      expect(stderr).not.toMatch(noStack);
      expect(seen.out).toMatch(
        /^INCOMPLETE test-register-round-trip: .*\n {6}incomplete: interrupted by SIG/m,
      );
      expect(seen.out).toMatch(
        new RegExp(
          `^0 passed, 0 failed, 1 skipped, 0 errors, 1 incomplete in .* \\(interrupted: ${signal}\\)$`,
          "m",
        ),
      );
      const report = JSON.parse(await readFile(join(out, "report.json"), "utf8"));
      expect(validateReport(report)).toEqual([]);
      expect(report.interrupted).toBe(signal);
      expect(report.results.map((r: { status: string }) => r.status)).toEqual(["skip", "incomplete"]);
      expect(await readFile(join(out, "junit.xml"), "utf8")).toMatch(
        /<skipped message="incomplete: interrupted by /,
      );
      expect(await readFile(join(out, "report.txt"), "utf8")).toContain(
        "INCOMPLETE test-register-round-trip",
      );
      expect(alive(helper)).toBe(false);
    },
  );

  it("[HARNESS-STOP-2] [HARNESS-EXIT-3] a run the time limit cuts short is incomplete and exits 3", async () => {
    const out = await tempDir();
    const r = await cli(
      "run",
      "--registry",
      REGISTRY,
      "--adapter",
      HONEST,
      "--property",
      "test-register-round-trip",
      "--runs",
      "100000000",
      "--seed",
      "1",
      "--time-limit",
      "1",
      "--out",
      out,
    );
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(
      /^INCOMPLETE test-register-round-trip: .*\n {6}incomplete: the time limit stopped it after \d+ of 100000000 cases$/m,
    );
    expect(r.stdout).not.toMatch(/^PASS/m);
  });
});

describe("bad input is a usage error at once", () => {
  it("[HARNESS-OUT-1] --out that is a file, cannot be created or cannot be written exits 2 before running", async () => {
    const dir = await tempDir();
    const file = join(dir, "taken");
    await writeFile(file, "x");
    const base = ["run", "--registry", REGISTRY, "--adapter", HONEST, "--runs", "5", "--seed", "1"];
    const isFile = await cli(...base, "--out", file);
    expect(isFile.code).toBe(2);
    expect(isFile.stderr).toBe(`iommu-conformance: --out ${file}: exists and is not a directory\n`);
    expect(isFile.stdout).toBe("");
    const proc = await cli(...base, "--out", "/proc/nope");
    expect(proc.code).toBe(2);
    expect(proc.stderr).toMatch(
      /^iommu-conformance: --out \/proc\/nope: cannot create the directory \(ENOENT: .*\)\n$/,
    );
    const unwritable = await cli(...base, "--out", "/proc/self");
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toMatch(
      /^iommu-conformance: --out \/proc\/self: cannot write in the directory \(E[A-Z]+: .*\)\n$/,
    );
  });

  it("[HARNESS-OUT-1] a trace that cannot be written leaves the failure a failure (exit 1, not 2)", async () => {
    const out = await tempDir();
    await writeFile(join(out, "traces"), "not a directory");
    const r = await cli(
      "run",
      "--registry",
      REGISTRY,
      "--adapter",
      BUGGY,
      "--property",
      "test-dma-read-sees-guest-write",
      "--runs",
      "200",
      "--seed",
      "7",
      "--out",
      out,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}test-dma-read-sees-guest-write: /m);
    expect(r.stdout).toMatch(/the trace could not be written: /);
  });

  it("[HARNESS-EXIT-2] a seed beyond 32 bits is rejected, not truncated", async () => {
    const r = await cli("run", "--seed", "9007199254740991");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "option '--seed <s>' argument '9007199254740991' is invalid. fast-check seeds are 32-bit: give an integer from -2147483648 to 2147483647",
    );
  });

  it("[HARNESS-ADAPTER-2] a module: factory that returns no Model is named precisely", async () => {
    const r = await cli(
      "run",
      "--registry",
      REGISTRY,
      "--adapter",
      "module:test/fixtures/adapters/not-a-model.ts",
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "iommu-conformance: adapter module:test/fixtures/adapters/not-a-model.ts: the factory's result is not a Model (no reset, close methods); see docs/adapters.md\n",
    );
  });

  it("[HARNESS-ADAPTER-3] an ES-module model in a CommonJS package is explained", async () => {
    const r = await cli(
      "run",
      "--registry",
      REGISTRY,
      "--adapter",
      "module:test/fixtures/adapters/commonjs/model.ts",
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^iommu-conformance: adapter module:test\/fixtures\/adapters\/commonjs\/model.ts could not be imported: /,
    );
    expect(r.stderr).toContain('name the file .mjs/.mts or set "type": "module" in its package.json');
    expect(r.stderr).not.toMatch(noStack);
  });

  it("[HARNESS-SHARD-1] --shard is INDEX/COUNT and needs --seed", async () => {
    const bad = await cli("run", "--shard", "3/2");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("must be INDEX/COUNT with 1 <= INDEX <= COUNT");
    const noSeed = await cli("run", "--registry", REGISTRY, "--adapter", HONEST, "--shard", "1/2");
    expect(noSeed.code).toBe(2);
    expect(noSeed.stderr).toBe(
      "iommu-conformance: --shard needs --seed, so that every shard runs the same cases\n",
    );
  });
});

describe("files and pipes", () => {
  it("[HARNESS-TRACE-4] temporary files a killed run left are removed when the next run starts", async () => {
    const out = await tempDir();
    await mkdir(join(out, "traces"));
    // pid 2^22 + 1 is above Linux's pid_max: no live process owns it.
    const stale = join(out, "traces", ".p-1.json.4194305.1.tmp");
    await writeFile(stale, "{");
    const r = await cli(
      "run",
      "--registry",
      REGISTRY,
      "--adapter",
      HONEST,
      "--runs",
      "5",
      "--seed",
      "1",
      "--out",
      out,
    );
    expect(r.code).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(await readdir(join(out, "traces"))).toEqual([]);
  });

  it("[HARNESS-EXIT-4] list rules | head ends quietly", async () => {
    const r = await shell(`node ${BIN} list rules | head -n 1`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\S/);
    expect(r.stderr).toBe("");
  });

  it("[HARNESS-REPORT-4] no colours in a pipe, even when asked for by the terminal type", async () => {
    const r = await shell(
      `node ${BIN} run --registry ${REGISTRY} --adapter ${HONEST} --runs 5 --seed 1 --out ${await tempDir()}`,
      { ...process.env, FORCE_COLOR: "1", TERM: "xterm-256color" },
    );
    expect(r.code).toBe(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape sequences
    expect(r.stdout).not.toMatch(/\u001b\[/);
  });
});
