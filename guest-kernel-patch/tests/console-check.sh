# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by run-vmm.sh and run-qemu.sh: the check of a guest console log
# after an msharefs-test run.

# Lines that mean the kernel is unhappy. Any of them fails the run.
SPLATS='BUG:|WARNING:|KASAN:|UBSAN:|Oops|Kernel panic|kernel BUG at|general protection fault|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|INFO: |list_add corruption|list_del corruption|Bad page|bad pgd|refcount_t:'

# The exit status of msharefs-test as the console shows it: the runners'
# /init prints "MSHAREFS-TEST-EXIT: N" (run-qemu.sh) or "init: mvmm.run:
# /bin/msharefs-test exited with status N" (the project's /init, run-vmm.sh).
test_exit_status() {
	grep -aE '^MSHAREFS-TEST-EXIT: [0-9]+|init: mvmm\.run: [^ ]*msharefs-test exited with status [0-9]+' "$1" |
		tail -n 1 | tr -d '\r' | grep -oE '[0-9]+$' || true
}

# scan_log FILE: print the verdict; return 0 if the log shows a clean, passing run.
scan_log() {
	local log=$1 ok=1 rc
	if [ ! -f "$log" ]; then
		echo "console check: log '$log': no such file" >&2
		return 1
	fi
	if grep -aEn "$SPLATS" "$log" >/dev/null; then
		echo "console check: the kernel reported problems on the console:"
		grep -aEn "$SPLATS" "$log" | head -n 20 | sed 's/^/    /'
		ok=0
	fi
	rc=$(test_exit_status "$log")
	if [ -z "$rc" ]; then
		echo "console check: the tests did not finish (no exit status on the console); last lines:"
		tail -n 15 "$log" | sed 's/^/    /'
		ok=0
	elif [ "$rc" != 0 ]; then
		echo "console check: msharefs-test exited with status $rc; failed tests:"
		grep -a '^not ok ' "$log" | sed 's/^/    /' || true
		ok=0
	fi
	[ $ok = 1 ]
}
