/**
 * `qemu setup --nested`: what L1 (the Linux guest that hosts the L2 QEMU under test) needs, built
 * from Debian's packages into the cache directory beside the sid root [QEMU-NEST-1]:
 *   - a copy of the sid root (the plain root other tests use is never modified) with the tools L1
 *     needs (kmod iproute2 socat pciutils procps), served to L1 over 9p;
 *   - the sid kernel and its modules (apt-get download inside the copy, unpacked into it), depmod;
 *   - L1's init script, inside the copy;
 *   - an initramfs made of busybox-static and the 9p modules, archived by busybox's cpio.
 * Every step is skipped when its result is there already; each says what it does and how long
 * it took.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { QEMU_BINARY } from "../qemu/process.ts";
import { initramfsInit, l1Init } from "./l1-files.ts";

const run = promisify(execFile);

/** Where the nested setup lives: beside the sid root. */
export function nestedDir(sidRoot: string): string {
  return join(dirname(resolve(sidRoot)), "qemu-nested");
}

export interface NestedLayout {
  dir: string;
  /** The copy of the sid root L1 boots into (over 9p). */
  root: string;
  kernel: string;
  initrd: string;
  /** JSON: kernel release, QEMU version, when it was made. */
  stamp: string;
}

export function nestedLayout(sidRoot: string): NestedLayout {
  const dir = nestedDir(sidRoot);
  return {
    dir,
    root: join(dir, "root"),
    kernel: join(dir, "vmlinuz"),
    initrd: join(dir, "initrd.cpio"),
    stamp: join(dir, "nested.json"),
  };
}

/** Tools L1 needs beyond the sid root: modprobe, ip, socat (L2's qtest on TCP), lspci, ps/kill. */
export const L1_TOOLS = ["kmod", "iproute2", "socat", "pciutils", "procps"] as const;
/** Modules the initramfs loads to mount the 9p root, in dependency order. */
export const INITRAMFS_MODULES = [
  "fs/netfs/netfs",
  "net/9p/9pnet",
  "net/9p/9pnet_virtio",
  "fs/9p/9p",
] as const;
/** Where L1's init lives inside the copy. */
export const L1_INIT_PATH = "/usr/local/sbin/iommu-l1-init";
const COPY_MARK = ".iommu-conformance-copy";
const DEBS = "/var/cache/iommu-l1-debs";

export interface NestedStamp {
  kernelRelease: string;
  qemu: string;
  made: string;
}

export interface NestedSetupResult {
  layout: NestedLayout;
  stamp: NestedStamp;
  /** Seconds per step, "reused" when nothing had to be done. */
  steps: Array<{ step: string; seconds: number; reused: boolean }>;
}

