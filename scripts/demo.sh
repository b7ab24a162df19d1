#!/usr/bin/env bash
# The demo command of ioc-monitor: makes .venv if needed, installs the project into it, then
# runs `ioc demo` with any arguments given here (see `scripts/demo.sh --help`).
# PYTHON picks the interpreter that creates .venv (default python3.11, else python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/.venv"

if [[ ! -x "${VENV}/bin/python" ]]; then
    py="${PYTHON:-}"
    if [[ -z "${py}" ]]; then
        py="$(command -v python3.11 || command -v python3 || true)"
    fi
    [[ -n "${py}" ]] || { echo "demo.sh: error: no python3 found to create ${VENV}" >&2; exit 1; }
    echo "demo.sh: creating ${VENV} with $("${py}" --version 2>&1)" >&2
    "${py}" -m venv "${VENV}"
fi
# Install only when the dependency declaration changed since the last install (a dev install
# made by scripts/test.sh counts too).
want="$(sha256sum "${ROOT}/pyproject.toml" | cut -d' ' -f1)"
installed=""
for stamp in "${VENV}/.ioc-installed" "${VENV}/.ioc-installed-dev"; do
    [[ -f "${stamp}" && "$(cat "${stamp}")" == "${want}" ]] && installed=yes
done
if [[ -z "${installed}" ]]; then
    echo "demo.sh: installing ioc-monitor into ${VENV}" >&2
    "${VENV}/bin/python" -m pip install -q --disable-pip-version-check -e "${ROOT}"
    echo "${want}" > "${VENV}/.ioc-installed"
fi
exec "${VENV}/bin/ioc" demo "$@"
