/**
 * A standalone QEMU reproducer of a trace: the exact command line, a qtest script of the trace's
 * surface calls, and a POSIX shell script that starts QEMU, feeds it the script and says which
 * reply differs — no Node, no suite. [HARNESS-EXPORT-1]
 *
 * The qtest commands are the qemu adapter's own: its PCI set-up and edu DMA code runs against a
 * qtest client whose "QEMU" only records what it is sent (and answers as a working machine
 * would), so the script drives QEMU exactly as the adapter does (firmware and icount on 7.2,
 * clock_step where the qtest accelerator exists). What the shell can check: register replies
 * and whether a DMA was blocked (QEMU's fault trace lines); DMA data lives in the edu device's
 * buffer, which only the adapter's /proc reader reaches, so data is neither set nor checked.
 *
 * Each register read carries the reply the specification gives (the reference model's, for the
 * same calls) where the recording agreed with it, and the failing step carries the recorded
 * deviation: every reply that differs from the specification is printed, and the verdict is
 * `reproduced` while the failing step — with the register reads just before it, which the judge
 * read together (a fault record's two words, FSTS) — differs from the specification's replies
 * (where it gives none, while it gives the recorded deviation again), else `passes-now`.
 */
import { PassThrough, Writable } from "node:stream";
import { GUEST_CHUNK } from "../../adapters/qemu/adapter.ts";
import { machineSpecFor } from "../../adapters/qemu/config.ts";
import { EDU_BUFFER_START, EDU_CHUNK, EduDevice, REG_CMD } from "../../adapters/qemu/edu.ts";
import { haltingFirmware } from "../../adapters/qemu/firmware.ts";
import { DMAR_BASE, EDU_BAR_BASE, EDU_BAR_STRIDE, machineArgs } from "../../adapters/qemu/machine.ts";
import { EDU_ID, enableDevice, scanBus0 } from "../../adapters/qemu/pci.ts";
import { commandPrefix, flavourOf, type QemuInstall } from "../../adapters/qemu/process.ts";
import { QtestClient } from "../../adapters/qemu/qtest-client.ts";
import { decodeConfig, hexToBytes, hexToU64 } from "../../contract/codec.ts";
import type { Trace } from "../../trace/types.ts";
import { shellQuote } from "../commands.ts";

export class ExportError extends Error {
  override readonly name: string = "ExportError";
}

/** What this QEMU cannot build; the finding's verdict on it is `refused`. */
export class ExportRefused extends ExportError {
  override readonly name = "ExportRefused";
}

export interface QtestReproducer {
  /** File name (in the export directory) → contents. */
  files: Record<string, string | Uint8Array>;
}

const FIRMWARE_FILE = "halt-firmware.bin";
const FIRMWARE_MARK = "@FIRMWARE@";

/** A qtest client whose machine only records: replies are what a working q35 with edus gives. */
function recordingClient(eduDevfns: readonly number[]): { q: QtestClient; sent: string[] } {
  const sent: string[] = [];
  const output = new PassThrough();
  let cf8 = 0;
  const bars = new Map<number, number>();
  const reply = (cmd: string): string => {
    const w = cmd.split(" ");
    if (w[0] === "outl" && w[1] === "0xcf8") cf8 = Number(w[2]);
    if (w[0] === "outl" && w[1] === "0xcfc" && (cf8 & 0xfc) === 0x10)
      bars.set((cf8 >> 8) & 0xff, Number(w[2]));
    if (w[0] === "inl" && w[1] === "0xcfc") {
      const devfn = (cf8 >> 8) & 0xff;
      const off = cf8 & 0xfc;
      if (!eduDevfns.includes(devfn)) return "OK 0xffffffff";
      if (off === 0) return `OK 0x${((EDU_ID.device << 16) | EDU_ID.vendor).toString(16)}`;
      if (off === 0x10) return `OK 0x${(bars.get(devfn) ?? 0).toString(16)}`;
      return "OK 0x0";
    }
    if (w[0] === "readl" && BigInt(w[1] ?? "0") >= EDU_BAR_BASE && BigInt(w[1] ?? "0") < DMAR_BASE)
      return "OK 0x010000ed"; // edu's identification register
    if (w[0] === "read") return `OK 0x${"00".repeat(Number(w[2]))}`;
    if (w[0]?.startsWith("read") || w[0]?.startsWith("in")) return "OK 0x0";
    return "OK";
  };
  const input = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("latin1").split("\n")) {
        if (line === "") continue;
        sent.push(line);
        output.write(`${reply(line)}\n`);
      }
      done();
    },
  });
  const q = new QtestClient({ input, output, onExit: () => undefined }, { timeoutMs: 0 });
  return { q, sent };
}

