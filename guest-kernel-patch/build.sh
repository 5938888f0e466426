#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the mshare-vmm guest kernel: Debian's linux-source-6.12 with our
# msharefs series applied, configured from tinyconfig plus our fragments.
# Writes vmlinux, bzImage and the introspection profile (profile.json) into a
# cache folder keyed by its inputs and points out/kernel (or out/kernel-debug)
# in the repository at it. A cached result is reused as is; only its profile
# is rewritten if the profile tools changed.
#
# See docs/guest-kernel.md.
set -euo pipefail

usage() {
	cat <<EOF
usage: $0 [--debug] [--kernel-tree PATH] [--jobs N] [--force] [--link NAME]

  --debug             build the debug variant (KASAN, PROVE_LOCKING, DEBUG_VM,
                      PAGE_TABLE_CHECK, DEBUG_LIST); links out/kernel-debug
  --kernel-tree PATH  build your own kernel tree instead (no series applied,
                      our config fragments merged, built out of tree; the tree
                      itself is not written to). Always runs make, which is
                      incremental.
  --jobs N            parallel make jobs (default: number of CPUs)
  --force             rebuild even if a cached result exists
  --link NAME         name of the link under out/ (default kernel or kernel-debug)

Environment: MVMM_CACHE_DIR (default \$HOME/.cache/mshare-vmm).
EOF
}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CACHE_ROOT=${MVMM_CACHE_DIR:-$HOME/.cache/mshare-vmm}/kernel
TARBALL=/usr/src/linux-source-6.12.tar.xz
SOURCE_PACKAGE=linux-source-6.12
# Bump when a change to this script changes the kernel it builds (how it
# configures or makes it), so that cached kernels are rebuilt.
RECIPE=1

debug=0
tree=""
jobs=$(nproc)
force=0
link=""
while [ $# -gt 0 ]; do
	case "$1" in
	--debug) debug=1 ;;
	--kernel-tree)
		[ $# -ge 2 ] || { echo "build.sh: --kernel-tree needs a path" >&2; exit 2; }
		tree=$2; shift ;;
	--kernel-tree=*) tree=${1#*=} ;;
	--jobs|-j)
		[ $# -ge 2 ] || { echo "build.sh: --jobs needs a number" >&2; exit 2; }
		jobs=$2; shift ;;
	--jobs=*) jobs=${1#*=} ;;
	--force) force=1 ;;
	--link)
		[ $# -ge 2 ] || { echo "build.sh: --link needs a name" >&2; exit 2; }
		link=$2; shift ;;
	--link=*) link=${1#*=} ;;
	-h|--help) usage; exit 0 ;;
	*) echo "build.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
