/** A trace that cannot be loaded, with every problem found. [HARNESS-TRACE-5] */
export class TraceLoadError extends Error {
  override readonly name = "TraceLoadError";
  constructor(
    readonly file: string,
    /** One line each: "/json/path: what is wrong". */
    readonly problems: readonly string[],
  ) {
    super(problems.map((p) => `${file}: ${p}`).join("\n"));
  }
}
