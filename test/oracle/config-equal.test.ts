import { describe, expect, it } from "vitest";
import {
  oracleConfig,
  oracleConfigFromRegisters,
  ownCapabilities,
  sameOracleConfig,
} from "../../src/oracle/config.ts";
import { config } from "./stream.ts";

describe("oracle configuration from registers", () => {
  it("[ORACLE-CAP-1] the reference's own CAP and ECAP give the configuration's own oracle config", () => {
    const cfg = config();
    const own = ownCapabilities(cfg);
    const learnt = oracleConfigFromRegisters(cfg, { cap: own.cap, ecap: own.ecap }, own);
    expect(sameOracleConfig(learnt, oracleConfig(cfg))).toBe(true);
    expect(JSON.stringify(learnt)).toBe(JSON.stringify(oracleConfig(cfg)));
  });

  it("[ORACLE-CAP-1] configurations compare alike exactly when their JSON text does", () => {
    const cfg = config();
    const own = ownCapabilities(cfg);
    const base = oracleConfig(cfg);
    // CM (bit 7), one more domain-id width step, and no PASID in ECAP: each changes a field.
    for (const seen of [
      { cap: own.cap ^ (1n << 7n) },
      { cap: own.cap ^ 1n },
      { ecap: own.ecap & ~(1n << 40n) },
    ]) {
      const other = oracleConfigFromRegisters(cfg, seen, own);
      expect(sameOracleConfig(other, base)).toBe(JSON.stringify(other) === JSON.stringify(base));
    }
    expect(sameOracleConfig(oracleConfigFromRegisters(cfg, { cap: own.cap ^ (1n << 7n) }, own), base)).toBe(
      false,
    );
    const nested = { ...base, queue: { ...base.queue, mamv: base.queue.mamv + 1 } };
    expect(sameOracleConfig(nested, base)).toBe(false);
    expect(sameOracleConfig({ ...base }, base)).toBe(true);
  });
});