case "$jobs" in ''|*[!0-9]*|0) echo "build.sh: --jobs '$jobs': not a positive number" >&2; exit 2 ;; esac
case "$link" in */*|.|..) echo "build.sh: --link '$link': must be a plain name" >&2; exit 2 ;; esac

variant=normal
[ $debug -eq 1 ] && variant=debug
if [ -z "$link" ]; then
	link=kernel
	if [ $debug -eq 1 ]; then link=kernel-debug; fi
fi
fragments=("$HERE/config/guest.config")
[ $debug -eq 1 ] && fragments+=("$HERE/config/debug.config")

START=$(date +%s)
stage_start=$START
stage_no=0
STAGES=6

die() {
	echo "build.sh: $*" >&2
	exit 1
}

elapsed() {
	local s=$(( $(date +%s) - $1 ))
	printf '%dm%02ds' $((s / 60)) $((s % 60))
}

stage() {
	stage_no=$((stage_no + 1))
	stage_start=$(date +%s)
	printf '[%d/%d] %s\n' "$stage_no" "$STAGES" "$*"
}

stage_done() {
	printf '      done in %s%s\n' "$(elapsed "$stage_start")" "${1:+ ($1)}"
}

# Show the tail of a log and fail, naming what failed.
fail_with_log() {
	local what=$1 log=$2
	echo "build.sh: $what; last lines of $log:" >&2
	tail -n 40 "$log" | sed 's/^/    /' >&2
	exit 1
}

# Run a long command with its output in a log file, printing progress (elapsed
# time and files compiled so far) instead of the output itself.
run_logged() {
	local log=$1; shift
	"$@" >>"$log" 2>&1 &
	local pid=$! last_report=0 now count
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		now=$(date +%s)
		count=$(grep -c '^  CC ' "$log" 2>/dev/null || true)
		if [ -t 1 ]; then
			printf '\r      %s elapsed, %s files compiled ' "$(elapsed "$stage_start")" "$count"
		elif [ $((now - last_report)) -ge 60 ]; then
			printf '      %s elapsed, %s files compiled\n' "$(elapsed "$stage_start")" "$count"
			last_report=$now
		fi
	done
	[ -t 1 ] && printf '\n'
	wait "$pid"
}

# ---------------------------------------------------------------- packages
need_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "      installing: ${missing[*]}"
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
	if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >"$CACHE_ROOT/apt.log" 2>&1; then
		"${sudo[@]}" apt-get update >>"$CACHE_ROOT/apt.log" 2>&1 || true
		"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >>"$CACHE_ROOT/apt.log" 2>&1 ||
			fail_with_log "cannot install ${missing[*]}" "$CACHE_ROOT/apt.log"
	fi
}

mkdir -p "$CACHE_ROOT"
stage "checking build packages"
packages=(gcc make flex bison bc libelf-dev libssl-dev python3 xz-utils patch)
[ -z "$tree" ] && packages+=("$SOURCE_PACKAGE")
need_packages "${packages[@]}"
stage_done

# ---------------------------------------------------------------- cache key
# Everything that decides the kernel: the source, the code of the patches
# (not their messages), the config fragments and the recipe. The profile
# tools are not in the key: a changed tool only rewrites profile.json.
series_patches() {
	local line
	[ -f "$HERE/series" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%%#*}
		line=$(echo "$line" | tr -d '[:space:]')
		if [ -n "$line" ]; then echo "$line"; fi
	done <"$HERE/series"
	return 0
}

key_inputs() {
	local f
	echo "recipe $RECIPE"
	sha256sum "$HERE"/config/*.config | awk '{print $1}'
	if [ -z "$tree" ]; then
		while read -r f; do
			[ -f "$HERE/patches/$f" ] || die "series: patch '$f' not found in $HERE/patches"
			sed -n '/^diff --git /,$p' "$HERE/patches/$f" | sha256sum | awk '{print $1}'
		done < <(series_patches)
	fi
}

if [ -n "$tree" ]; then
	[ -d "$tree" ] || die "kernel tree '$tree': not a directory"
	tree=$(cd "$tree" && pwd)
	[ -f "$tree/Makefile" ] && [ -f "$tree/Kconfig" ] ||
		die "kernel tree '$tree': not a Linux source tree (no top-level Makefile and Kconfig)"
	version=$(make -s -C "$tree" kernelversion 2>/dev/null) ||
		die "kernel tree '$tree': 'make kernelversion' failed"
	key=$( { echo "tree $tree"; key_inputs; } | sha256sum | cut -c1-16)
	dir="$CACHE_ROOT/tree-$version-$key"
	src=$tree
	npatches=0
	what="your tree $tree ($version)"
else
	[ -f "$TARBALL" ] || die "kernel source '$TARBALL': missing after installing $SOURCE_PACKAGE"
	pkgver=$(dpkg-query -W -f='${Version}' "$SOURCE_PACKAGE")
	version=${pkgver%%-*}
	key=$( { echo "source $SOURCE_PACKAGE $pkgver"; stat -c '%s %Y' "$TARBALL"; key_inputs; } |
		sha256sum | cut -c1-16)
	dir="$CACHE_ROOT/$version-$key"
	src="$dir/src"
	npatches=$(series_patches | wc -l)
	what="linux $version + $npatches patches"
fi
build="$dir/build-$variant"
result="$dir/$variant"
mkdir -p "$dir"
echo "      $what, $variant config"
echo "      cache: $dir"

# One build per cache folder and variant at a time; the shared source tree
# is extracted and patched under a second lock (below).
exec 9>"$dir/.lock-$variant"
if ! flock -n 9; then
	echo "      waiting for another $variant build in $dir"
	flock 9
fi

link_result() {
	mkdir -p "$REPO/out"
	ln -sfn "$result" "$REPO/out/$link"
	echo "out/$link -> $result"
	ls -l "$result/bzImage" "$result/vmlinux" "$result/profile.json" | awk '{print "   ", $5, $NF}'
}

profile_tools_hash() {
	cat "$HERE"/profile/* | sha256sum | awk '{print $1}'
}

# write_profile: offsets.c compiled against the build, then profile.json
# into $1 (a result folder), stamped with the hash of the profile tools.
write_profile() {
	local out=$1 moddir="$build/mvmm-profile"
	rm -rf "$moddir"
	mkdir -p "$moddir"
	cp "$HERE/profile/offsets.c" "$HERE/profile/Makefile" "$moddir/"
	make -C "$src" O="$build" M="$moddir" offsets.s >>"$log" 2>&1 ||
		fail_with_log "compiling the profile offsets against the build failed" "$log"
	python3 "$HERE/profile/make-profile.py" --build-dir "$build" --offsets "$moddir/offsets.s" \
		--out "$out/profile.json" || die "writing the profile failed"
	profile_tools_hash >"$out/profile.tools"
}

if [ -z "$tree" ] && [ $force -eq 0 ] && [ -f "$result/vmlinux" ]; then
	if [ "$(cat "$result/profile.tools" 2>/dev/null)" = "$(profile_tools_hash)" ]; then
		echo "      cached result found; nothing to build"
	else
		echo "      cached kernel found; the profile tools changed: rewriting profile.json"
		log="$build/build.log"
		write_profile "$result"
	fi
	link_result
	exit 0
fi

# ---------------------------------------------------------------- source
if [ -z "$tree" ]; then
	exec 8>"$dir/.lock-src"
	if ! flock -n 8; then
		echo "      waiting for another build to extract the source"
		flock 8
	fi
	if [ ! -f "$src/.mvmm-series-applied" ]; then
		stage "extracting $(basename "$TARBALL")"
		rm -rf "$src" "$src.tmp"
		mkdir -p "$src.tmp"
		tar -xf "$TARBALL" --strip-components=1 -C "$src.tmp" ||
			die "kernel source '$TARBALL': extraction failed"
		stage_done

		stage "applying the series ($npatches patches)"
		n=0
		while read -r p; do
			n=$((n + 1))
			if ! out=$(patch -p1 --forward --batch -d "$src.tmp" <"$HERE/patches/$p" 2>&1); then
				echo "build.sh: patch $n of $npatches, '$p', does not apply to linux $version:" >&2
				echo "$out" | grep -v '^patching file' | head -n 20 | sed 's/^/    /' >&2
				exit 1
			fi
		done < <(series_patches)
		touch "$src.tmp/.mvmm-series-applied"
		mv "$src.tmp" "$src"
		stage_done
	else
		stage "source already extracted and patched"
		stage_done
		stage "applying the series: already applied"
		stage_done
	fi
else
	stage "using $tree as is"
	stage_done
	stage "applying the series: skipped for --kernel-tree"
	stage_done
fi

exec 8>&-	# the source tree is ready: other variants may go on

# ---------------------------------------------------------------- configure
stage "configuring (tinyconfig + $(for f in "${fragments[@]}"; do basename "$f"; done | paste -sd+))"
mkdir -p "$build"
log="$build/build.log"
: >"$log"
# Reproducible banner: the same inputs give the same kernel.
export KBUILD_BUILD_USER=mshare-vmm KBUILD_BUILD_HOST=mshare-vmm KBUILD_BUILD_VERSION=1
KBUILD_BUILD_TIMESTAMP=$(date -u -d "@$(stat -c %Y "$src/Makefile")" '+%a %b %e %H:%M:%S UTC %Y')
export KBUILD_BUILD_TIMESTAMP
make -C "$src" O="$build" tinyconfig >>"$log" 2>&1 || fail_with_log "make tinyconfig failed" "$log"
(cd "$src" && scripts/kconfig/merge_config.sh -m -O "$build" "$build/.config" "${fragments[@]}") \
	>>"$log" 2>&1 || fail_with_log "merging the config fragments failed" "$log"
make -C "$src" O="$build" olddefconfig >>"$log" 2>&1 || fail_with_log "make olddefconfig failed" "$log"

# Every option the fragments ask for must have survived olddefconfig (the
# last fragment wins). For a user's tree a miss is only a warning.
declare -A wanted=()
for f in "${fragments[@]}"; do
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			wanted[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
			wanted[${BASH_REMATCH[1]}]=n
		fi
	done <"$f"
done
misses=()
for opt in "${!wanted[@]}"; do
	want=${wanted[$opt]}
	got=$(grep -E "^$opt=" "$build/.config" | cut -d= -f2- || true)
	[ -n "$got" ] || got=n
	[ "$got" = "$want" ] || misses+=("$opt: wanted $want, got $got")
done
if [ ${#misses[@]} -gt 0 ]; then
	IFS=$'\n' sorted=($(sort <<<"${misses[*]}")); unset IFS
	if [ -z "$tree" ]; then
		printf '    %s\n' "${sorted[@]}" >&2
		die "the config fragments do not hold after olddefconfig (missing dependencies?)"
	fi
	echo "      warning: options of our fragments that your tree does not give:"
	printf '        %s\n' "${sorted[@]}"
fi
stage_done

# ---------------------------------------------------------------- build
stage "building vmlinux and bzImage (make -j$jobs, log: $log)"
run_logged "$log" nice -n 10 make -C "$src" O="$build" -j"$jobs" vmlinux bzImage ||
	fail_with_log "the kernel build failed" "$log"
stage_done "$(grep -c '^  CC ' "$log" || true) files compiled"

# ---------------------------------------------------------------- profile
stage "writing the introspection profile"
rm -rf "$result.tmp"
mkdir -p "$result.tmp"
write_profile "$result.tmp"
cp "$build/vmlinux" "$build/System.map" "$result.tmp/"
cp "$build/arch/x86/boot/bzImage" "$result.tmp/"
cp "$build/.config" "$result.tmp/config"
cp "$log" "$result.tmp/build.log"
rm -rf "$result"
mv "$result.tmp" "$result"
stage_done "build id $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["build_id"])' "$result/profile.json")"

echo "built in $(elapsed "$START")"
link_result
