/** The adapter errors, apart from the loaders so the CLI can name them without loading any. */

/** A spec that cannot be parsed: a usage error (exit 2). */
export class AdapterSpecError extends Error {
  override readonly name = "AdapterSpecError";
}

/** The adapter could not be loaded or started (exit 2). [HARNESS-ADAPTER-2] */
export class AdapterLoadError extends Error {
  override readonly name = "AdapterLoadError";
}
