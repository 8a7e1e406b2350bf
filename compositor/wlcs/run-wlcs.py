#!/usr/bin/env python3
"""Run the WLCS conformance suite against Nexquelium and compare with expected-failures.txt.

Usage: run-wlcs.py [--runner PATH] [--library PATH] [--json FILE] [-- extra gtest arguments]

Prints "WLCS 1.5.0: N of M tests pass" (M: the tests that ran; tests of extensions Nexquelium
does not offer are skipped by WLCS and counted apart). Exits non-zero when a test fails that is
not listed in expected-failures.txt, when a listed test passes or does not run (remove it from
the list), when a listed line has no reason, or when the runner itself fails to produce results.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VERSION = "1.5.0"


def read_expected(path):
    """{test name: reason} from lines `Suite.test  # reason`; `#` lines are comments."""
    expected, problems = {}, []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, reason = line.partition("#")
            name, reason = name.strip(), reason.strip()
            if not reason:
                problems.append(f"{path}:{number}: {name} has no reason")
            if name in expected:
                problems.append(f"{path}:{number}: {name} is listed twice")
            expected[name] = reason
    return expected, problems


def read_results(path):
    """{test name: "pass" | "fail" | "skip"} from gtest's JSON report."""
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    results = {}
    for suite in report.get("testsuites", []):
        for test in suite.get("testsuite", []):
            name = f"{suite['name']}.{test['name']}"
            if "wlcs-skip-test" in test or test.get("result") == "SKIPPED":
                results[name] = "skip"
            elif test.get("failures"):
                results[name] = "fail"
            elif test.get("status") == "RUN":
                results[name] = "pass"
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runner", default="/usr/lib/x86_64-linux-gnu/wlcs/wlcs")
    parser.add_argument("--library", default=os.path.join(ROOT, "target/debug/libnexquelium_wlcs.so"))
    parser.add_argument("--expected", default=os.path.join(HERE, "expected-failures.txt"))
    parser.add_argument("--json", help="keep gtest's JSON report here")
    parser.add_argument("--log", help="write the runner's output here (default: a temporary file)")
    parser.add_argument("gtest_args", nargs="*", help="extra arguments for the runner, after --")
    args = parser.parse_args()

    for path, what in ((args.runner, "WLCS runner (apt-get install wlcs)"), (args.library, "integration library")):
        if not os.path.exists(path):
            sys.exit(f"run-wlcs: no {what} at {path}")
    expected, problems = read_expected(args.expected)

    with tempfile.TemporaryDirectory() as tmp:
        report = args.json or os.path.join(tmp, "wlcs.json")
        log_path = args.log or os.path.join(tmp, "wlcs.log")
        command = [args.runner, args.library, f"--gtest_output=json:{report}", *args.gtest_args]
        env = dict(os.environ)
        # Clients get their sockets from the integration; nothing should reach a real session.
        env.pop("WAYLAND_DISPLAY", None)
        env.pop("DISPLAY", None)
        with open(log_path, "w", encoding="utf-8") as log:
            runner = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
        if not os.path.exists(report):
            with open(log_path, encoding="utf-8", errors="replace") as log:
                tail = log.read()[-4000:]
            sys.exit(f"run-wlcs: the runner produced no report (exit status {runner.returncode}):\n{tail}")
        results = read_results(report)
        failure_output = {}
        if runner.returncode != 0:
            failure_output = collect_failure_output(log_path)

    ran = {n: r for n, r in results.items() if r != "skip"}
    passed = sum(1 for r in ran.values() if r == "pass")
    skipped = len(results) - len(ran)
    filtered = bool(args.gtest_args)

    unexpected = sorted(n for n, r in ran.items() if r == "fail" and n not in expected)
    fixed = sorted(n for n in expected if results.get(n) == "pass")
    missing = sorted(n for n in expected if n not in results or results[n] == "skip")
    if filtered:
        missing = []  # a filtered run does not run every listed test

    print(f"WLCS {VERSION}: {passed} of {len(ran)} tests pass")
    print(
        f"  ({skipped} more skipped by WLCS: extensions Nexquelium does not offer; "
        f"{len(expected)} expected failures listed in {os.path.relpath(args.expected, ROOT)})"
    )
    ok = True
    for problem in problems:
        print(f"  bad entry: {problem}")
        ok = False
    for name in unexpected:
        print(f"  FAILED, not an expected failure: {name}")
        for line in failure_output.get(name, [])[:12]:
            print(f"      {line}")
        ok = False
    for name in fixed:
        print(f"  PASSES now, remove it from the expected failures: {name}")
        ok = False
    for name in missing:
        print(f"  listed but did not run (renamed, or skipped): {name}")
        ok = False
    if not ok:
        print("run-wlcs: the WLCS results differ from compositor/wlcs/expected-failures.txt")
        return 1
    return 0


def collect_failure_output(log_path):
    """The runner's output between `[ RUN ] test` and its `[ FAILED ]` line, per test."""
    out, current, lines = {}, None, []
    with open(log_path, encoding="utf-8", errors="replace") as log:
        for line in log:
            line = line.rstrip("\n")
            if line.startswith("[ RUN      ] "):
                current, lines = line[13:].strip(), []
            elif line.startswith("[  FAILED  ] ") and current:
                out[current] = lines
                current = None
            elif current:
                lines.append(line)
    return out


if __name__ == "__main__":
    sys.exit(main())
