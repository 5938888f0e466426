#!/usr/bin/env python3
"""Prints what a scenario report measured, in a few lines for people:
the engine and why, the boot time, the shmem workload's page tables, and what
the hypervisor saw of the mshare region. Used by scripts/run.sh.

    run-summary.py REPORT.json
"""
import json
import sys


def get(obj, *path):
    for p in path:
        if isinstance(obj, dict) and p in obj:
            obj = obj[p]
        elif isinstance(obj, list) and isinstance(p, int) and -len(obj) <= p < len(obj):
            obj = obj[p]
        else:
            return None
    return obj


def kib(n):
    return "?" if n is None else f"{n / 1024:.0f} KiB"


def main():
    path = sys.argv[1]
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"run-summary: report '{path}': {e}")
    for s in report.get("scenarios", []):
        saved = s.get("saved", {})
        print(f"scenario '{s.get('name')}': {s.get('status')}"
              + (f" ({s['skip_reason']})" if s.get("skip_reason") else ""))
        engine = saved.get("engine")
        if engine:
            print(f"  engine:      {engine.get('engine')} ({engine.get('reason')})")
        boot = get(saved, "boot", "data", "seconds")
        if boot is not None:
            print(f"  boot:        {boot:.2f} s to the boot-complete marker")
        for mode in ("shmem", "mshare"):
            run = get(saved, mode, "json")
            if not run:
                continue
            procs = get(run, "config", "processes")
            size = get(run, "config", "size")
            delta = get(run, "summary", "page_tables_touch_delta")
            per = get(run, "summary", "region_vm_pte_per_process")
            print(f"  ptbench {mode:6} {procs} processes x {size // (1 << 20) if size else '?'} MiB:"
                  f" page tables made by touching {kib(delta)},"
                  f" VmPTE per process for the region {kib(per)}, outcome {run.get('outcome')}")
        regions = saved.get("regions")
        if regions:
            puds = regions.get("shared-puds") or []
            counts = ", ".join(str(p.get("share-count")) for p in puds)
            print(f"  hypervisor:  {len(regions.get('regions') or [])} msharefs region(s),"
                  f" {len(puds)} shared PUD table(s) (share counts: {counts or '-'}),"
                  f" consistent with the kernel's counts: {regions.get('consistent')}")
        after = saved.get("regions_after")
        if after is not None:
            print(f"  after detach: {len(after.get('shared-puds') or [])} shared PUD table(s) left")
        for failure in s.get("failures", []):
            print(f"  FAILED: {failure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