function runLogged(cmd: string[], log: (l: string) => void, opts: { cwd?: string } = {}): Promise<string> {
  log(`$ ${cmd.join(" ")}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd[0] as string, cmd.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    let out = "";
    let tail = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString("latin1");
      tail = (tail + b.toString("latin1")).slice(-2000);
    });
    child.stderr.on("data", (b: Buffer) => {
      tail = (tail + b.toString("latin1")).slice(-2000);
    });
    child.on("error", (err) => reject(new Error(`${cmd[0]}: ${err.message}`)));
    child.on("exit", (code) => {
      if (code === 0) resolvePromise(out);
      else reject(new Error(`${cmd.join(" ")} failed (exit ${code}):\n${tail}`));
    });
  });
}

/** The kernel release the sid meta-package points at (linux-image-amd64 → linux-image-R). */
async function kernelRelease(root: string, log: (l: string) => void): Promise<string> {
  const out = await runLogged(
    ["chroot", root, "apt-cache", "depends", "--important", "linux-image-amd64"],
    log,
  );
  const m = /Depends:\s+linux-image-([0-9][^\s]*-amd64)/.exec(out);
  if (!m) throw new Error(`cannot tell the kernel release from: ${out.trim()}`);
  return m[1] as string;
}

export async function nestedStatus(
  sidRoot: string,
): Promise<{ ready: boolean; stamp?: NestedStamp; missing: string[] }> {
  const l = nestedLayout(sidRoot);
  const missing = [
    [l.root, "the L1 root (a copy of the sid root)"],
    [l.kernel, "the L1 kernel"],
    [l.initrd, "the initramfs"],
    [join(l.root, L1_INIT_PATH), "L1's init"],
    [l.stamp, "the stamp"],
  ]
    .filter(([p]) => !existsSync(p as string))
    .map(([, what]) => what as string);
  if (missing.length > 0) return { ready: false, missing };
  const stamp = JSON.parse(await readFile(l.stamp, "utf8")) as NestedStamp;
  return { ready: true, stamp, missing };
}

/** [QEMU-NEST-1] Builds (or checks) the nested setup beside `sidRoot`. Needs root privileges. */
export async function nestedSetup(
  sidRoot: string,
  log: (l: string) => void = (l) => console.log(l),
): Promise<NestedSetupResult> {
  const sid = resolve(sidRoot);
  const l = nestedLayout(sid);
  const steps: NestedSetupResult["steps"] = [];
  const step = async (name: string, done: () => boolean, body: () => Promise<void>) => {
    const t0 = Date.now();
    if (done()) {
      log(`${name}: already there`);
      steps.push({ step: name, seconds: 0, reused: true });
      return;
    }
    log(`${name} …`);
    await body();
    const seconds = (Date.now() - t0) / 1000;
    log(`${name}: done in ${seconds.toFixed(1)} s`);
    steps.push({ step: name, seconds, reused: false });
  };
  if (!existsSync(join(sid, "usr/bin", QEMU_BINARY)))
    throw new Error(`no QEMU 11.1 in the sid root ${sid}: run \`iommu-conformance qemu setup\` first`);
  if (process.getuid?.() !== 0)
    throw new Error("qemu setup --nested needs root privileges (chroot, dpkg -x)");
  await mkdir(l.dir, { recursive: true });

  await step(
    `copy the sid root to ${l.root} (the plain root stays untouched)`,
    () => existsSync(join(l.root, COPY_MARK)),
    async () => {
      await rm(l.root, { recursive: true, force: true });
      await runLogged(["cp", "-a", sid, l.root], log);
      await writeFile(join(l.root, COPY_MARK), `copy of ${sid}\n`);
    },
  );
  await step(
    `install ${L1_TOOLS.join(" ")} in the copy`,
    () => existsSync(join(l.root, "usr/bin/socat")) && existsSync(join(l.root, "usr/sbin/modprobe")),
    async () => {
      // The package lists debootstrap fetched are used as they are (no apt-get update: the
      // mirror's Release file may be older than its validity window by now).
      await runLogged(
        ["chroot", l.root, "apt-get", "install", "-y", "-qq", "--no-install-recommends", ...L1_TOOLS],
        log,
      );
    },
  );
  const release = await kernelRelease(l.root, log);
  const modulesDir = join(l.root, "usr/lib/modules", release);
  await step(
    `download and unpack the sid kernel ${release} and busybox-static`,
    () => existsSync(join(modulesDir, "vmlinuz")) && existsSync(join(modulesDir, "modules.dep")),
    async () => {
      const pkgs = [
        `linux-binary-${release}`,
        `linux-modules-${release}`,
        `linux-base-${release}`,
        "busybox-static",
      ];
      await runLogged(
        [
          "chroot",
          l.root,
          "sh",
          "-c",
          `mkdir -p ${DEBS} && cd ${DEBS} && apt-get download ${pkgs.join(" ")}`,
        ],
        log,
      );
      for (const f of await readdir(join(l.root, DEBS)))
        if (f.startsWith("linux-"))
          await runLogged(["chroot", l.root, "dpkg", "-x", `${DEBS}/${f}`, "/"], log);
      await runLogged(["chroot", l.root, "depmod", release], log);
    },
  );
  await step(
    "write L1's init into the copy",
    () => false,
    async () => {
      const path = join(l.root, L1_INIT_PATH);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, l1Init());
      await chmod(path, 0o755);
    },
  );
  await step(
    `copy the kernel to ${l.kernel}`,
    () => existsSync(l.kernel),
    async () => {
      await runLogged(["cp", join(modulesDir, "vmlinuz"), l.kernel], log);
    },
  );
  await step(
    `build the initramfs ${l.initrd} (busybox-static, ${INITRAMFS_MODULES.length} modules, busybox cpio)`,
    () => existsSync(l.initrd),
    async () => {
      const stage = join(l.dir, "initramfs");
      await rm(stage, { recursive: true, force: true });
      await mkdir(join(stage, "modules"), { recursive: true });
      const bb = (await readdir(join(l.root, DEBS))).find((f) => f.startsWith("busybox-static"));
      if (bb === undefined) throw new Error("busybox-static was not downloaded");
      await runLogged(["dpkg", "-x", join(l.root, DEBS, bb), join(stage, "pkg")], log);
      await mkdir(join(stage, "bin"), { recursive: true });
      await runLogged(["cp", join(stage, "pkg/usr/bin/busybox"), join(stage, "bin/busybox")], log);
      await rm(join(stage, "pkg"), { recursive: true, force: true });
      const busybox = join(stage, "bin/busybox");
      for (const m of INITRAMFS_MODULES) {
        const name = m.split("/").at(-1) as string;
        const src = join(modulesDir, "kernel", `${m}.ko.xz`);
        const out = await runLogged([busybox, "unxz", "-c", src], log).catch(async () => {
          // A kernel whose modules are not xz-compressed.
          return (await readFile(join(modulesDir, "kernel", `${m}.ko`))).toString("latin1");
        });
        await writeFile(join(stage, "modules", `${name}.ko`), Buffer.from(out, "latin1"));
      }
      await writeFile(
        join(stage, "init"),
        initramfsInit(INITRAMFS_MODULES.map((m) => m.split("/").at(-1) as string)),
      );
      await chmod(join(stage, "init"), 0o755);
      // busybox cpio -o: the host has no cpio; the list comes from busybox find.
      await runLogged(
        [
          "sh",
          "-c",
          `cd '${stage}' && ./bin/busybox find . | ./bin/busybox cpio -o -H newc > '${l.initrd}.tmp' && mv '${l.initrd}.tmp' '${l.initrd}'`,
        ],
        log,
      );
      await rm(stage, { recursive: true, force: true });
    },
  );
  const { stdout } = await run("chroot", [l.root, QEMU_BINARY, "--version"], { timeout: 30_000 });
  const stamp: NestedStamp = {
    kernelRelease: release,
    qemu: stdout.split("\n")[0]?.trim() ?? "",
    made: new Date().toISOString(),
  };
  const old = existsSync(l.stamp) ? (JSON.parse(await readFile(l.stamp, "utf8")) as NestedStamp) : undefined;
  if (old?.kernelRelease === stamp.kernelRelease && old.qemu === stamp.qemu) stamp.made = old.made;
  await writeFile(l.stamp, `${JSON.stringify(stamp, null, 2)}\n`);
  log(`nested setup ready in ${l.dir}: kernel ${release}, L2 ${stamp.qemu}`);
  return { layout: l, stamp, steps };
}
