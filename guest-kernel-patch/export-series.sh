#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Regenerate patches/ and series from a git tree of the kernel in which the
# series is developed, one commit per patch on top of the pristine source:
#
#   export-series.sh ~/src/linux BASE
#
# BASE is the commit of the pristine linux-source-6.12 tree. The patches are
# written with --zero-commit and without a signature, so that re-exporting
# an unchanged series changes no file.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -eq 2 ] || { echo "usage: $0 KERNEL_GIT_TREE BASE_COMMIT" >&2; exit 2; }
tree=$1
base=$2
git -C "$tree" rev-parse --verify -q "$base^{commit}" >/dev/null ||
	{ echo "export-series: '$base' is not a commit in $tree" >&2; exit 1; }
[ -z "$(git -C "$tree" status --porcelain --untracked-files=no)" ] ||
	{ echo "export-series: $tree has uncommitted changes" >&2; exit 1; }

rm -f "$HERE"/patches/*.patch
mkdir -p "$HERE/patches"
git -C "$tree" format-patch --quiet --zero-commit --no-signature --no-numbered \
	-o "$HERE/patches" "$base..HEAD"
{
	echo "# The msharefs series for Linux 6.12 (Debian linux-source-6.12), in the"
	echo "# order it applies. Regenerate with export-series.sh; see docs/guest-kernel.md."
	(cd "$HERE/patches" && ls -1 -- *.patch)
} >"$HERE/series"
echo "export-series: $(ls "$HERE"/patches/*.patch | wc -l) patches from $base..HEAD"
