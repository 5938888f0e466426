#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a guest kernel under qemu-system-x86_64 (TCG) with a throwaway
# initramfs (busybox + msharefs-test + a small /init), run msharefs-test in
# it, and check the console: the run fails if any test fails, if the tests
# did not finish, or if the kernel printed a splat (BUG:, WARNING:, KASAN:,
# lockdep reports, INFO: ..., Oops, panics).
#
#   run-qemu.sh --test-binary PATH [--kernel DIR] [options] [-- TEST...]
#   run-qemu.sh --scan-log FILE        only check a saved console log
#
# Exit status: 0 passed, 1 failed, 77 skipped (no kernel built).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

usage() {
	cat <<EOF
usage: $0 --test-binary PATH [options] [-- TEST...]

  --kernel DIR        kernel folder with bzImage (default: out/kernel)
  --test-binary PATH  the static msharefs-test program
  --smp N             vCPUs (default 2)
  --memory MB         guest RAM (default 1024)
  --cpu MODEL         QEMU CPU model (default qemu64; 'max' has LA57: 5-level paging)
  --timeout SECONDS   give up on the guest after this long (default 1500)
  --log FILE          keep the console log here (default: a temporary file)
  --append ARGS       extra kernel command-line arguments
  --scan-log FILE     only scan FILE for kernel splats and the test result
  TEST...             run only these tests (see msharefs-test -l)
EOF
}

# shellcheck source=console-check.sh
. "$HERE/console-check.sh"

kernel="$REPO/out/kernel"
test_binary=""
smp=2
memory=1024
cpu=qemu64
timeout_s=1500
log=""
append=""
tests=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift ;;
	--test-binary) test_binary=$2; shift ;;
	--smp) smp=$2; shift ;;
	--memory) memory=$2; shift ;;
	--cpu) cpu=$2; shift ;;
	--timeout) timeout_s=$2; shift ;;
	--log) log=$2; shift ;;
	--append) append=$2; shift ;;
	--scan-log)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		scan_log "$2" && exit 0 || exit 1 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; tests=("$@"); break ;;
	*) echo "run-qemu: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

if [ ! -f "$kernel/bzImage" ]; then
	echo "run-qemu: SKIP: no kernel at '$kernel' (build it with guest-kernel-patch/build.sh)"
	exit 77
fi
[ -n "$test_binary" ] || { echo "run-qemu: --test-binary is required" >&2; exit 2; }
[ -x "$test_binary" ] || { echo "run-qemu: test binary '$test_binary': not an executable file" >&2; exit 2; }
for tool in qemu-system-x86_64 cpio; do
	command -v "$tool" >/dev/null || { echo "run-qemu: '$tool' is not installed" >&2; exit 2; }
done
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
	busybox=/bin/busybox
fi
[ -x "$busybox" ] || { echo "run-qemu: no busybox (install busybox-static)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mshare-qemu.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
[ -n "$log" ] || log="$work/console.log"

# ------------------------------------------------------------ initramfs
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp}
cp "$busybox" "$root/bin/busybox"
cp "$test_binary" "$root/bin/msharefs-test"
cat >"$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mkdir -p /sys/fs/cgroup /dev/hugepages
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t hugetlbfs hugetlbfs /dev/hugepages
mount -t msharefs msharefs /sys/fs/mshare || echo "init: cannot mount msharefs"
echo 8 > /proc/sys/vm/nr_hugepages
# The tests kill processes with SIGSEGV on purpose: do not log each one.
echo 0 > /proc/sys/debug/exception-trace 2>/dev/null
echo "init: kernel \$(uname -r), \$(grep -c ^processor /proc/cpuinfo) CPUs, \$(grep MemTotal /proc/meminfo)"
grep -q la57 /proc/cpuinfo && echo "init: 5-level paging" || echo "init: 4-level paging"
/bin/msharefs-test ${tests[*]}
echo "MSHAREFS-TEST-EXIT: \$?"
sync
reboot -f
EOF
chmod 0755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initramfs.cpio"

# ------------------------------------------------------------ boot
echo "run-qemu: $(basename "$(readlink -f "$kernel")") kernel $kernel, $smp vCPUs, ${memory} MiB, cpu $cpu"
echo "run-qemu: console log $log"
start=$(date +%s)
set +e
timeout --foreground "$timeout_s" qemu-system-x86_64 \
	-machine microvm -cpu "$cpu" -smp "$smp" -m "$memory" \
	-nodefaults -no-user-config -nographic -no-reboot \
	-kernel "$kernel/bzImage" -initrd "$work/initramfs.cpio" \
	-append "console=ttyS0 panic=-1 reboot=t numa=fake=2 $append" \
	-chardev file,id=console,path="$log" -serial chardev:console \
	-monitor none </dev/null
qrc=$?
set -e
echo "run-qemu: guest ran for $(( $(date +%s) - start )) s"
if [ $qrc = 124 ]; then
	echo "run-qemu: the guest did not finish within $timeout_s s"
fi

grep -aE '^(ok|not ok|#|1\.\.|TAP)' "$log" | tr -d '\r' || true
if scan_log "$log" && [ $qrc = 0 ]; then
	echo "run-qemu: PASS"
	exit 0
fi
[ $qrc = 0 ] || echo "run-qemu: qemu exited with status $qrc"
echo "run-qemu: FAIL"
exit 1