/** Hex without leading zeros, as the shell script compares replies. */
function norm(v: bigint): string {
  return `0x${v.toString(16)}`;
}

export interface QtestExportOptions {
  /** Each step's outcome on the reference model (the specification's), by step index. */
  spec: ReadonlyArray<{ result?: unknown; error?: unknown } | undefined>;
  /** The file name the reproducer names the trace by. */
  traceName: string;
}

export async function exportQtest(
  trace: Trace,
  install: QemuInstall,
  o: QtestExportOptions,
): Promise<QtestReproducer> {
  const failure = trace.failure;
  if (failure === undefined) throw new ExportError("the trace records no failure to reproduce");
  const first = trace.steps[0];
  if (first?.op !== "reset") throw new ExportError("the trace does not start with a reset");
  if (trace.steps.slice(1).some((s) => s.op === "reset"))
    throw new ExportError("the trace resets the platform more than once; one QEMU run cannot replay it");
  const config = decodeConfig((first.args as { config: never }).config);
  const built = machineSpecFor(install, config);
  if (!built.ok)
    throw new ExportRefused(`this QEMU cannot take the configuration: ${built.reasons.join("; ")}`);
  const flavour = flavourOf(install.features);
  if (flavour.clock === "icount" && install.root !== undefined)
    throw new ExportError("a QEMU in a root without the qtest accelerator is not supported by export");
  let args: string[];
  try {
    args = machineArgs(install, built.spec, flavour.clock === "icount" ? FIRMWARE_MARK : undefined);
  } catch (e) {
    throw new ExportRefused(`this QEMU cannot take the configuration: ${(e as Error).message}`);
  }
  // A register read is judged with the reads just before it (a fault record is read as two words
  // and FSTS): the failure is this run of reads.
  const failing = new Set([failure.step]);
  if (trace.steps[failure.step]?.op === "readReg")
    for (let i = failure.step - 1; i > 0 && trace.steps[i]?.op === "readReg"; i--) failing.add(i);
  const { q, sent } = recordingClient(built.spec.eduDevfns);
  const lines: string[] = [
    `# qtest script of ${o.traceName} (${trace.property} on ${trace.adapter}), written by iommu-conformance export`,
    "# Lines starting with # are read by reproduce.sh, not sent: #step names the trace step of the",
    "# commands below it; #reg and #dma give the step's recorded reply and the specification's",
    "# (- where it does not fix one); #poll marks an edu status read repeated until the DMA is done.",
  ];
  const flush = (): void => {
    lines.push(...sent.splice(0));
  };
  // The adapter's device set-up: find the edus, give each a BAR0 and bus mastering.
  const found = await scanBus0(q);
  const edus = new Map<number, EduDevice>();
  let index = 0;
  for (const devfn of built.spec.eduDevfns) {
    const fn = found.find((p) => p.devfn === devfn);
    if (fn === undefined) throw new ExportError(`no edu at devfn ${devfn} in the recording machine`);
    const bar0 = EDU_BAR_BASE + EDU_BAR_STRIDE * BigInt(index++);
    await enableDevice(q, fn, Number(bar0));
    await q.readMem(4, bar0);
    edus.set(devfn, new EduDevice(q, bar0, flavour.clock));
  }
  lines.push("#step 0 reset (machine set-up: PCI scan, edu BARs, bus mastering)");
  flush();
  for (const [i, step] of trace.steps.entries()) {
    if (i === 0) continue;
    const kind = failing.has(i) ? "fail" : "check";
    const a = step.args as Record<string, unknown>;
    lines.push(`#step ${i} ${step.op}`);
    switch (step.op) {
      case "writeGuest": {
        const gpa = hexToU64(a.gpa as string);
        const bytes = hexToBytes(a.data as string);
        for (let at = 0; at < bytes.length; at += GUEST_CHUNK)
          await q.write(gpa + BigInt(at), bytes.subarray(at, at + GUEST_CHUNK));
        break;
      }
      case "readGuest": {
        const gpa = hexToU64(a.gpa as string);
        const len = a.len as number;
        for (let at = 0; at < len; at += GUEST_CHUNK)
          await q.read(gpa + BigInt(at), Math.min(GUEST_CHUNK, len - at));
        break;
      }
      case "writeReg":
        await q.writeMem(a.width as 4 | 8, DMAR_BASE + BigInt(a.off as number), hexToU64(a.value as string));
        break;
      case "readReg": {
        const recorded = (step.result as { value?: string } | null)?.value;
        const specValue = (o.spec[i]?.result as { value?: string } | undefined)?.value;
        const rec = recorded === undefined ? "-" : norm(hexToU64(recorded));
        // The specification fixes the reply where the recording agreed with it; the failing step
        // is compared with the deviation it recorded.
        const sp = specValue === undefined ? "-" : norm(hexToU64(specValue));
        lines.push(`#reg ${i} ${kind} ${rec} ${kind === "fail" || sp === rec ? sp : "-"}`);
        await q.readMem(a.width as 4 | 8, DMAR_BASE + BigInt(a.off as number));
        break;
      }
      case "dma": {
        const sid = a.sid as number;
        const edu = edus.get(sid);
        if (edu === undefined)
          throw new ExportError(`step ${i}: no edu device with SID 0x${sid.toString(16)}`);
        const statusOf = (o2: { result?: unknown; error?: unknown } | undefined): string =>
          o2 === undefined || o2.error !== undefined
            ? "-"
            : ((o2.result as { status?: string } | null)?.status ?? "-");
        const rec = statusOf(step);
        const sp = statusOf(o.spec[i]);
        lines.push(
          `#dma ${i} ${kind} 0x${sid.toString(16)} ${rec} ${kind === "fail" || sp === rec ? sp : "-"}`,
        );
        flush();
        const iova = hexToU64(a.iova as string);
        const len = a.len as number;
        for (let at = 0; at < len; at += EDU_CHUNK) {
          const n = Math.min(EDU_CHUNK, len - at);
          if (a.write === true) await edu.writeFromBuffer(iova + BigInt(at), EDU_BUFFER_START, n);
          else await edu.readToBuffer(iova + BigInt(at), EDU_BUFFER_START, n);
        }
        // The status read that ends each edu command is polled until the DMA is done.
        for (const line of sent.splice(0)) {
          if (line === `readq 0x${(edu.bar0 + REG_CMD).toString(16)}`) lines.push("#poll");
          lines.push(line);
        }
        lines.push("#end");
        break;
      }
      default:
        throw new ExportError(
          `step ${i}: ${step.op} has no qtest form (a QEMU trace holds guest-side calls only)`,
        );
    }
    flush();
  }
  const prefix = commandPrefix(install);
  const command = [...prefix, ...args]
    .map((w) => (w === FIRMWARE_MARK ? `"$here/${FIRMWARE_FILE}"` : shellQuote(w)))
    .join(" ");
  const files: Record<string, string | Uint8Array> = {
    "commands.qtest": `${lines.join("\n")}\n`,
    cmdline: `${[...prefix, ...args].map((w) => (w === FIRMWARE_MARK ? `./${FIRMWARE_FILE}` : shellQuote(w))).join(" ")}\n`,
    "reproduce.sh": shellScript(trace, o.traceName, install, command),
  };
  if (flavour.clock === "icount") files[FIRMWARE_FILE] = haltingFirmware();
  return { files };
}

