/**
 * Wrapping a model to change or observe some of its calls while keeping the others. Spreading
 * a model's platform object ({...model.platform}) loses the methods of a class instance; this
 * delegates each call, at call time, to the model's current surface instead. [HARNESS-ADAPTER-3]
 */
import { SURFACE, SURFACE_METHODS } from "./surface.ts";
import type { HostSurface, Model, PlatformSurface } from "./types.ts";

export interface ModelDecoration {
  describe?: Model["describe"];
  reset?: Model["reset"];
  close?: Model["close"];
  /** Replacements for platform calls; call the wrapped model's own to delegate. */
  platform?: Partial<PlatformSurface>;
  /** Replacements for host calls (used only when the wrapped model has a host surface). */
  host?: Partial<HostSurface>;
}

/** The names of the calls on one object of a Model, from the surface table. */
function callsOn(on: "platform" | "host"): string[] {
  return SURFACE_METHODS.filter((m) => SURFACE[m].on === on).map((m) => SURFACE[m].name);
}

const PLATFORM_CALLS = callsOn("platform");
const HOST_CALLS = callsOn("host");

/** An object with `names`' methods: the override if given, else a call on `base()`, if it has one. */
function delegate<T extends object>(
  base: () => T,
  names: readonly string[],
  overrides: Partial<Record<string, unknown>> = {},
): T {
  const out: Record<string, unknown> = {};
  const current = base() as Record<string, unknown>;
  for (const name of names) {
    const override = overrides[name];
    if (typeof override === "function") out[name] = override;
    else if (typeof current[name] === "function")
      out[name] = (...args: unknown[]) =>
        (base() as Record<string, (...a: unknown[]) => unknown>)[name]?.(...args);
  }
  return out as T;
}

/** `model` with the calls in `decoration` replaced; every other call goes to `model`. */
export function wrapModel(model: Model, decoration: ModelDecoration = {}): Model {
  const platform = delegate<PlatformSurface>(() => model.platform, PLATFORM_CALLS, decoration.platform);
  return {
    describe: decoration.describe ?? (() => model.describe()),
    reset: decoration.reset ?? ((config) => model.reset(config)),
    close: decoration.close ?? (() => model.close()),
    platform,
    get host(): HostSurface | undefined {
      const host = model.host;
      return host === undefined
        ? undefined
        : delegate<HostSurface>(() => model.host ?? host, HOST_CALLS, decoration.host);
    },
  };
}
