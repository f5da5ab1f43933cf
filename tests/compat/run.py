#!/usr/bin/env python3
"""The compat tier: bpftrace's own runtime tests (v0.26.1) against rbt, with a list of the
failures we know about.

Runs `suite.py` from `../shared/compat` (or `$RBT_COMPAT`) against an rbt binary and fails when
a test fails that `tests/compat/known-failures.md` does not list, so neither the language nor
the runtime can regress unnoticed. A test that fails unlisted is run a second time on its own
before it counts, because a few upstream tests are timing-sensitive on a loaded 2-core machine.
Listed tests that pass are reported, so the list can only shrink.

    tests/compat/run.py --bin target/debug/rbt [--filter REGEX] [--json OUT]

The known-failures file is markdown: a line `- \`suite.test name\`` lists a test (several,
comma-separated, may open one line, before a `:` and a note), under a heading that gives the
reason.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KNOWN = os.path.join(REPO, "tests", "compat", "known-failures.md")


def find_suite():
    """suite.py ships beside the repository, not in it: upstream's tests are not ours to copy."""
    candidates = []
    if os.environ.get("RBT_COMPAT"):
        candidates.append(os.environ["RBT_COMPAT"])
    candidates.append(os.path.join(os.path.dirname(REPO), "shared", "compat"))
    candidates.append("/work/shared/compat")
    for c in candidates:
        path = os.path.join(c, "suite.py")
        if os.path.isfile(path):
            return path
    return None


def known_failures():
    """Test name -> the heading (the reason) it is listed under."""
    known, reason = {}, ""
    with open(KNOWN, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                reason = line.lstrip("#").strip()
                continue
            # `- `a.x`` or `- `a.x`, `a.y`: why`: the names that open the line.
            m = re.match(r"^- ((?:`[^`]+`(?:, )?)+)", line)
            if m:
                for name in re.findall(r"`([^`]+)`", m.group(1)):
                    known[name] = reason
    return known


def run_suite(suite, binary, filt, out):
    cmd = [sys.executable, suite, "--bin", binary, "--json", out]
    if filt:
        cmd += ["--filter", filt]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not os.path.exists(out):
        print(proc.stdout)
        raise SystemExit(f"compat: suite.py failed (exit {proc.returncode})")
    with open(out, encoding="utf-8") as f:
        results = json.load(f)["results"]
    return results, (lines[-1] if lines else "")


def exact(names):
    return "|".join("^" + re.escape(n) + "$" for n in names)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="the rbt binary under test")
    ap.add_argument("--filter", default=None, help="regex on 'suite.test name' (default: all)")
    ap.add_argument("--json", default=None, help="also keep the per-test results here")
    args = ap.parse_args()

    suite = find_suite()
    if suite is None:
        print("compat: skipped: bpftrace's runtime tests are not here "
              "(looked in $RBT_COMPAT, ../shared/compat and /work/shared/compat)")
        return 0
    binary = os.path.abspath(args.bin)
    known = known_failures()
    with tempfile.TemporaryDirectory() as tmp:
        results, summary = run_suite(suite, binary, args.filter, os.path.join(tmp, "all.json"))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump({"results": results}, f, indent=1)
        name = lambda r: f"{r['suite']}.{r['name']}"
        failed = [r for r in results if r["status"] == "fail"]
        unlisted = [name(r) for r in failed if name(r) not in known]
        if unlisted:
            again, _ = run_suite(suite, binary, exact(unlisted), os.path.join(tmp, "again.json"))
            unlisted = [name(r) for r in again if r["status"] == "fail"]

    print(f"compat: {summary} ({len(failed)} failures, {len(failed) - len(unlisted)} of them "
          f"listed in tests/compat/known-failures.md)")
    passing = sorted(name(r) for r in results if r["status"] == "pass" and name(r) in known)
    for n in passing:
        print(f"compat: listed as failing but passes now, take it off the list: {n}")
    if unlisted:
        reasons = {name(r): r["reason"] for r in failed}
        for n in unlisted:
            print(f"compat: FAIL (not a known failure): {n}: {reasons.get(n, '')}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
