// `require("iommu-conformance")` from CommonJS: the package is an ES module. Say how to load it.
throw new Error(
  "iommu-conformance is an ES module and cannot be loaded with require(). From CommonJS use\n" +
    '  const { createReferenceModel } = await import("iommu-conformance");\n' +
    'or make your file an ES module (.mjs, or "type": "module" in package.json) and use import.',
);
