/**
 * Progress on a terminal (cli-progress), only when stdout is a TTY, so reports and pipes never
 * see it: per-property bars on stderr (mutants), and run's one line for the whole run under the
 * streamed report. [HARNESS-REPORT-1]
 */
import { createRequire } from "node:module";

// cli-progress is required only when a bar is drawn (on a terminal): most runs draw none.
const cliProgress = (): typeof import("cli-progress") =>
  createRequire(import.meta.url)("cli-progress") as typeof import("cli-progress");

export interface Progress {
  start(label: string, total: number): void;
  update(done: number): void;
  stop(): void;
}

const NONE: Progress = { start() {}, update() {}, stop() {} };

export function createProgress(enabled: boolean): Progress {
  if (!enabled) return NONE;
  const { SingleBar, Presets } = cliProgress();
  const bar = new SingleBar(
    {
      format: "{label} [{bar}] {value}/{total}",
      stream: process.stderr,
      clearOnComplete: true,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  let active = false;
  return {
    start(label, total) {
      if (active) bar.stop();
      bar.start(total, 0, { label });
      active = true;
    },
    update(done) {
      if (active) bar.update(done);
    },
    stop() {
      if (active) bar.stop();
      active = false;
    },
  };
}

/** The whole run's progress: one line with the cases done of all, the property and an estimate. */
export interface RunProgress {
  /** A property starts: `before` cases of the run are behind it. */
  property(label: string, before: number): void;
  /** Cases done in the current property. */
  cases(done: number): void;
  /** Print text above the line (the report as it streams); without a terminal, just print it. */
  print(text: string): void;
  stop(): void;
}

/**
 * On a terminal (cli-progress MultiBar, drawn on `stream` = stdout, which is then a terminal
 * nobody parses) one line stays below the streamed report; elsewhere the text is just printed.
 * [HARNESS-REPORT-1]
 */
export function createRunProgress(
  stream: NodeJS.WriteStream | undefined,
  total: number,
  print: (text: string) => void,
): RunProgress {
  if (stream === undefined || stream.isTTY !== true) {
    return { property() {}, cases() {}, print, stop() {} };
  }
  const { MultiBar, Presets } = cliProgress();
  const bars = new MultiBar(
    {
      format:
        "{bar} {value}/{total} cases | {label} | {duration_formatted} elapsed, about {eta_formatted} left",
      stream,
      hideCursor: true,
      clearOnComplete: true,
      gracefulExit: false,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  const bar = bars.create(total, 0, { label: "" });
  let base = 0;
  let stopped = false;
  return {
    property(label, before) {
      base = before;
      bar.update(before, { label });
    },
    cases(done) {
      bar.update(base + done);
    },
    print(text) {
      if (stopped) return print(text);
      bars.log(text);
      bars.update();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bars.stop();
    },
  };
}
