/**
 * Progress on a terminal (cli-progress), drawn on stderr and only when stdout is a TTY, so
 * reports and pipes never see it. [HARNESS-REPORT-1]
 */
import { Presets, SingleBar } from "cli-progress";

export interface Progress {
  start(label: string, total: number): void;
  update(done: number): void;
  stop(): void;
}

const NONE: Progress = { start() {}, update() {}, stop() {} };

export function createProgress(enabled: boolean): Progress {
  if (!enabled) return NONE;
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
