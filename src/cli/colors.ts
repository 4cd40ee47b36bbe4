/**
 * Colours for the terminal (picocolors): on only when stdout is a terminal and NO_COLOR is not
 * set (https://no-color.org); files and pipes always get plain text. [HARNESS-REPORT-4]
 */
import pc from "picocolors";

export type Colors = ReturnType<typeof pc.createColors>;

export function wantsColor(isTTY: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return isTTY && (env.NO_COLOR ?? "") === "" && env.TERM !== "dumb";
}

export function colors(enabled: boolean): Colors {
  return pc.createColors(enabled);
}
