#!/usr/bin/env bash
# The system tools the HTTP benchmark measures against: nginx and wrk. Installed
# with apt-get where that is possible (Debian, as root), as .ci/run installs
# the test suite's tools; elsewhere the HTTP figures are skipped with a hint.
set -euo pipefail
need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
else
    echo "bench: ${need[*]} missing, so the HTTP figures will be skipped" \
        "(Debian: apt-get install -y ${need[*]})" >&2
fi
