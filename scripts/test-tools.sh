#!/usr/bin/env bash
# System tools the tests use, installed from Debian when missing: a throwaway
# PostgreSQL cluster (initdb, pg_ctl), a real feed reader (newsboat) and a
# real browser (headless Chromium and its WebDriver, for the front page).
# Run by `make test` and `.ci/run`; does nothing when all are present.
set -euo pipefail

need=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v newsboat >/dev/null || need+=(newsboat)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
        echo "the tests need: ${need[*]} (apt-get install ${need[*]} as root)" >&2
        exit 1
    fi
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
