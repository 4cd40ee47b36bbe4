/**
 * The layers of docs/layout (README "Layout"), enforced by `npm test`. Each rule names a layer and
 * what it may not import. There are no exceptions; one would be named in its rule with its reason.
 */
const layer = (name, path, mayNotImport, comment, exception) => ({
  name: `${name}-layer`,
  comment,
  severity: "error",
  from: exception ? { path, pathNot: exception } : { path },
  to: { path: mayNotImport },
});

module.exports = {
  forbidden: [
    {
      name: "no-circular-folders",
      comment: "No cycles between modules.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    layer("spec", "^src/spec/", "^(src/(?!spec/)|properties/)", "The vocabulary imports nothing above it."),
    layer("memory", "^src/memory/", "^(src/(?!memory/)|properties/)", "Memory imports nothing above it."),
    layer(
      "paging",
      "^src/paging/",
      "^(src/(?!paging/|spec/|memory/)|properties/)",
      "Walkers: spec and memory only.",
    ),
    layer(
      "contract",
      "^src/contract/",
      "^(src/(?!contract/|spec/|memory/)|properties/)",
      "The contract: spec and memory only.",
    ),
    layer(
      "vtd",
      "^src/vtd/",
      "^(src/(?!vtd/|paging/|spec/|memory/|contract/)|properties/)",
      "The reference vIOMMU.",
    ),
    layer(
      "host",
      "^src/host/",
      "^(src/(?!host/|paging/|spec/|memory/|contract/)|properties/)",
      "The reference host IOMMU.",
    ),
    layer(
      "vmm",
      "^src/vmm/",
      "^(src/(?!vmm/|host/|vtd/|paging/|spec/|memory/|contract/)|properties/)",
      "The VMM glue.",
    ),
    layer(
      "adapters",
      "^src/adapters/",
      "^(src/(oracle|driver|trace|cases|arbitraries|runner|cli)/|properties/)",
      "Adapters wrap models behind the contract.",
    ),
    layer(
      "oracle",
      "^src/oracle/",
      "^(src/(?!oracle/|spec/|memory/|contract/)|properties/)",
      "The judge never leans on the code it judges: it has its own walks, nested included (ORACLE-WALK-5).",
    ),
    layer(
      "driver",
      "^src/driver/",
      "^(src/(?!driver/|spec/|memory/|contract/)|properties/)",
      "The guest driver programs any model through the contract.",
    ),
    layer(
      "trace",
      "^src/trace/",
      "^(src/(?!trace/|spec/|memory/|contract/)|properties/)",
      "Trace format and recording.",
    ),
    layer(
      "cases",
      "^src/cases/",
      "^(src/(?!cases/|driver/|trace/|oracle/|spec/|memory/|contract/)|properties/)",
      "Judged cases.",
    ),
    layer(
      "arbitraries",
      "^src/arbitraries/",
      "^(src/(?!arbitraries/|cases/|driver/|trace/|oracle/|spec/|memory/|contract/)|properties/)",
      "Generators.",
    ),
    layer(
      "properties",
      "^properties/(?!.*\\.prop\\.ts$|support/vitest-suite\\.ts$)",
      "^src/(runner|cli|adapters|vtd|host|vmm|paging)/",
      "Property definitions.",
    ),
    layer("runner", "^src/runner/", "^(src/cli/|properties/)", "The runner takes properties as arguments."),
    {
      name: "models-without-fast-check",
      comment: "The models never import fast-check.",
      severity: "error",
      from: { path: "^src/(spec|memory|paging|vtd|host|vmm|contract|adapters|oracle|driver)/" },
      to: { path: "fast-check" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    parser: "swc",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "^(node_modules|test/fixtures)" },
  },
};
