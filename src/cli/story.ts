/** `iommu-conformance story TRACE`: a trace told step by step, in words. [HARNESS-STORY-1] */
import { resolve } from "node:path";
import { storyText, traceStory } from "../runner/story.ts";
import { loadTraceFile } from "../trace/load.ts";
import { type CliIO, EXIT_OK } from "./errors.ts";

export async function storyCommand(target: string, io: CliIO): Promise<number> {
  const trace = await loadTraceFile(resolve(io.cwd, target));
  const lines = [
    `${trace.property} on ${trace.adapter}, verdict ${trace.verdict}, seed ${trace.seed}, path "${trace.path}"`,
    ...(trace.commands ?? []).map((c) => `  # ${c}`),
    ...storyText(traceStory(trace)),
  ];
  if (trace.failure !== undefined) {
    lines.push(`failure at step ${trace.failure.step}: ${trace.failure.message}`);
    if (trace.failure.observed !== undefined)
      lines.push(`  observed:  ${JSON.stringify(trace.failure.observed)}`);
    if (trace.failure.permitted !== undefined)
      lines.push(`  permitted: ${JSON.stringify(trace.failure.permitted)}`);
  }
  io.out(`${lines.join("\n")}\n`);
  return EXIT_OK;
}
