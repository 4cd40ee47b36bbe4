import { describe, expect, it } from "vitest";
import { resolveKnown } from "../../../src/cli/known.ts";

const ids = async (version: string, value?: string) =>
  (await resolveKnown(value, "qemu", version, process.cwd())).map((d) => d.id);

describe("a qemu run tolerates the recorded findings of its version [QEMU-FIND-3] [HARNESS-KNOWN-1]", () => {
  it("7.2: the findings that reproduce there, fixed ones and 11.1-only ones left out", async () => {
    const v72 = await ids("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)");
    expect(v72).toContain("fault-record-pv-without-pasid");
    expect(v72).toContain("pasid-directory-not-present-reason");
    expect(v72).not.toContain("first-stage-width-from-pasid-aw");
    // Avoided, not tolerated: no relaxation can express it (QEMU-AVOID-1).
    expect(v72).not.toContain("wait-descriptor-without-sw-or-if");
  });

  it("11.1: what 11.1 fixed is judged strictly again", async () => {
    const v11 = await ids("QEMU emulator version 11.1.3 (Debian 1:11.1.3+ds-1)");
    expect(v11).toContain("first-stage-width-from-pasid-aw");
    expect(v11).toContain("scalable-write-fault-legacy-reason");
    expect(v11).not.toContain("fault-record-pv-without-pasid");
    expect(v11).not.toContain("pasid-directory-not-present-reason");
  });

  it("--known none and --known ID replace the default; other adapters tolerate nothing by default", async () => {
    expect(await ids("QEMU emulator version 11.1.3", "none")).toEqual([]);
    expect(await ids("QEMU emulator version 11.1.3", "fault-info-above-agaw")).toEqual([
      "fault-info-above-agaw",
    ]);
    expect(await resolveKnown(undefined, "reference", "0.1.0", process.cwd())).toEqual([]);
    await expect(resolveKnown("nope", "reference", "", process.cwd())).rejects.toThrow(
      /unknown deviation nope/,
    );
  });
});

describe("a known-deviations file [HARNESS-KNOWN-1]", () => {
  it("is validated against its schema; its ids name relaxations", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "known-"));
    const good = join(dir, "good.json");
    writeFileSync(
      good,
      JSON.stringify({ model: "m 1", deviations: [{ id: "fault-info-above-agaw", note: "bug 1" }] }),
    );
    expect((await resolveKnown(good, "stdio", "", dir)).map((d) => d.id)).toEqual(["fault-info-above-agaw"]);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ deviations: [{ id: "fault-info-above-agaw", why: "x" }] }));
    await expect(resolveKnown(bad, "stdio", "", dir)).rejects.toThrow(/is not a known-deviations file/);
  });
});