function shellScript(trace: Trace, name: string, install: QemuInstall, command: string): string {
  const failure = trace.failure as NonNullable<Trace["failure"]>;
  return `#!/bin/sh
# Reproducer of ${name}: ${trace.property} on ${trace.adapter}, recorded failure at step ${failure.step}:
#   ${failure.message.split("\n")[0]}
# Written by iommu-conformance export for ${install.version.text}.
# Runs QEMU with the command line below, feeds it commands.qtest, and prints each register reply
# that differs from the specification's and the verdict: "reproduced" (exit 1) while the failing
# step (with the register reads just before it) still differs from the specification's replies,
# "passes-now" (exit 0) when it gives them; exit 2 when
# QEMU fails or ends. Needs only a POSIX shell and QEMU (and root for a chroot).
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d) || exit 2
qpid=
cleanup() { [ -n "$qpid" ] && kill "$qpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 2' INT TERM
mkfifo "$tmp/in" "$tmp/out" || exit 2
${command} <"$tmp/in" >"$tmp/out" 2>&1 &
qpid=$!
exec 3>"$tmp/in" 4<"$tmp/out"

log=""        # QEMU's last lines that were not replies
faulted=0     # a fault line of the current DMA's device was seen
dma_sid=""
differs=0

norm() { v=$(printf '%s' "$1" | tr 'A-F' 'a-f' | sed 's/^0x//; s/^0*//'); printf '0x%s' "\${v:-0}"; }

died() {
  wait "$qpid"; st=$?; qpid=
  if [ "$st" -gt 128 ]; then how="killed by signal $(kill -l $((st - 128)) 2>/dev/null || echo $((st - 128)))"
  else how="exit status $st"; fi
  echo "QEMU ended ($how) $1; its last lines:"
  printf '%s\\n' "$log" | tail -n 10 | sed 's/^/  /'
  exit 2
}

# Read lines until a reply; note fault lines of the DMA in flight.
reply() {
  while :; do
    IFS= read -r line <&4 || died "while step $step waited for a reply"
    case $line in
      OK*|FAIL*|ERR*) break ;;
    esac
    log="$log
$line"
    case $line in
      *vtd_fault_disabled*|"Invalid read at addr "*|"Invalid write at addr "*) faulted=1 ;;
      *"vtd_dmar_fault sid $dma_sid "*) faulted=1 ;;
    esac
  done
  case $line in
    OK*) ;;
    *) echo "step $step: QEMU answered '$line' to '$cmd'"; exit 2 ;;
  esac
}

send() { cmd=$1; printf '%s\\n' "$cmd" >&3 || died "while step $step was sent"; reply; }

deviates=0
judge() { # step kind recorded spec got what
  if [ "$4" != "-" ] && [ "$5" != "$4" ]; then
    echo "step $1 ($6): QEMU gives $5, the specification gives $4"; differs=1
  fi
  if [ "$2" = fail ]; then
    # The failing observation: it deviates while it differs from the specification's reply (or,
    # where the specification gives none, while it gives the recorded deviation again).
    if [ "$4" != "-" ]; then [ "$5" != "$4" ] && deviates=$((deviates + 1))
    else [ "$5" = "$3" ] && deviates=$((deviates + 1)); fi
    echo "step $1 ($6) is part of the recorded failure: QEMU gives $5 (recorded $3, specification $4)"
  fi
}

step=0; pending=""; poll=0; in_dma=""
while IFS= read -r line; do
  case $line in
    "#step "*) set -- $line; step=$2; continue ;;
    "#reg "*) set -- $line; pending="$3 $4 $5"; continue ;;
    "#dma "*) set -- $line; in_dma="$3 $5 $6"; dma_sid=$4; faulted=0; continue ;;
    "#poll") poll=1; continue ;;
    "#end")
      set -- $in_dma
      if [ "$faulted" = 1 ]; then got=aborted; else got=ok; fi
      judge "$step" "$1" "$2" "$3" "$got" "DMA by SID $dma_sid"
      in_dma=""; dma_sid=""; continue ;;
    "#"*) continue ;;
  esac
  send "$line"
  if [ "$poll" = 1 ]; then
    poll=0; n=0
    while :; do
      set -- $line
      case $2 in *[13579bdfBDF]) ;; *) break ;; esac
      n=$((n + 1)); [ "$n" -gt 10000 ] && { echo "step $step: the edu DMA did not complete"; exit 2; }
      send "$cmd"
    done
  fi
  if [ -n "$pending" ]; then
    set -- $pending; kind=$1; rec=$2; spec=$3; pending=""
    set -- $line
    judge "$step" "$kind" "$rec" "$spec" "$(norm "$2")" "register read"
  fi
done <"$here/commands.qtest"

if [ "$deviates" -gt 0 ]; then verdict=reproduced; else verdict=passes-now; fi
echo "verdict: $verdict"
[ "$verdict" = reproduced ] && exit 1
exit 0
`;
}
