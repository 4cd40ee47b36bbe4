/**
 * [HARNESS-EXPORT-1] `export --format jsonl`: the requests, piped into a stdio model, replay the
 * trace; the failing request gets the recorded reply from the buggy model and the
 * specification's reply from the reference, as expected.jsonl says.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";

const BIN = resolve("bin/iommu-conformance.js");

function serve(
  adapter: string,
  input: string,
): Promise<Array<{ id: number; ok: boolean; result?: unknown }>> {
  return new Promise((done, fail) => {
    const child = execFile(
      "node",
      [BIN, "serve", "--adapter", adapter],
      { maxBuffer: 64 << 20 },
      (err, stdout) => {
        if (err !== null) fail(err);
        else
          done(
            stdout
              .trim()
              .split("\n")
              .map((l) => JSON.parse(l)),
          );
      },
    );
    child.stdin?.end(input);
  });
}

describe("jsonl reproducer", () => {
  it("[HARNESS-EXPORT-1] replays on a stdio model: the failing reply is the recording's on the mutant, the specification's on the reference", async () => {
    const out = await mkdtemp(join(tmpdir(), "iommu-jsonl-"));
    const code = await main(
      ["export", "reference-traces/mutants/psi-mask-off-by-one.json", "--format", "jsonl", "--out", out],
      { out: () => undefined, err: () => undefined, isTTY: false, cwd: process.cwd() },
    );
    expect(code).toBe(0);
    const requests = await readFile(join(out, "requests.jsonl"), "utf8");
    const expected = (await readFile(join(out, "expected.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            id: number;
            recorded: { result: unknown };
            specification: { result: unknown };
            failure?: string;
          },
      );
    const failing = expected.find((e) => e.failure !== undefined)!;
    expect(failing.failure).toBe("the DMA read returned data from no permitted page");
    const [mutant, reference] = await Promise.all([
      serve("mutant:psi-mask-off-by-one", requests),
      serve("reference", requests),
    ]);
    expect(mutant.length).toBe(expected.length + 2);
    expect(mutant.find((r) => r.id === failing.id)?.result).toEqual(failing.recorded.result);
    expect(reference.find((r) => r.id === failing.id)?.result).toEqual(failing.specification.result);
    expect(failing.specification.result).not.toEqual(failing.recorded.result);
  }, 60_000);
});
