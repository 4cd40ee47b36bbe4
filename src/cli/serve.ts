/**
 * `iommu-conformance serve`: expose an adapter (the reference model by default) over the stdio
 * protocol on stdin/stdout. Anything else the process would print goes to stderr, since
 * stdout carries protocol lines only. [HARNESS-PROTO-1]
 */
import { loadAdapter } from "../adapters/adapter-spec.ts";
import { serveModel } from "../adapters/stdio/server.ts";
import { type CliIO, EXIT_ERROR, EXIT_OK } from "./errors.ts";

export async function serveCommand(opts: { adapter: string; timeout: number }, io: CliIO): Promise<number> {
  const toStderr = (...args: unknown[]): void => io.err(`${args.map(String).join(" ")}\n`);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  const model = await loadAdapter(opts.adapter, { timeoutMs: opts.timeout, cwd: io.cwd });
  const end = await serveModel(model, process.stdin, process.stdout, {
    log: (line) => io.err(`serve: ${line}\n`),
  });
  // [HARNESS-PROTO-10] a request line over the limit ends the session as an error.
  return end === "line-too-long" ? EXIT_ERROR : EXIT_OK;
}
