#!/usr/bin/env bash
# Build the wheel, install it with the CPU torch into a fresh venv OUTSIDE the checkout, and use
# maskproof there as a user would: the commands, the worked-example audit, and a user project's
# own pytest suite with the plugin (one failing contract, one known failure). Then install PyPI's
# `spec` and `runtime` beside it and check that nothing about maskproof changed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/maskproof-wheel.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
step() { printf '\n== %s\n' "$*"; }

step "the checkout's own traceability, to compare with the installed one"
(cd "$WORK" && "$ROOT/.venv/bin/maskproof" check --examples 5 --quiet --out checkout.json >/dev/null)

step "build the wheel"
"$ROOT/.venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" "$ROOT"
WHEEL="$(ls "$WORK"/dist/maskproof-*.whl)"
echo "$WHEEL"

step "fresh venv outside the checkout, CPU torch first"
"$PYTHON" -m venv "$WORK/venv"
PIP="$WORK/venv/bin/pip"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
  "$PIP" install --quiet "torch>=2.3"
else
  "$PIP" install --quiet "torch==2.13.0"
fi
"$PIP" install --quiet "$WHEEL" pytest
BIN="$WORK/venv/bin"
mkdir "$WORK/user" && cd "$WORK/user"   # nothing of the checkout is importable from here

step "the commands"
"$BIN/maskproof" --version
"$BIN/python" -m maskproof --help >/dev/null
"$BIN/python" -c 'import maskproof, maskproof.spec, maskproof.runtime, maskproof.bridge; print("import maskproof", maskproof.__version__, "from", maskproof.__file__)'
"$BIN/maskproof" check --examples 20 --quiet --out traceability.json
"$BIN/python" - "$WORK/checkout.json" <<'PY'
import json, sys
installed = json.load(open("traceability.json"))["totals"]
checkout = json.load(open(sys.argv[1]))["totals"]
keys = ("defs", "defs_mirrored", "defs_exercised", "theorems", "theorems_holding")
assert all(installed[k] == checkout[k] for k in keys), (installed, checkout)
print(f"check: {installed['defs_exercised']} of {installed['defs']} defs exercised, "
      "as in the checkout")
PY
"$BIN/maskproof" zoo --quick
"$BIN/maskproof" vectors --out vectors
"$BIN/maskproof" vectors --format-doc | head -1
# The training tool from the wheel: a short eager run, its encoder exported and reloaded.
"$BIN/maskproof" train vector-mae --steps 2 --quiet --out run
"$BIN/maskproof" export run --format safetensors
"$BIN/python" -c 'import maskproof.runtime as r; m = r.load_encoder("run/encoder.safetensors"); print("load_encoder:", type(m).__name__)'
rc=0; "$BIN/maskproof" audit maskproof.examples.third_party_adapter:Adapter --out audit-example \
  || rc=$?
[ "$rc" -eq 1 ]   # the worked example has a real finding (keep count): exit 1 is its verdict
test -s audit-example/audit.md && test -s audit-example/audit.json
if [ -e .hypothesis ]; then echo "the audit left .hypothesis/ in the working directory"; exit 1; fi

user_suite() {
  rm -rf project && cp -r "$ROOT/tests/wheel/user_project" project
  rc=0; (cd project && "$BIN/python" -m pytest -q -p no:cacheprovider \
     --maskproof-adapter myproject_adapter:Adapter --maskproof-xfail maskproof-xfail.txt \
     --maskproof-examples 20 --junitxml=report.xml -rfx) || rc=$?
  [ "$rc" -eq 1 ]   # pytest's "some tests failed", not a usage error or a crash
  "$BIN/python" - <<'PY'
import xml.etree.ElementTree as ET
outcome = {}
for case in ET.parse("project/report.xml").iter("testcase"):
    kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
    skipped = case.find("skipped")
    if skipped is not None and skipped.get("type") == "pytest.xfail":
        kinds = ["xfailed"]
    outcome[case.get("name")] = kinds[0] if kinds else "passed"
failed = sorted(n for n, o in outcome.items() if o in ("failure", "error"))
xfailed = sorted(n for n, o in outcome.items() if o == "xfailed")
assert failed == ["lean.image_patch_mask"], outcome
assert xfailed == ["lean.block_mask"], outcome
assert outcome["lean.vector_mae_mask"] == "passed", outcome
assert outcome["test_vector_mask_hides_every_period_th_entry"] == "passed", outcome
print(f"user suite: {len(outcome)} tests; failing {failed}; xfailed {xfailed}")
PY
}
step "a user project's pytest suite with the plugin"
user_suite

step "PyPI's spec and runtime beside maskproof"
"$PIP" install --quiet spec runtime
# (their code is Python 2 era and need not import; what matters is where their files land)
"$PIP" show --files spec runtime | grep -E "^Name|\.py$" | grep -v dist-info
"$BIN/maskproof" --version
"$BIN/maskproof" check --examples 5 --quiet --out traceability2.json
user_suite
if "$BIN/maskproof" audit maskproof.examples.third_party_adapter:Adapter --out audit-example2 \
    --contract masking.keep_count > audit2.txt; then
  echo "the worked example's keep-count finding vanished with PyPI's spec/runtime installed"; exit 1
fi
grep -q "N=5, r=0.8" audit2.txt   # the same shrunk counterexample as without them
"$PIP" uninstall --quiet --yes spec runtime
"$BIN/python" -c 'import maskproof.spec as s; assert s.MIRRORS and s.THEOREMS; print("maskproof.spec intact after uninstalling them")'
echo
echo "wheel check passed"
