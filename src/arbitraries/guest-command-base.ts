/**
 * The shape every guest command shares (fast-check AsyncCommand over a GuestWorld): always
 * applicable, noted in the trace by its toString before it acts. The commands keep no model of
 * their own: the oracle is the model.
 */
import type fc from "fast-check";
import type { GuestWorld } from "../cases/guest-case-world.ts";

export type NoModel = Record<string, never>;
export type GuestCommand = fc.AsyncCommand<NoModel, GuestWorld>;

/** The base of every guest command (a command: one generated action; it makes many steps, the surface calls). */
export abstract class GuestCommandBase implements GuestCommand {
  check(): boolean {
    return true;
  }
  async run(_m: NoModel, w: GuestWorld): Promise<void> {
    w.gc.note(this.toString());
    await this.act(w);
  }
  abstract act(w: GuestWorld): Promise<unknown>;
  abstract toString(): string;
}

export const hex = (v: number | bigint): string => `0x${v.toString(16)}`;
