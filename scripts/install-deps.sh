#!/usr/bin/env bash
# Installs the system packages tamtam needs on a Debian/Ubuntu machine, skipping what is
# already there, then fetches the pinned ECharts from the npm registry (build-time only:
# it is embedded in the binary, so a report never makes a network request).
#
#   scripts/install-deps.sh        what `make run` needs: ClickHouse, Node.js/npm for ECharts
#   scripts/install-deps.sh test   also what the tests need: Chromium and fonts (figures,
#                                  browser tests), LibreOffice and openpyxl (independent
#                                  workbook readers), poppler-utils (the workbook's print),
#                                  GLPK (the disclosure auditor's solver)
#
# Used by the Makefile and .ci/run, so a fresh machine and a developer's are prepared alike.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
want() { # want PACKAGE CHECK...: install PACKAGE unless CHECK succeeds
  local pkg=$1; shift
  "$@" >/dev/null 2>&1 || need+=("$pkg")
}
want clickhouse-server sh -c 'command -v clickhouse-server || test -x /usr/sbin/clickhouse-server'
want clickhouse-client command -v clickhouse-client
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ "${1:-}" = test ]; then
  want chromium sh -c 'command -v chromium || command -v chromium-browser'
  want fonts-liberation test -d /usr/share/fonts/truetype/liberation
  want libreoffice-calc-nogui command -v soffice
  # pdfinfo and pdftotext: the pages of LibreOffice's print of the workbook.
  want poppler-utils command -v pdfinfo
  want python3-openpyxl /usr/bin/python3 -c 'import openpyxl'
  # GLPK's solver: the independent disclosure auditor of the tests (reports/audit).
  want glpk-utils command -v glpsol
  # ZooKeeper (and the Java it runs on): the cluster tests start a real 2x2 ClickHouse cluster.
  want zookeeper test -f /usr/share/java/zookeeper.jar
fi

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "install-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ECharts, pinned by reports/assets/package-lock.json.
if [ ! -f reports/assets/node_modules/echarts/dist/echarts.min.js ]; then
  echo "install-deps: fetching echarts (npm ci in reports/assets)" >&2
  (cd reports/assets && npm ci --no-audit --no-fund --silent)
fi
