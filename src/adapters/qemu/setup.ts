/**
 * `qemu setup`: prepares QEMU 11.1 for the adapter [QEMU-SETUP-1]: a minimal Debian sid
 * root made with debootstrap in a cache directory, qemu-system-x86 installed in it, and the
 * exact version recorded in a file. Idempotent: a root whose QEMU answers --version is kept.
 * It says what it does through `log`.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { INSTALL_HINT, QEMU_BINARY } from "./process.ts";

const run = promisify(execFile);

export const DEFAULT_ROOT = ".cache/qemu-sid";
/** File in the root's parent directory recording the version installed. */
export const VERSION_FILE = "qemu-sid.version";

export interface SetupOptions {
  /** The root directory (default .cache/qemu-sid under the current directory). */
  root?: string;
  /** Debian suite (default sid). */
  suite?: string;
  log?: (line: string) => void;
}

export interface SetupResult {
  root: string;
  version: string;
  /** False when an existing root was reused. */
  created: boolean;
}

/** The commands setup runs, for docs and for CI scripts. */
export function setupCommands(root: string, suite = "sid"): string[][] {
  return [
    ["debootstrap", "--variant=minbase", suite, root],
    ["chroot", root, "apt-get", "install", "-y", "--no-install-recommends", "qemu-system-x86"],
    ["chroot", root, "apt-get", "clean"],
  ];
}

async function rootVersion(root: string): Promise<string | undefined> {
  if (!existsSync(join(root, "usr/bin", QEMU_BINARY))) return undefined;
  try {
    const { stdout } = await run("chroot", [root, QEMU_BINARY, "--version"], { timeout: 20_000 });
    return stdout.split("\n")[0]?.trim();
  } catch {
    return undefined;
  }
}

function runLogged(cmd: string[], log: (l: string) => void): Promise<void> {
  log(`$ ${cmd.join(" ")}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd[0]!, cmd.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    let tail = "";
    const keep = (b: Buffer) => {
      tail = (tail + b.toString("latin1")).slice(-2000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", (err) => reject(new Error(`${cmd[0]}: ${err.message}`)));
    child.on("exit", (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${cmd.join(" ")} failed (exit ${code}):\n${tail}`));
    });
  });
}

export async function qemuSetup(opts: SetupOptions = {}): Promise<SetupResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const root = resolve(opts.root ?? DEFAULT_ROOT);
  const versionFile = join(root, "..", VERSION_FILE);
  const existing = await rootVersion(root);
  if (existing) {
    log(`QEMU root ${root} is ready: ${existing}`);
    await writeFile(versionFile, `${existing}\n`);
    return { root, version: existing, created: false };
  }
  if (process.getuid?.() !== 0) {
    throw new Error(
      `qemu setup needs root privileges (debootstrap and chroot). Run as root: ${setupCommands(root)
        .map((c) => c.join(" "))
        .join(" && ")}`,
    );
  }
  try {
    await run("debootstrap", ["--version"], { timeout: 20_000 });
  } catch {
    throw new Error("debootstrap is missing: apt-get install -y debootstrap");
  }
  await mkdir(join(root, ".."), { recursive: true });
  log(
    `Making a minimal Debian ${opts.suite ?? "sid"} root in ${root} and installing qemu-system-x86 there (about 65 MB of downloads, 350 MB on disk).`,
  );
  const [boot, install, clean] = setupCommands(root, opts.suite);
  // A half-made root from an interrupted run: debootstrap resumes into an existing directory.
  if (!existsSync(join(root, "usr/bin/apt-get"))) await runLogged(boot!, log);
  await runLogged(install!, log);
  await runLogged(clean!, log);
  const version = await rootVersion(root);
  if (!version) throw new Error(`QEMU in ${root} does not run after installing. ${INSTALL_HINT}`);
  await writeFile(versionFile, `${version}\n`);
  log(`Installed: ${version} (recorded in ${versionFile})`);
  return { root, version, created: true };
}

/** The version recorded by the last setup, if any. */
export async function recordedVersion(root = DEFAULT_ROOT): Promise<string | undefined> {
  try {
    return (await readFile(join(resolve(root), "..", VERSION_FILE), "latin1")).trim();
  } catch {
    return undefined;
  }
}
