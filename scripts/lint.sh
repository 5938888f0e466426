#!/usr/bin/env bash
# Style checks, as CI runs them: clang-format (no changes allowed) and
# clang-tidy (warnings are errors) over the project's own C++ sources.
#
#   scripts/lint.sh [--fix|--deep]
#     --fix   rewrites files with clang-format
#     --deep  also runs clang-tidy's static analyzer (clang-analyzer-*), which
#             doubles the time; CI leaves it out to stay within its budget
# A unit that passed clang-tidy before, with the same preprocessed source,
# config and clang-tidy, is not checked again ($MVMM_CACHE_DIR/clang-tidy).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

fix=0
deep=0
case "${1:-}" in
    --fix) fix=1 ;;
    --deep) deep=1 ;;
    "") ;;
    *) die "lint.sh: unknown option '$1' (known: --fix, --deep)" ;;
esac

cd "$MVMM_ROOT"
mapfile -t files < <(git ls-files -- '*.cpp' '*.hpp' | grep -E '^(vmm|include|tests|guest|benchmarks|fuzz)/')
[ ${#files[@]} -gt 0 ] || die "lint: no C++ files found under $MVMM_ROOT"

if [ "$fix" = 1 ]; then
    clang-format -i "${files[@]}"
    say "clang-format: rewrote ${#files[@]} files"
    exit 0
fi

mkdir -p "$MVMM_LOG_DIR"
say "clang-format: checking ${#files[@]} files"
if ! clang-format --dry-run --Werror "${files[@]}" 2>"$MVMM_LOG_DIR/clang-format.log"; then
    head -n 60 "$MVMM_LOG_DIR/clang-format.log" >&2
    die "clang-format: files need formatting (run scripts/lint.sh --fix)"
fi

db=$MVMM_BUILD_DIR/compile_commands.json
[ -f "$db" ] || die "clang-tidy: $db is missing; run scripts/setup.sh first"
# clang-tidy checks the translation units the build knows; headers are checked through them.
mapfile -t units < <(printf '%s\n' "${files[@]}" | grep -E '^(vmm|guest)/.*\.cpp$' |
    while read -r f; do grep -q "\"file\": \"$MVMM_ROOT/$f\"" "$db" && echo "$f"; done)
say "clang-tidy: checking ${#units[@]} translation units"
mkdir -p "$MVMM_LOG_DIR"
extra=()
[ "$deep" = 1 ] || extra=(--extra=--checks=-clang-analyzer-*)
if ! python3 "$MVMM_ROOT/scripts/tidy_cached.py" --db "$MVMM_BUILD_DIR" --config "$MVMM_ROOT/.clang-tidy" \
    --cache "$MVMM_CACHE_DIR/clang-tidy" --jobs "$MVMM_JOBS" "${extra[@]}" "${units[@]}" \
    >"$MVMM_LOG_DIR/clang-tidy.log"; then
    grep -E 'error:|warning:' "$MVMM_LOG_DIR/clang-tidy.log" | head -n 60 >&2
    die "clang-tidy: findings above (full log: $MVMM_LOG_DIR/clang-tidy.log)"
fi
say "lint: clean"
