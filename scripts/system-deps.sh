#!/usr/bin/env bash
# Debian packages some tests use; installed when missing and we may (root + apt-get).
# Without them those tests skip and say why, so this never fails the build.
#   chromium: renders the compliance report headless (tests/test_compliance_report.py)
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages for tests: ${need[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}") >/dev/null 2>&1 \
    || echo "warning: could not install ${need[*]}; the tests that need them will skip"
else
  echo "note: ${need[*]} missing and not installable here (need root + apt-get); those tests will skip"
fi
exit 0
