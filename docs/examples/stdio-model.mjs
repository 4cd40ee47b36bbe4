#!/usr/bin/env node
// A stdio model: a process of its own that speaks docs/protocol.md on stdin and stdout. This
// one serves the reference model with the package's server; a model in another language reads
// and writes the same JSON lines. See docs/adapters.md.
//
//   npx iommu-conformance run --adapter 'stdio:node docs/examples/stdio-model.mjs'
import { createReferenceModel, serveModel } from "iommu-conformance";

const model = await createReferenceModel();
await serveModel(model, process.stdin, process.stdout, { log: (line) => process.stderr.write(`${line}\n`) });
