/**
 * Little-endian struct layouts: a struct is a list of fields at fixed offsets.
 * u8 and u32 fields are numbers, u64 fields are bigints. Used for every uAPI struct
 * so that encoders and decoders cannot disagree with the offsets in spec/host-uapi.md.
 */
export type FieldWidth = 1 | 4 | 8;

export interface Field {
  readonly name: string;
  readonly offset: number;
  readonly width: FieldWidth;
}

export interface StructLayout {
  readonly name: string;
  /** sizeof(struct) in the kernel this model follows. */
  readonly size: number;
  /** offsetofend(struct, last field of the first version): the smallest accepted size. */
  readonly minSize: number;
  readonly fields: readonly Field[];
}

export type FieldValue = number | bigint;

/** Read one field from bytes; bytes shorter than the field read as zero beyond their end. */
export function readField(bytes: Uint8Array, f: Field): FieldValue {
  const b = new Uint8Array(8);
  b.set(bytes.subarray(f.offset, Math.min(bytes.length, f.offset + f.width)));
  const view = new DataView(b.buffer);
  if (f.width === 8) return view.getBigUint64(0, true);
  if (f.width === 4) return view.getUint32(0, true);
  return view.getUint8(0);
}

export function writeField(bytes: Uint8Array, f: Field, value: FieldValue): void {
  if (f.offset + f.width > bytes.length) return; // outside the caller's struct: not written
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (f.width === 8) view.setBigUint64(f.offset, BigInt.asUintN(64, BigInt(value)), true);
  else if (f.width === 4) view.setUint32(f.offset, Number(BigInt.asUintN(32, BigInt(value))), true);
  else view.setUint8(f.offset, Number(BigInt.asUintN(8, BigInt(value))));
}

export function fieldOf(layout: StructLayout, name: string): Field {
  const f = layout.fields.find((x) => x.name === name);
  if (f === undefined) throw new Error(`${layout.name} has no field ${name}`);
  return f;
}

/** Decode all fields (bytes are zero-extended to the layout's size). */
export function decodeLayout<T>(layout: StructLayout, bytes: Uint8Array): T {
  const out: Record<string, FieldValue> = {};
  for (const f of layout.fields) out[f.name] = readField(bytes, f);
  return out as T;
}

/**
 * Encode fields into a struct of `size` bytes (default the layout's size). Missing
 * fields are zero; a `size` field, if the layout has one and it is not given, is set
 * to the byte length, as user space does with sizeof().
 */
export function encodeLayout<T extends object>(
  layout: StructLayout,
  value: Partial<T>,
  size: number = layout.size,
): Uint8Array {
  const bytes = new Uint8Array(size);
  const v = value as Record<string, FieldValue | undefined>;
  for (const f of layout.fields) {
    const given = v[f.name];
    if (given !== undefined) writeField(bytes, f, given);
    else if (f.name === "size" || f.name === "argsz") writeField(bytes, f, size);
  }
  return bytes;
}

const u8 = (name: string, offset: number): Field => ({ name, offset, width: 1 });
const u32 = (name: string, offset: number): Field => ({ name, offset, width: 4 });
const u64 = (name: string, offset: number): Field => ({ name, offset, width: 8 });

export const F = { u8, u32, u64 };
