/**
 * The written form of a commands replay record, `N@REPLAYPATH` (see commands-replay.ts), kept apart
 * from fast-check so the CLI can check `--replay-path` without loading it. [HARNESS-SEED-1]
 */
export interface CommandsReplayPath {
  /** Which fc.commands instance, counted from 0 in creation order. */
  instance: number;
  /** fast-check's replayPath of that instance. */
  path: string;
}

const FORMAT = /^([0-9]+)@([A-Za-z0-9+/]*:[A-Za-z0-9+/]*)$/;

/** Parse `N@REPLAYPATH`; undefined when the text is not one. */
export function parseCommandsReplayPath(text: string): CommandsReplayPath | undefined {
  const m = FORMAT.exec(text);
  if (m === null) return undefined;
  const instance = Number(m[1]);
  return Number.isSafeInteger(instance) ? { instance, path: m[2] as string } : undefined;
}

export function formatCommandsReplayPath(r: CommandsReplayPath): string {
  return `${r.instance}@${r.path}`;
}
