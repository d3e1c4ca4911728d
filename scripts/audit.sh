#!/usr/bin/env bash
# Known vulnerabilities in the pinned set (constraints.txt), from pip-audit's vulnerability service (PyPI's by
# default; AUDIT_SERVICE=osv asks OSV). Each pin is looked up as pinned (--no-deps: the file is the whole set).
# A pin pip-audit skips (the service did not answer for that version) falls back to PyPI's project JSON
# ($AUDIT_PYPI_JSON_URL/NAME/json, default https://pypi.org/pypi), whose "vulnerabilities" are those of the
# latest release: the pin is audited from it when it is that release, and stays unaudited otherwise.
#
# Exit 0: nothing known, or only what scripts/audit-allowlist.txt allows with a reason.
#      1: a known vulnerability that is not in the allow-list.
#      2: the audit is incomplete: some pins could not be looked up (AUDIT_ALLOW_UNAUDITED=1 only warns),
#         so a clean result would mean nothing.
#      3: pip-audit or the allow-list itself is broken.
set -euo pipefail
cd "$(dirname "$0")/.."

PIP_AUDIT="${PIP_AUDIT:-.venv/bin/pip-audit}"
PYTHON="${PYTHON:-.venv/bin/python}"
SERVICE="${AUDIT_SERVICE:-pypi}"
ALLOWLIST="${AUDIT_ALLOWLIST:-scripts/audit-allowlist.txt}"
[ -x "$PIP_AUDIT" ] || { echo "audit: $PIP_AUDIT not found: run scripts/setup.sh (pip-audit is a dev dependency)" >&2; exit 3; }

report="$(mktemp)"
trap 'rm -f "$report"' EXIT
echo "audit: $(grep -c '==' constraints.txt) pins in constraints.txt, vulnerability service: $SERVICE"
set +e
"$PIP_AUDIT" -r constraints.txt --no-deps --disable-pip --progress-spinner off --vulnerability-service "$SERVICE" \
  --format json --aliases on --desc off --output "$report" 2> >(grep -v -e "--no-deps is supported" -e "pip-compile" -e "No known vulnerabilities found" >&2)
status=$?
set -e
# pip-audit exits 1 when it found vulnerabilities; anything else without a report is its own failure.
if [ ! -s "$report" ]; then
  echo "audit: pip-audit failed (exit $status) and wrote no report" >&2
  exit 3
fi

"$PYTHON" - "$report" "$ALLOWLIST" "${AUDIT_ALLOW_UNAUDITED:-0}" constraints.txt <<'PY'
import json
import os
import re
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

report, allowlist, allow_unaudited = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]), sys.argv[3] == "1"
constraints = Path(sys.argv[4])
JSON_URL = os.environ.get("AUDIT_PYPI_JSON_URL", "https://pypi.org/pypi").rstrip("/")
TIMEOUT = float(os.environ.get("AUDIT_PYPI_TIMEOUT", "20"))
LATEST_ONLY = "PyPI's project data covers the latest release only"

try:
    from packaging.version import InvalidVersion, Version
except ImportError:  # pip-audit depends on packaging, so this is only a safety net
    Version, InvalidVersion = str, ValueError


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


# Allow-list: one "ID PACKAGE REASON..." per line (# comments); the reason is required.
allowed = {}
for number, line in enumerate(allowlist.read_text().splitlines() if allowlist.exists() else [], 1):
    fields = line.split("#", 1)[0].split(None, 2) if not line.lstrip().startswith("#") else []
    if not fields:
        continue
    if len(fields) < 3:
        print(f"audit: {allowlist}:{number}: '{line.strip()}' needs: ID PACKAGE REASON")
        sys.exit(3)
    allowed[fields[0]] = (fields[1].lower(), fields[2].strip())

