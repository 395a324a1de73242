#!/usr/bin/env bash
# The soak (tests/soak/soak.sh) for 30 s in bridge mode, so it runs on every
# `make test`; `make soak` runs it for 10 minutes per inline mode.
#
# Not in nfqueue mode yet: there the soak finds blocked.test's ClientHello
# answered by the server now and then (13 of 46 in 8 s), a bypass that
# issue 10's next session must find and fix before this runs both modes.
set -uo pipefail
MODE=bridge SOAK_SECONDS=${SOAK_SHORT_SECONDS:-30} exec "${TOP:-.}/tests/soak/soak.sh"
