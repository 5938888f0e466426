#!/usr/bin/env python3
"""Runs clang-tidy over translation units in parallel, skipping the ones that
passed before with the same inputs.

A unit's key is a hash of: the clang-tidy version, the .clang-tidy config, the
extra options, and the unit preprocessed with its own compile command (so any
change to the file or to a header it includes is a new key). A clean unit
leaves an empty marker file named after its key in the cache folder.

    tidy_cached.py --db BUILD --cache DIR --jobs N [--extra ARG]... FILE...

Exit status 0 when every unit is clean, 1 when clang-tidy found something
(its output is printed), 2 on a usage or set-up error.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import shlex
import subprocess
import sys


def compile_commands(build_dir):
    path = os.path.join(build_dir, "compile_commands.json")
    try:
        with open(path, encoding="utf-8") as f:
            entries = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"tidy_cached: compile database '{path}': {e}")
    return {os.path.realpath(e["file"]): e for e in entries}


def preprocessed(entry):
    """The unit after the preprocessor, with its compile command's flags."""
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    out = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        if a == "-c":
            continue
        out.append(a)
    out += ["-E", "-P"]
    r = subprocess.run(out, cwd=entry["directory"], capture_output=True, check=False)
    if r.returncode != 0:
        return None
    return r.stdout


def check(unit, entry, build_dir, cache, salt, extra):
    source = preprocessed(entry)
    key = None
    if source is not None:
        key = hashlib.sha256(salt + unit.encode() + b"\0" + source).hexdigest()
        if os.path.exists(os.path.join(cache, key)):
            return unit, True, "", True
    r = subprocess.run(["clang-tidy", "-p", build_dir, "--quiet", *extra, unit],
                       capture_output=True, text=True, check=False)
    clean = r.returncode == 0
    if clean and key:
        open(os.path.join(cache, key), "w", encoding="utf-8").close()
    return unit, clean, r.stdout + r.stderr, False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--config", required=True, help="the .clang-tidy file")
    p.add_argument("--extra", action="append", default=[])
    p.add_argument("files", nargs="+")
    a = p.parse_args()

    db = compile_commands(a.db)
    os.makedirs(a.cache, exist_ok=True)
    version = subprocess.run(["clang-tidy", "--version"], capture_output=True, text=True,
                             check=False).stdout
    with open(a.config, "rb") as f:
        salt = hashlib.sha256(version.encode() + f.read() + "\0".join(a.extra).encode()).digest()

    units = []
    for f in a.files:
        real = os.path.realpath(f)
        if real not in db:
            sys.exit(f"tidy_cached: '{f}' is not in {a.db}/compile_commands.json")
        units.append((real, db[real]))

    failed = 0
    cached = 0
    done = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        futures = [pool.submit(check, u, e, a.db, a.cache, salt, a.extra) for u, e in units]
        for fut in concurrent.futures.as_completed(futures):
            unit, clean, output, hit = fut.result()
            done += 1
            cached += hit
            if not clean:
                failed += 1
                print(output, end="")
            if done % 10 == 0 or done == len(units):
                print(f"clang-tidy: {done}/{len(units)} units checked ({cached} unchanged)",
                      file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
