#!/usr/bin/env bash
# The whole suite as `make test` runs it: two pytest processes at once, since most of the
# time goes to waiting (servers, browsers, printers, card readers), not to the 2 cores.
#   - the district server: tests/district (PostgreSQL), the longer half;
#   - the rest: the kiosk (pcscd and vpcd, CUPS, Qt) and the console in Chromium
#     (tests/browser, with a PostgreSQL cluster of its own).
# They share nothing: each starts its own services (each PostgreSQL cluster listens on a
# socket in its own folder). Each one's output goes to
# build/test-logs/ and is printed whole when both have ended, then one closing line that
# adds them up. An empty part (pytest's exit 5) is a failure.
# With arguments, runs one pytest with them instead (`make test PYTEST_ARGS=...`).
set -u
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}

if [[ $# -gt 0 ]]; then
  "$python" -m pytest "$@"
  status=$?
  if [[ $status -eq 5 ]]; then
    echo "pytest collected no tests for: $*"
    exit 0
  fi
  exit $status
fi

logs=build/test-logs
mkdir -p "$logs"
parts=(district rest)
declare -A args=(
  [district]="tests/district"
  [rest]="tests --ignore=tests/district"
)
declare -A pids=()
for part in "${parts[@]}"; do
  # shellcheck disable=SC2086 # the arguments are word lists on purpose
  "$python" -m pytest ${args[$part]} >"$logs/$part.log" 2>&1 &
  pids[$part]=$!
done

failed=0
passed=0 failures=0 skipped=0
for part in "${parts[@]}"; do
  wait "${pids[$part]}"
  status=$?
  echo "===== $part: pytest ${args[$part]} (exit $status) ====="
  cat "$logs/$part.log"
  if [[ $status -eq 5 ]]; then
    echo "pytest collected no tests in the $part part"
    failed=1
  elif [[ $status -ne 0 ]]; then
    failed=1
  fi
  summary=$(grep -E '^=+ .*(passed|failed|error).* in [0-9.]+s' "$logs/$part.log" | tail -1)
  for kind in passed failed error errors skipped; do
    count=$(grep -oE "[0-9]+ $kind\b" <<<"$summary" | grep -oE '^[0-9]+' || true)
    case "$kind" in
      passed) passed=$((passed + ${count:-0})) ;;
      failed|error|errors) failures=$((failures + ${count:-0})) ;;
      skipped) skipped=$((skipped + ${count:-0})) ;;
    esac
  done
done
echo "suite: $passed passed, $failures failed, $skipped skipped"
exit $failed
