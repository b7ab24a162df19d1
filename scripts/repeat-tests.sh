#!/usr/bin/env bash
# Run a part of the suite N times in a row on one broker and count the runs that failed: the
# check that a test is not flaky before it lands (issue 9: a red CI from a race throws a whole
# submission away).
#
#   scripts/repeat-tests.sh                       tests/integration, 10 times
#   scripts/repeat-tests.sh 5 tests/test_demo.py  any pytest arguments, 5 times
#
# Each run's output is kept in test-artifacts/repeat/run-K.log; the summary line of each run
# and the total are printed. Exit status: 0 when every run passed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
runs=10
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
    runs="$1"
    shift
fi
(( $# )) || set -- tests/integration
out="${ROOT}/test-artifacts/repeat"
mkdir -p "${out}"

failed=0
for ((k = 1; k <= runs; k++)); do
    start=$(date +%s)
    if IOC_TEST_LINT=0 scripts/test.sh -q -p no:cacheprovider "$@" > "${out}/run-${k}.log" 2>&1; then
        verdict=passed
    else
        verdict=FAILED
        failed=$((failed + 1))
    fi
    summary="$(grep -E '(passed|failed|error)' "${out}/run-${k}.log" | tail -1)"
    echo "run ${k}/${runs}: ${verdict} in $(( $(date +%s) - start )) s: ${summary}"
done
echo "repeat-tests: ${failed} of ${runs} runs failed ($*)"
(( failed == 0 ))
