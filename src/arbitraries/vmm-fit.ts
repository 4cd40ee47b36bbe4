/**
 * VMM configurations fitted to a model that drives real host devices (describe().limits.passthrough,
 * for example qemu:nested): its passed-through devices sit behind the host IOMMU it really has, with
 * the host side it really has, on the SIDs it can place, with its vIOMMU's fixed capabilities
 * (limits.viommu) and guest memory around its holes. A model without `limits.passthrough` gets the
 * configuration unchanged, so every generated configuration of the reference stays as it was.
 * [QEMU-NEST-9]
 */
import type { DeviceConfig, ModelDescription, PlatformConfig, VIommuConfig } from "../contract/types.ts";
import { withoutHoles } from "./guest-config.ts";

export interface FitOptions {
  /**
   * The case needs a configuration the VMM accepts: the vIOMMU no wider than the host IOMMU and
   * with caching mode on (shadowing and equivalence properties). Off for compatibility cases, where
   * the refusals are the point.
   */
  accepted: boolean;
}

/** The vIOMMU with the model's fixed values for its mode (limits.viommu), as guest generators do. */
function fitViommu(d: ModelDescription, v: VIommuConfig, maxAw: number | undefined): VIommuConfig {
  let awBits = v.awBits;
  if (maxAw !== undefined && awBits > maxAw) {
    const fits = d.supports.awBits.filter((w) => w <= maxAw);
    awBits = fits.length > 0 ? (Math.max(...fits) as VIommuConfig["awBits"]) : awBits;
  }
  const templates = d.limits?.viommu ?? [];
  const same = templates.filter(
    (t) =>
      (t.scalable === undefined || t.scalable === v.scalable) &&
      (t.firstStage === undefined || t.firstStage === v.firstStage),
  );
  const t = same.find((x) => x.awBits === undefined || x.awBits === awBits) ?? same[0];
  const out: VIommuConfig = { ...v, awBits, hawBits: awBits, ...(t ?? {}) };
  // First stage only with scalable mode; fields that need it follow it.
  if (!out.firstStage) Object.assign(out, { fs1gp: false, fl5lp: false, extendedAccessed: false });
  return out;
}

/**
 * Recorded finding compatibility cases can steer around (`avoid=`): with caching mode off and a
 * vIOMMU wider than the host, QEMU names caching mode, VMM-COMPAT-11 the width (docs/qemu-findings.md).
 */
export const AVOID_CM_BEFORE_WIDTH = "compat-caching-mode-checked-before-width";

/**
 * The same order met over a 48-bit host (`l0-aw-bits=48`): with caching mode off and first-stage
 * translation offered to a legacy-VFIO device, QEMU names caching mode, VMM-COMPAT-3 the backend.
 * Avoided, a first-stage vIOMMU keeps caching mode on.
 */
export const AVOID_CM_BEFORE_BACKEND = "compat-caching-mode-checked-before-backend";

/**
 * Recorded finding shadow and forwarding cases can steer around (`avoid=`): QEMU accepts snoop
 * control beside a passed-through device and aborts when the guest enables translation for it
 * (docs/qemu-findings.md, VMM side). Avoided, a VM with a passed-through device has no snoop control.
 */
export const AVOID_SC_PASSTHROUGH = "snoop-control-passthrough-aborts";

export function fitVmmConfig(d: ModelDescription, c: PlatformConfig, o: FitOptions): PlatformConfig {
  const pt = d.limits?.passthrough;
  if (pt === undefined) return c;
  const host = pt.hostIommus[0];
  const maxAw = o.accepted && host !== undefined ? host.awBits : undefined;
  const viommu = fitViommu(d, o.accepted ? { ...c.viommu, cachingMode: true } : c.viommu, maxAw);
  // Steering around a recorded finding: a vIOMMU wider than the host keeps caching mode on.
  if (
    (d.limits?.avoid ?? []).includes(AVOID_CM_BEFORE_WIDTH) &&
    host !== undefined &&
    viommu.awBits > host.awBits
  )
    viommu.cachingMode = true;
  if ((d.limits?.avoid ?? []).includes(AVOID_CM_BEFORE_BACKEND) && viommu.firstStage)
    viommu.cachingMode = true;
  // SIDs: the allowed ones, in the order of the generated SIDs (distinct, deterministic).
  const allowed = d.limits?.sids ?? c.devices.map((x) => x.sid);
  const used = new Set<number>();
  let passed = 0;
  const devices: DeviceConfig[] = c.devices.slice(0, d.supports.maxDevices).map((dev) => {
    let i = dev.sid % allowed.length;
    while (used.has(allowed[i] as number)) i = (i + 1) % allowed.length;
    const sid = allowed[i] as number;
    used.add(sid);
    if (dev.kind === "passthrough" && passed < pt.max) {
      passed++;
      return { sid, kind: "passthrough", host: { ...pt.host } };
    }
    return { sid, kind: "emulated" };
  });
  if ((d.limits?.avoid ?? []).includes(AVOID_SC_PASSTHROUGH) && passed > 0) viommu.snoopControl = false;
  // Guest memory: all RAM, split around the model's holes (read-only regions only if offered).
  const size = c.memory.size;
  const spans = withoutHoles(
    pt.readOnlyMemory ? c.memory.regions.map((r): [bigint, bigint] => [r.gpa, r.gpa + r.size]) : [[0n, size]],
    d,
  );
  const readOnly = (a: bigint) =>
    pt.readOnlyMemory && c.memory.regions.some((r) => r.readOnly && a >= r.gpa && a < r.gpa + r.size);
  const regions = spans.map(([a, b]) => ({ gpa: a, size: b - a, readOnly: readOnly(a) }));
  return { viommu, devices, memory: { size, regions }, hostIommus: pt.hostIommus.map((h) => ({ ...h })) };
}