pins = {}
for line in constraints.read_text().splitlines() if constraints.exists() else []:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*===?\s*([^\s;#]+)", line)
    if match:
        pins[canonical(match[1])] = match[2]

# Fallback for the pins pip-audit skipped: PyPI's project JSON (NAME/json) lists the vulnerabilities of the
# project's latest release (info.version), so it audits a pin exactly when the pin is that release. (Its
# per-version JSON, which pip-audit asks, may be unavailable, e.g. behind a proxy that answers 404.)
def project_json(name: str) -> tuple[dict | None, str]:
    request = urllib.request.Request(f"{JSON_URL}/{canonical(name)}/json",
                                     headers={"Accept": "application/json", "User-Agent": "scripts/audit.sh"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.load(response), ""
    except urllib.error.HTTPError as error:
        return None, f"project JSON: HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        return None, f"project JSON: {getattr(error, 'reason', error)}"


audited = []    # (name, version, source, vulns in pip-audit's shape)
unaudited = []  # (name, pinned or "?", latest or "?", reason)
skipped = []
for dependency in report["dependencies"]:
    if "skip_reason" not in dependency:
        audited.append((dependency["name"], dependency["version"], "pip-audit", dependency.get("vulns", [])))
        continue
    reason_version = re.search(r"\(([^()\s]+)\)\s*$", dependency["skip_reason"])
    version = pins.get(canonical(dependency["name"])) or (reason_version[1] if reason_version else None)
    if version is None:
        unaudited.append((dependency["name"], "?", "?", dependency["skip_reason"]))
    else:
        skipped.append((dependency, version))

with ThreadPoolExecutor(max_workers=int(os.environ.get("AUDIT_PYPI_THREADS", "8"))) as pool:
    answers = list(pool.map(lambda item: project_json(item[0]["name"]), skipped))
for (dependency, version), (data, error) in zip(skipped, answers):
    name = dependency["name"]
    latest = str((data or {}).get("info", {}).get("version") or "")
    if not latest:
        unaudited.append((name, version, "?", error or "project JSON has no info.version"))
    elif not same_version(version, latest):
        unaudited.append((name, version, latest, f"pinned {version}, latest {latest}: {LATEST_ONLY}"))
    else:
        vulns = [{"id": v["id"], "aliases": v.get("aliases") or [], "fix_versions": v.get("fixed_in") or []}
                 for v in data.get("vulnerabilities") or [] if not v.get("withdrawn")]
        audited.append((name, version, "pypi project json", vulns))

found = [(name, version, source, v) for name, version, source, vulns in audited for v in vulns]
blocking, reported = [], set()
for name, version, source, vuln in found:
    ids = {vuln["id"], *vuln.get("aliases", [])}
    reported |= ids
    fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix released"
    aliases = f"  ({', '.join(vuln['aliases'])})" if vuln.get("aliases") else ""
    entry = next((allowed[i] for i in ids if i in allowed), None)
    where = f"{vuln['id']}  {name} {version}"
    if entry and entry[0] == name.lower():
        print(f"  allowed: {where}  ({entry[1]})  [{source}]")
    else:
        blocking.append(where)
        print(f"  VULNERABLE: {where}  fixed in {fixed}{aliases}  [{source}]")
unaudited_names = {canonical(u[0]) for u in unaudited}
for vuln_id, (package, _) in allowed.items():
    if vuln_id in reported:
        continue
    if canonical(package) in unaudited_names:
        print(f"  allow-list entry not checked: {vuln_id} {package} (the pin is unaudited)")
    else:
        print(f"  allow-list entry no longer reported: {vuln_id} {package} (remove it)")

total = len(report["dependencies"])
by_pip_audit = sum(1 for a in audited if a[2] == "pip-audit")
print(f"audit: {total} pinned packages: {by_pip_audit} audited by pip-audit, "
      f"{len(audited) - by_pip_audit} by PyPI's project JSON (pin = latest release), {len(unaudited)} unaudited")
if unaudited:
    behind = {u[0] for u in unaudited if u[3].endswith(LATEST_ONLY)}
    print(f"audit: {len(unaudited)} of {total} pinned packages could not be audited (name pinned latest"
          + (f"; {len(behind)} pinned behind the latest release, and {LATEST_ONLY}" if behind else "") + "):")
    for name, version, latest, reason in sorted(unaudited, key=lambda u: canonical(u[0])):
        print(f"  {name} {version} {latest}" + ("" if name in behind else f"  ({reason})"))
print(f"audit: {len(found)} known vulnerabilit{'y' if len(found) == 1 else 'ies'} in {len(audited)} audited pins, "
      f"{len(found) - len(blocking)} allowed")
if blocking:
    print(f"audit: FAIL: {len(blocking)} known vulnerabilit{'y' if len(blocking) == 1 else 'ies'} not in the allow-list "
          f"({allowlist}): upgrade the pin in constraints.txt, or allow it there with the reason it does not apply")
    sys.exit(1)
if unaudited and not allow_unaudited:
    print("audit: FAIL: incomplete audit (neither the vulnerability service nor PyPI's project JSON covered these pins); "
          "AUDIT_ALLOW_UNAUDITED=1 accepts a partial audit")
    sys.exit(2)
print("audit: OK" + (f" (partial: {len(unaudited)} pins unaudited, see above)" if unaudited else ""))
PY
