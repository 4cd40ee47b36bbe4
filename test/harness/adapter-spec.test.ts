import { describe, expect, it } from "vitest";
import {
  AdapterLoadError,
  AdapterSpecError,
  importAdapterModule,
  loadAdapter,
  parseAdapterSpec,
} from "../../src/adapters/adapter-spec.ts";

describe("parseAdapterSpec", () => {
  it("[HARNESS-ADAPTER-1] parses every form", () => {
    expect(parseAdapterSpec("reference")).toEqual({ kind: "reference", options: {} });
    expect(parseAdapterSpec("reference:iotlb=0,psc=16")).toEqual({
      kind: "reference",
      options: { iotlb: "0", psc: "16" },
    });
    expect(parseAdapterSpec("mutant:pasid-global-no-unbind")).toEqual({
      kind: "mutant",
      id: "pasid-global-no-unbind",
    });
    expect(parseAdapterSpec("qemu")).toEqual({ kind: "qemu", options: {} });
    expect(parseAdapterSpec("qemu:binary=/usr/bin/qemu-system-x86_64,aw-bits=48,x-scalable")).toEqual({
      kind: "qemu",
      options: { binary: "/usr/bin/qemu-system-x86_64", "aw-bits": "48", "x-scalable": "true" },
    });
    expect(parseAdapterSpec("module:./my-model.ts")).toEqual({
      kind: "module",
      path: "./my-model.ts",
      options: {},
    });
    expect(parseAdapterSpec("module:./a?b.ts?cores=2,fast")).toEqual({
      kind: "module",
      path: "./a?b.ts",
      options: { cores: "2", fast: "true" },
    });
    expect(parseAdapterSpec("stdio:./model --serve --x=a:b")).toEqual({
      kind: "stdio",
      command: "./model --serve --x=a:b",
    });
  });

  it("[HARNESS-ADAPTER-1] refuses malformed specs with the valid forms", () => {
    expect(() => parseAdapterSpec("bochs")).toThrow(
      'unknown adapter "bochs"; valid adapter specs: reference[:key=value,...], mutant:ID, qemu[:key=value,...], qemu:nested[,key=value,...], module:PATH[?key=value,...], stdio:COMMAND',
    );
    expect(() => parseAdapterSpec("reference:=0")).toThrow(AdapterSpecError);
    expect(() => parseAdapterSpec("mutant:")).toThrow(/mutant needs an id/);
    expect(() => parseAdapterSpec("module:")).toThrow(/module needs a path/);
    expect(() => parseAdapterSpec("stdio: ")).toThrow(/stdio needs a command/);
    expect(() => parseAdapterSpec("qemu:a=1,a=2")).toThrow(/option "a" given twice/);
    expect(() => parseAdapterSpec("qemu:=1")).toThrow(/bad option "=1"/);
  });
});

describe("loadAdapter", () => {
  it("[HARNESS-ADAPTER-2] a missing built-in module is 'not available in this build'", async () => {
    await expect(
      importAdapterModule(new URL("./no-such-adapter.ts", import.meta.url), "frob"),
    ).rejects.toThrow(/^adapter frob is not available in this build \(.*no-such-adapter\.ts is missing\)$/);
  });

  it("[HARNESS-ADAPTER-1] reference options reach the reference model (cache capacities)", async () => {
    const model = await loadAdapter("reference:iotlb=0,psc=4");
    expect((await model.describe()).name).toBe("reference");
    await expect(loadAdapter("reference:tlb=3")).rejects.toThrow(/unknown option 'tlb'/);
  });

  it("[HARNESS-ADAPTER-1] module: loads createModel or a default factory", async () => {
    const a = await loadAdapter("module:test/fixtures/harness/memory-module.ts");
    expect((await a.describe()).name).toBe("memory-double");
    const b = await loadAdapter("module:test/fixtures/harness/buggy-memory-module.ts");
    expect((await b.describe()).name).toBe("buggy-memory-double");
  });

  it("[HARNESS-ADAPTER-2] module: that cannot be imported or has no factory is a load error", async () => {
    await expect(loadAdapter("module:test/fixtures/harness/nope.ts")).rejects.toThrow(
      /^adapter module:test\/fixtures\/harness\/nope\.ts could not be imported: /,
    );
    await expect(loadAdapter("module:test/fixtures/harness/memory-model.ts")).rejects.toThrow(
      "adapter module:test/fixtures/harness/memory-model.ts exports neither createModel nor a default factory function",
    );
    await expect(loadAdapter("module:x")).rejects.toBeInstanceOf(AdapterLoadError);
  });

  it("[HARNESS-ADAPTER-1] stdio: starts the command and shakes hands", async () => {
    const m = await loadAdapter(
      `stdio:node ${new URL("../fixtures/stdio/broken-model.mjs", import.meta.url).pathname} none`,
    );
    expect((await m.describe()).name).toBe("broken-none");
    await m.close();
    await expect(loadAdapter("stdio:exit 3", { timeoutMs: 2_000 })).rejects.toThrow(
      /^adapter stdio:exit 3 could not be started: protocol error in hello \(id 1\): the model process ended \(exit code 3\) before replying/,
    );
  });
});
