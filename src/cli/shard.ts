/**
 * `run --shard i/n`: property k (0-based, in the order selected) belongs to shard (k mod n) + 1,
 * so the shards are disjoint, cover the selection, and are the same on every machine.
 * [HARNESS-SHARD-1]
 */
import { InvalidArgumentError } from "commander";
import type { Shard } from "../runner/runner.ts";

export function parseShard(value: string): Shard {
  const m = /^([0-9]+)\/([0-9]+)$/.exec(value);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (m === null || count < 1 || index < 1 || index > count || !Number.isSafeInteger(count))
    throw new InvalidArgumentError('must be INDEX/COUNT with 1 <= INDEX <= COUNT, e.g. "2/4"');
  return { index, count };
}

export function shardOf<T>(items: readonly T[], shard: Shard): T[] {
  return items.filter((_, k) => k % shard.count === shard.index - 1);
}
