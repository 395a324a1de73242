#!/usr/bin/env bash
# The soak (tests/soak/soak.sh) for 30 s in each inline mode, so it runs on
# every `make test`; `make soak` runs it for 10 minutes per mode.
set -uo pipefail
for mode in bridge nfqueue; do
	MODE=$mode SOAK_SECONDS=${SOAK_SHORT_SECONDS:-30} "${TOP:-.}/tests/soak/soak.sh" || exit $?
done
