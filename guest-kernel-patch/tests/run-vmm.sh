#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a guest kernel with the project's VMM (mshare-vmm run) and initramfs,
# have /init run msharefs-test instead of the guest agent (kernel option
# mvmm.run=), and check the console: the run fails if any test fails, if the
# tests did not finish, or if the kernel printed a splat (BUG:, WARNING:,
# KASAN:, lockdep reports, INFO: ..., Oops, panics).
#
#   run-vmm.sh --vmm PATH --initramfs PATH [--kernel DIR] [options] [-- TEST...]
#
# Exit status: 0 passed, 1 failed, 77 skipped (no kernel built).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

usage() {
	cat <<EOF
usage: $0 --vmm PATH --initramfs PATH [options] [-- TEST...]

  --vmm PATH          the mshare-vmm program (build/vmm/app/mshare-vmm)
  --initramfs PATH    the project's initramfs, which has /bin/msharefs-test
                      (build/guest/initramfs/initramfs.cpio)
  --kernel DIR        kernel folder with bzImage (default: out/kernel)
  --engine NAME       qemu, kvm or auto (default qemu: TCG)
  --smp N             vCPUs (default 2)
  --memory MB         guest RAM (default 1024)
  --cpu MODEL         QEMU CPU model (default: the engine's; 'max' has LA57:
                      5-level paging)
  --timeout SECONDS   stop the guest after this long (default 1500)
  --log FILE          keep the console log here (default: a temporary file)
  --append ARGS       extra kernel command-line arguments
  TEST...             run only these tests (see msharefs-test -l)
EOF
}

# shellcheck source=console-check.sh
. "$HERE/console-check.sh"

kernel="$REPO/out/kernel"
vmm=""
initramfs=""
engine=qemu
smp=2
memory=1024
cpu=""
timeout_s=1500
log=""
append=""
tests=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift ;;
	--vmm) vmm=$2; shift ;;
	--initramfs) initramfs=$2; shift ;;
	--engine) engine=$2; shift ;;
	--smp) smp=$2; shift ;;
	--memory) memory=$2; shift ;;
	--cpu) cpu=$2; shift ;;
	--timeout) timeout_s=$2; shift ;;
	--log) log=$2; shift ;;
	--append) append=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; tests=("$@"); break ;;
	*) echo "run-vmm: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

if [ ! -f "$kernel/bzImage" ]; then
	echo "run-vmm: SKIP: no kernel at '$kernel' (build it with guest-kernel-patch/build.sh)"
	exit 77
fi
[ -n "$vmm" ] || { echo "run-vmm: --vmm is required" >&2; exit 2; }
[ -x "$vmm" ] || { echo "run-vmm: VMM '$vmm': not an executable file" >&2; exit 2; }
[ -n "$initramfs" ] || { echo "run-vmm: --initramfs is required" >&2; exit 2; }
[ -f "$initramfs" ] || { echo "run-vmm: initramfs '$initramfs': no such file" >&2; exit 2; }
case "$timeout_s" in ''|*[!0-9]*) echo "run-vmm: --timeout '$timeout_s': not a number of seconds" >&2; exit 2 ;; esac
for t in "${tests[@]}"; do
	case "$t" in *[!A-Za-z0-9_]*|'') echo "run-vmm: test name '$t': not a test name" >&2; exit 2 ;; esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/mshare-vmm-test.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
[ -n "$log" ] || log="$work/console.log"
log=$(realpath -m "$log")

# /init runs the program named by mvmm.run= (arguments after commas), prints
# its exit status on the console and reboots, which ends the VM.
run_arg=/bin/msharefs-test
for t in "${tests[@]}"; do run_arg+=",$t"; done
# 8 huge pages for the hugetlb tests; two NUMA nodes for the NUMA balancing test.
cmdline="numa=fake=2 mvmm.hugepages=8 mvmm.run=$run_arg $append"
python3 - "$work/vm.json" "$(realpath "$kernel/bzImage")" "$(realpath "$initramfs")" \
	"$cmdline" "$smp" "$memory" "$engine" "$cpu" "$log" <<'PY'
import json, sys
out, kernel, initramfs, cmdline, smp, memory, engine, cpu, log = sys.argv[1:]
vm = {"name": "msharefs-test", "kernel": kernel, "initramfs": initramfs,
      "cmdline": cmdline, "vcpus": int(smp), "memory_mib": int(memory),
      "engine": engine, "console_log": log}
if cpu:
    vm["qemu"] = {"extra_args": ["-cpu", cpu]}
with open(out, "w") as f:
    json.dump(vm, f, indent=2)
PY

echo "run-vmm: $(basename "$(readlink -f "$kernel")") kernel $kernel, $smp vCPUs, ${memory} MiB, engine $engine${cpu:+, cpu $cpu}"
echo "run-vmm: console log $log"
start=$(date +%s)
set +e
# The VMM stops the guest after the time limit; timeout(1) is the backstop.
timeout --foreground $((timeout_s + 60)) "$vmm" run --config "$work/vm.json" \
	--stop-after "$timeout_s" --no-console-stdout >"$work/vmm.log" 2>&1 </dev/null
vrc=$?
set -e
echo "run-vmm: guest ran for $(( $(date +%s) - start )) s; mshare-vmm exited with status $vrc"
if [ $vrc != 0 ]; then
	echo "run-vmm: mshare-vmm said:"
	tail -n 20 "$work/vmm.log" | sed 's/^/    /'
fi

grep -aE '^(ok|not ok|#|1\.\.|TAP|Bail out)' "$log" | tr -d '\r' || true
if scan_log "$log" && [ $vrc = 0 ]; then
	echo "run-vmm: PASS"
	exit 0
fi
echo "run-vmm: FAIL"
exit 1
