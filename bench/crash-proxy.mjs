// A model that dies mid-case in every process, for measuring HARNESS-BROKEN-1: serves the
// reference over stdio (through `iommu-conformance serve`) but exits with status 3 at the N-th
// dma request of each process. Usage, from the repository:
//   node bin/iommu-conformance.js run --adapter "stdio:node bench/crash-proxy.mjs bin/iommu-conformance.js 5" \
//     --property translation-equals-walk --seed 1 --out out/crash
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const [bin, nth] = [process.argv[2], Number(process.argv[3] ?? "5")];
const child = spawn("node", [bin, "serve"], { stdio: ["pipe", "pipe", "inherit"] });
child.stdout.pipe(process.stdout);
let dmas = 0;
for await (const line of createInterface({ input: process.stdin })) {
  if (line.includes('"method":"dma"') && ++dmas >= nth) {
    process.stderr.write("crash-proxy: dying at this dma\n");
    process.exit(3);
  }
  child.stdin.write(`${line}\n`);
}
