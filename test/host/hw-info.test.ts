import { describe, expect, it } from "vitest";
import { Errno } from "../../src/spec/iommufd/errno.ts";
import { IOMMU_GET_HW_INFO } from "../../src/spec/iommufd/ioctl-numbers.ts";
import { HwInfoFlags, HwInfoType, hwInfoCodec, hwInfoVtdCodec } from "../../src/spec/iommufd/structs.ts";
import { bit, field } from "../../src/spec/word.ts";
import { device, iommu, makeHost } from "./helpers.ts";

const BUF = 0x5000n;
const key = `0x${BUF.toString(16)}`;

function hwInfo(
  host: ReturnType<typeof makeHost>["host"],
  over: Parameters<typeof hwInfoCodec.encode>[0],
  bufLen = 64,
) {
  const buf = new Uint8Array(bufLen).fill(0xee);
  const r = host.ioctl(IOMMU_GET_HW_INFO, hwInfoCodec.encode({ dev_id: 1, data_uptr: BUF, ...over }), {
    [key]: buf,
  });
  return { errno: r.errno, info: hwInfoCodec.decode(r.bytes), buf: r.out?.[key] };
}

describe("GET_HW_INFO", () => {
  it("[HOST-UAPI-20] [HOST-UAPI-24] reports the VT-d payload: type, length, cap and ecap of the IOMMU", () => {
    const cfg = iommu({ awBits: 57, fl5lp: true, nesting: true, snoopControl: false, pasidBits: 16 });
    const { host } = makeHost([cfg]);
    const r = hwInfo(host, { data_len: 24 });
    expect(r.errno).toBe(0);
    expect(r.info.data_type).toBe(HwInfoType.INTEL_VTD);
    expect(r.info.data_len).toBe(24);
    const vtd = hwInfoVtdCodec.decode(r.buf as Uint8Array);
    expect(vtd.flags).toBe(0);
    expect(field(vtd.cap_reg, 21, 16)).toBe(56); // MGAW = width - 1
    expect(bit(vtd.cap_reg, 11)).toBe(true); // SAGAW 5-level
    expect(bit(vtd.cap_reg, 60)).toBe(true); // FL5LP
    expect(bit(vtd.ecap_reg, 26)).toBe(true); // NEST
    expect(bit(vtd.ecap_reg, 7)).toBe(false); // SC
    expect(field(vtd.ecap_reg, 39, 35)).toBe(15); // PSS
    expect(bit(vtd.ecap_reg, 40)).toBe(true); // PASID
    expect(r.info.out_max_pasid_log2).toBe(16);
  });

  it("[HOST-UAPI-24] a short user buffer gets the first bytes; data_len reports the driver's length", () => {
    const { host } = makeHost();
    const full = hwInfo(host, { data_len: 24 });
    const short = hwInfo(host, { data_len: 10 }, 10);
    expect(short.errno).toBe(0);
    expect(short.info.data_len).toBe(24);
    expect([...(short.buf as Uint8Array)]).toEqual([...(full.buf as Uint8Array).subarray(0, 10)]);
  });

  it("[HOST-UAPI-24] a long user buffer is zeroed past the payload; bytes beyond data_len untouched", () => {
    const { host } = makeHost();
    const r = hwInfo(host, { data_len: 40 });
    const buf = r.buf as Uint8Array;
    expect([...buf.subarray(24, 40)]).toEqual(new Array(16).fill(0));
    expect([...buf.subarray(40, 64)]).toEqual(new Array(24).fill(0xee));
  });

  it("[HOST-UAPI-24] data_len 0 is a query: nothing written, no buffer needed", () => {
    const { host } = makeHost();
    const r = host.ioctl(IOMMU_GET_HW_INFO, hwInfoCodec.encode({ dev_id: 1 }));
    expect(r.errno).toBe(0);
    expect(hwInfoCodec.decode(r.bytes).data_len).toBe(24);
    expect(r.out).toBeUndefined();
  });

  it("[HOST-UAPI-4] a data_uptr that names no user buffer gives EFAULT", () => {
    const { host } = makeHost();
    const r = host.ioctl(
      IOMMU_GET_HW_INFO,
      hwInfoCodec.encode({ dev_id: 1, data_len: 24, data_uptr: 0x9000n }),
    );
    expect(r.errno).toBe(Errno.EFAULT);
    const small = host.ioctl(
      IOMMU_GET_HW_INFO,
      hwInfoCodec.encode({ dev_id: 1, data_len: 24, data_uptr: BUF }),
      {
        [key]: new Uint8Array(16),
      },
    );
    expect(small.errno).toBe(Errno.EFAULT);
  });

  it("[HOST-UAPI-21] unknown flags and nonzero reserved bytes give EOPNOTSUPP", () => {
    const { host } = makeHost();
    expect(hwInfo(host, { flags: 2 }).errno).toBe(Errno.EOPNOTSUPP);
    expect(hwInfo(host, { __reserved1: 1 }).errno).toBe(Errno.EOPNOTSUPP);
  });

  it("[HOST-UAPI-22] INPUT_TYPE asks for a type: VT-d or DEFAULT accepted, others EOPNOTSUPP", () => {
    const { host } = makeHost();
    expect(hwInfo(host, { flags: HwInfoFlags.INPUT_TYPE, data_type: HwInfoType.INTEL_VTD }).errno).toBe(0);
    expect(hwInfo(host, { flags: HwInfoFlags.INPUT_TYPE, data_type: HwInfoType.ARM_SMMUV3 }).errno).toBe(
      Errno.EOPNOTSUPP,
    );
    // Without the flag, the field is ignored on input.
    expect(hwInfo(host, { data_type: HwInfoType.ARM_SMMUV3 }).errno).toBe(0);
  });

  it("[HOST-UAPI-23] an IOMMU of another kind reports type NONE and no data", () => {
    const { host } = makeHost([iommu({ kind: "other" })]);
    const r = hwInfo(host, { data_len: 24 });
    expect(r.errno).toBe(0);
    expect(r.info.data_type).toBe(HwInfoType.NONE);
    expect(r.info.data_len).toBe(0);
    expect([...(r.buf as Uint8Array).subarray(0, 24)]).toEqual(new Array(24).fill(0));
  });

  it("[HOST-UAPI-25] capabilities: PASID PRIV with supervisor requests; no dirty tracking, no EXEC", () => {
    const a = makeHost([iommu({ supervisorRequests: true })]).host;
    const b = makeHost([iommu({ supervisorRequests: false })]).host;
    const c = makeHost([iommu({ pasidBits: 0 })]).host;
    expect(hwInfo(a, {}).info.out_capabilities).toBe(4n);
    expect(hwInfo(b, {}).info.out_capabilities).toBe(0n);
    expect(hwInfo(c, {}).info.out_capabilities).toBe(0n);
    expect(hwInfo(c, {}).info.out_max_pasid_log2).toBe(0);
  });

  it("[HOST-ERRATA-3] the errata flag is reported for an affected IOMMU only", () => {
    const host = makeHost(
      [iommu({ id: "a", errata772415: true }), iommu({ id: "b" })],
      [device(1, { iommu: "a" }), device(2, { iommu: "b" })],
    ).host;
    expect(hwInfoVtdCodec.decode(hwInfo(host, { data_len: 24 }).buf as Uint8Array).flags).toBe(1);
    expect(hwInfoVtdCodec.decode(hwInfo(host, { dev_id: 2, data_len: 24 }).buf as Uint8Array).flags).toBe(0);
  });

  it("[HOST-UAPI-26] an unknown dev_id gives ENOENT, as does a non-device object", () => {
    const { host } = makeHost();
    expect(hwInfo(host, { dev_id: 9 }).errno).toBe(Errno.ENOENT);
  });
});
