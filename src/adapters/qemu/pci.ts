/**
 * PCI configuration space through the legacy mechanism (ports 0xcf8/0xcfc) [QEMU-PCI-1],
 * finding the test devices on bus 0 and giving them a BAR0 and bus mastering [QEMU-PCI-2].
 */
import type { QtestClient } from "./qtest-client.ts";

const CONFIG_ADDRESS = 0xcf8;
const CONFIG_DATA = 0xcfc;

export const EDU_ID = { vendor: 0x1234, device: 0x11e8 } as const;
export const IOMMU_TESTDEV_ID = { vendor: 0x1b36, device: 0x0005 } as const;

/** PCI command register bits: memory space and bus master enable. */
const CMD_MEMORY = 0x2;
const CMD_BUS_MASTER = 0x4;

export interface PciFunction {
  bus: number;
  devfn: number;
  vendor: number;
  device: number;
  /** The requester id the IOMMU sees: bus << 8 | devfn [QEMU-PCI-3]. */
  sid: number;
}

function configAddress(bus: number, devfn: number, offset: number): number {
  if (bus < 0 || bus > 0xff || devfn < 0 || devfn > 0xff || offset < 0 || offset > 0xfc || offset & 3) {
    throw new Error(`bad PCI config address ${bus}:${devfn}+${offset}`);
  }
  return (0x80000000 | (bus << 16) | (devfn << 8) | offset) >>> 0;
}

export async function configRead32(
  q: QtestClient,
  bus: number,
  devfn: number,
  offset: number,
): Promise<number> {
  await q.outPort(4, CONFIG_ADDRESS, configAddress(bus, devfn, offset));
  return q.inPort(4, CONFIG_DATA);
}

export async function configWrite32(
  q: QtestClient,
  bus: number,
  devfn: number,
  offset: number,
  value: number,
): Promise<void> {
  await q.outPort(4, CONFIG_ADDRESS, configAddress(bus, devfn, offset));
  await q.outPort(4, CONFIG_DATA, value >>> 0);
}

/** Every function present on bus 0 (vendor id not 0xffff), in devfn order. */
export async function scanBus0(q: QtestClient): Promise<PciFunction[]> {
  // One pipelined batch: address/data pairs for all 256 devfns.
  const cmds: string[] = [];
  for (let devfn = 0; devfn < 256; devfn++) {
    cmds.push(`outl 0xcf8 0x${configAddress(0, devfn, 0).toString(16)}`, "inl 0xcfc");
  }
  const replies = await q.pipeline(cmds);
  const found: PciFunction[] = [];
  for (let devfn = 0; devfn < 256; devfn++) {
    const id = Number(BigInt(replies[devfn * 2 + 1]?.[0] ?? "0xffffffff"));
    const vendor = id & 0xffff;
    if (vendor === 0xffff || vendor === 0) continue;
    found.push({ bus: 0, devfn, vendor, device: id >>> 16, sid: devfn });
  }
  return found;
}

/** Places BAR0 (a 32-bit memory BAR) at addr and enables memory decoding and bus mastering. */
export async function enableDevice(q: QtestClient, fn: PciFunction, bar0: number): Promise<void> {
  await configWrite32(q, fn.bus, fn.devfn, 0x10, bar0);
  const cmd = await configRead32(q, fn.bus, fn.devfn, 0x04);
  await configWrite32(q, fn.bus, fn.devfn, 0x04, (cmd & 0xffff) | CMD_MEMORY | CMD_BUS_MASTER);
  const readBack = (await configRead32(q, fn.bus, fn.devfn, 0x10)) & ~0xf;
  if (readBack >>> 0 !== bar0 >>> 0) {
    throw new Error(
      `BAR0 of ${fn.devfn.toString(16)} reads back 0x${readBack.toString(16)}, not 0x${bar0.toString(16)}`,
    );
  }
}

export function devfnString(devfn: number): string {
  return `00:${(devfn >> 3).toString(16).padStart(2, "0")}.${devfn & 7}`;
}
