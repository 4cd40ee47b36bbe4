/**
 * Errors of the stdio adapter. A ProtocolError means the model process can no longer be
 * trusted (it crashed, hung, or broke the protocol) and has been killed; a
 * ModelRequestError is a well-formed refusal from a healthy model. [HARNESS-PROTO-7]
 */

export type ProtocolProblem =
  | "exit"
  | "timeout"
  | "not-json"
  | "schema"
  | "id-mismatch"
  | "unsolicited"
  | "version"
  | "dead"
  | "line-too-long";

export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  constructor(
    readonly problem: ProtocolProblem,
    /** The request during which it happened. */
    readonly method: string,
    /** Its id; undefined when the request was never sent. */
    readonly requestId: number | undefined,
    /** What went wrong, without the request and stderr decoration. */
    readonly detail: string,
    /** The last lines the model wrote to stderr. */
    readonly stderrTail: readonly string[] = [],
  ) {
    super(formatMessage(method, requestId, detail, stderrTail));
  }
}

function formatMessage(
  method: string,
  id: number | undefined,
  detail: string,
  stderr: readonly string[],
): string {
  const which = id === undefined ? `${method} (not sent)` : `${method} (id ${id})`;
  const tail =
    stderr.length === 0
      ? ""
      : `\nlast stderr lines of the model:\n${stderr.map((l) => `  | ${l}`).join("\n")}`;
  return `protocol error in ${which}: ${detail}${tail}`;
}

/** The model answered ok = false. */
export class ModelRequestError extends Error {
  override readonly name = "ModelRequestError";
  constructor(
    readonly method: string,
    readonly requestId: number,
    readonly code: string,
    readonly reason: string,
  ) {
    super(`${method} (id ${requestId}) refused by the model [${code}]: ${reason}`);
  }
}

/**
 * The model under test ended (or aborted) during a call it should have served: a QEMU that exits
 * on a guest's register write. Unlike a ProtocolError (the adapter or its transport broke), this is
 * the model's failure: the case fails with it and a replay reproduces it. The adapter starts a
 * fresh model at the next reset. [HARNESS-REPLAY-4]
 */
export class ModelDied extends Error {
  override readonly name = "ModelDied";
  constructor(
    /** What the model said as it ended (its last lines, without register dumps). */
    readonly detail: string,
  ) {
    super(`the model died: ${detail}`);
  }
}
