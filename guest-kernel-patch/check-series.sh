#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check that the series builds one patch at a time: extract the pristine
# linux-source-6.12, apply the patches in order, and after each patch that
# is asked for build vmlinux (incrementally, in one build folder). Prints one
# line per built patch with the result, the time and the compiler warnings
# in files the series touches. See docs/guest-kernel.md.
set -euo pipefail

usage() {
	cat <<EOF
usage: $0 [--debug] [--no-mshare] [--jobs N] [N...]

  N            numbers of the patches after which to build (default: all);
               the patches before them are applied without a build
  --debug      the debug config (guest.config + debug.config)
  --no-mshare  the config with CONFIG_MSHARE off, which must build too
  --jobs N     parallel make jobs (default: number of CPUs)

Environment: MVMM_CACHE_DIR (default \$HOME/.cache/mshare-vmm); the work
folder is <cache>/kernel/check-<variant> and is reused by the next run.
Exit status: 0 if every build passed, 1 otherwise.
EOF
}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TARBALL=/usr/src/linux-source-6.12.tar.xz
debug=0
nomshare=0
jobs=$(nproc)
wanted=()
while [ $# -gt 0 ]; do
	case "$1" in
	--debug) debug=1 ;;
	--no-mshare) nomshare=1 ;;
	--jobs|-j)
		[ $# -ge 2 ] || { echo "check-series: --jobs needs a number" >&2; exit 2; }
		jobs=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	*[!0-9]*|'') echo "check-series: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	*) wanted+=("$((10#$1))") ;;
	esac
	shift
done
case "$jobs" in ''|*[!0-9]*|0) echo "check-series: --jobs '$jobs': not a positive number" >&2; exit 2 ;; esac
[ -f "$TARBALL" ] || { echo "check-series: kernel source '$TARBALL': missing (build.sh installs it)" >&2; exit 1; }

patches=()
while IFS= read -r line || [ -n "$line" ]; do
	line=${line%%#*}
	line=$(echo "$line" | tr -d '[:space:]')
	[ -z "$line" ] || patches+=("$line")
done <"$HERE/series"
n=${#patches[@]}
[ ${#wanted[@]} -gt 0 ] || mapfile -t wanted < <(seq 1 "$n")
for w in "${wanted[@]}"; do
	[ "$w" -ge 1 ] && [ "$w" -le "$n" ] || { echo "check-series: no patch $w (the series has $n)" >&2; exit 2; }
done

variant=normal
fragments=("$HERE/config/guest.config")
if [ $debug = 1 ]; then variant=debug; fragments+=("$HERE/config/debug.config"); fi
work=${MVMM_CACHE_DIR:-$HOME/.cache/mshare-vmm}/kernel/check-$variant
if [ $nomshare = 1 ]; then work+=-nomshare; fi
src=$work/src
build=$work/build
mkdir -p "$work"
exec 9>"$work/.lock"
flock -n 9 || { echo "check-series: another check runs in $work" >&2; exit 1; }

echo "check-series: $n patches, building after ${wanted[*]}; $variant config$([ $nomshare = 1 ] && echo ', CONFIG_MSHARE off'); work folder $work"
rm -rf "$src"
mkdir -p "$src"
tar -xf "$TARBALL" --strip-components=1 -C "$src"

# The files the series touches, for the warning count.
touched=$(sed -n 's|^+++ b/||p' "${patches[@]/#/$HERE/patches/}" | sort -u)

configured=0
failed=0
for i in $(seq 1 "$n"); do
	p=${patches[$((i - 1))]}
	if ! out=$(patch -p1 --forward --batch -d "$src" <"$HERE/patches/$p" 2>&1); then
		echo "patch $i, '$p', does not apply:"
		echo "$out" | grep -v '^patching file' | head -n 20 | sed 's/^/    /'
		exit 1
	fi
	build_it=0
	for w in "${wanted[@]}"; do [ "$w" = "$i" ] && build_it=1; done
	[ $build_it = 1 ] || continue

	log=$work/build-$(printf '%04d' "$i").log
	start=$(date +%s)
	if [ $configured = 0 ]; then
		# A fresh build folder: tinyconfig, the fragments, then olddefconfig.
		rm -rf "$build"
		mkdir -p "$build"
		extra=$work/extra.config
		: >"$extra"
		[ $nomshare = 0 ] || echo '# CONFIG_MSHARE is not set' >"$extra"
		{ make -C "$src" O="$build" tinyconfig &&
		  (cd "$src" && scripts/kconfig/merge_config.sh -m -O "$build" "$build/.config" "${fragments[@]}" "$extra") &&
		  make -C "$src" O="$build" olddefconfig; } >"$log" 2>&1 ||
			{ echo "check-series: configuring failed; see $log" >&2; exit 1; }
		configured=1
	else
		make -C "$src" O="$build" olddefconfig >"$log" 2>&1 ||
			{ echo "check-series: olddefconfig after patch $i failed; see $log" >&2; exit 1; }
	fi
	if nice -n 10 make -C "$src" O="$build" -j"$jobs" vmlinux >>"$log" 2>&1; then
		result=ok
	else
		result=FAILED
		failed=1
	fi
	warnings=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: warning:' "$log" | sed -e "s|^$src/||" -e "s|^\.\./src/||" |
		while IFS=: read -r file rest; do
			grep -qxF "$file" <<<"$touched" && echo "$file:$rest"
		done | sort -u || true)
	nwarn=$(grep -c . <<<"$warnings" || true)
	printf '%2d %-62s %s in %ds, %d warnings in files of the series\n' "$i" "${p%.patch}" "$result" \
		$(( $(date +%s) - start )) "$nwarn"
	[ -z "$warnings" ] || sed 's/^/      /' <<<"$warnings"
	if [ $result = FAILED ]; then
		grep -E 'error' "$log" | head -n 10 | sed 's/^/      /'
		echo "      log: $log"
	fi
done
exit $failed
