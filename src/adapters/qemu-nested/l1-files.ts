/**
 * The two scripts L1 boots with [QEMU-NEST-2]: the initramfs's /init (busybox: load the 9p
 * modules, mount the root L0 shares over 9p, switch into it) and L1's init inside that root
 * (network for L0's port forward, the VFIO modules, then a shell on the serial console that the
 * suite drives, without echo or prompts).
 */

/** Printed by L1's init once L1 is ready for commands; followed by the kernel release. */
export const L1_READY = "IOMMU-L1-READY";

export function initramfsInit(modules: readonly string[]): string {
  return `#!/bin/busybox sh
# iommu-conformance L1 initramfs: mount the 9p root and switch into it.
/bin/busybox mkdir -p /proc /sys /dev /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
${modules.map((m) => `/bin/busybox insmod /modules/${m}.ko || echo "L1 initramfs: insmod ${m} failed"`).join("\n")}
if ! /bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose root /newroot; then
  echo "L1 initramfs: cannot mount the 9p root"
  exec /bin/busybox sh
fi
/bin/busybox mount --move /dev /newroot/dev
/bin/busybox umount /proc
exec /bin/busybox switch_root /newroot /usr/local/sbin/iommu-l1-init
`;
}

export function l1Init(): string {
  return `#!/bin/sh
# iommu-conformance L1 init (PID 1): network, VFIO, then a command shell on ttyS0.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
echo 1 > /proc/sys/kernel/printk
modprobe virtio_net
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
modprobe vfio_iommu_type1
modprobe vfio-pci
stty -F /dev/ttyS0 -echo -onlcr 2>/dev/null
echo "${L1_READY} $(uname -r)" > /dev/ttyS0
PS1= PS2= exec sh -i < /dev/ttyS0 > /dev/ttyS0 2>&1
`;
}
