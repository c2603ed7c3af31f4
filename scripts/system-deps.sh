#!/usr/bin/env bash
# What some tests need beyond PyPI, installed when missing and we may. Without them those
# tests skip and say why, so this never fails the build.
#   chromium (Debian): renders the compliance report headless (tests/test_compliance_report.py)
#   opa (OPA's GitHub release, into the virtualenv's bin/): the OPA-server conformance leg
#     (tests/test_policy_conformance.py). No PyPI, npm or Debian package ships the binary, so
#     it comes from the release, checked against the sha256 published beside it.
# Usage: scripts/system-deps.sh [VENV_BIN [debian|opa ...]]   (default: both)
#   OPA_RELEASE_URL overrides where OPA's release is taken from.
set -u
venv_bin="${1:-.venv/bin}"
OPA_VERSION="1.0.0"

install_opa() {
  command -v opa >/dev/null 2>&1 && return 0
  [ -x "$venv_bin/opa" ] && return 0
  command -v curl >/dev/null 2>&1 || { echo "note: no curl; the OPA-server conformance leg will skip"; return 0; }
  local base="${OPA_RELEASE_URL:-https://github.com/open-policy-agent/opa/releases/download/v${OPA_VERSION}}"
  local file="opa_linux_amd64_static" tmp
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || { echo "note: no OPA download for $(uname -sm); the OPA-server leg will skip"; return 0; }
  tmp="$(mktemp -d)"
  if curl -fsSL --connect-timeout 5 -m 300 -o "$tmp/$file" "$base/$file" \
     && curl -fsSL --connect-timeout 5 -m 30 -o "$tmp/$file.sha256" "$base/$file.sha256" \
     && (cd "$tmp" && sha256sum -c --quiet "$file.sha256"); then
    install -m 0755 "$tmp/$file" "$venv_bin/opa" && echo "installed OPA $OPA_VERSION into $venv_bin/opa"
  else
    echo "note: could not fetch OPA $OPA_VERSION from $base (or its sha256 did not match); the OPA-server conformance leg will skip"
  fi
  rm -rf "$tmp"
}

install_debian() {
  local need=()
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages for tests: ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}") >/dev/null 2>&1 \
      || echo "warning: could not install ${need[*]}; the tests that need them will skip"
  else
    echo "note: ${need[*]} missing and not installable here (need root + apt-get); those tests will skip"
  fi
}

shift $(( $# > 0 ? 1 : 0 ))
for part in "${@:-debian opa}"; do
  for what in $part; do
    case "$what" in
      debian) install_debian ;;
      opa) install_opa ;;
      *) echo "system-deps: unknown part '$what' (debian, opa)" >&2; exit 2 ;;
    esac
  done
done
exit 0
