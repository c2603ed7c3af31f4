#!/usr/bin/env bash
# What some tests need beyond the project's own dependencies, installed when missing and we
# may. Without them those tests skip and say why, so this never fails the build.
#   chromium (Debian): renders the compliance report headless (tests/audit/test_compliance_report.py)
#   opa-golib (PyPI wheel opa-golib-python-bindings, OPA v1.20.2's Go engine as a shared
#     library): the reference engine of the policy conformance suite and of `govops policy
#     test` (engine/policy/reference.py). Its metadata asks for Python >= 3.14 but the library
#     and its stdlib-only wrapper load on 3.11, so the wheel is downloaded (not pip-installed),
#     checked against the sha256 pinned below, and unpacked into <venv>/opa-golib/<version>/.
#     It is a test oracle, never a runtime dependency of govops.
#   opa (binary): the OPA-server leg of tests/policy/test_policy_conformance.py runs when one is on
#     PATH or in the virtualenv; no registry ships it and GitHub's releases are not reachable
#     from every machine, so nothing is downloaded for it here.
# Usage: scripts/system-deps.sh [VENV_BIN [debian|opa-golib|opa ...]]   (default: all)
#   OPA_GOLIB_WHEEL=FILE uses that wheel file instead of downloading one (still sha256-checked).
set -u
venv_bin="${1:-.venv/bin}"
OPA_GOLIB_VERSION="0.4.4"
OPA_GOLIB_WHEEL_NAME="opa_golib_python_bindings-${OPA_GOLIB_VERSION}-py3-none-manylinux_2_34_x86_64.whl"
OPA_GOLIB_SHA256="d411c901e14b8c7c3023e23e4a944f4cf429c1d31baf80e959e57d11efbfd24a"

install_opa_golib() {
  local dest tmp wheel python
  dest="$(cd "$venv_bin/.." 2>/dev/null && pwd)/opa-golib/${OPA_GOLIB_VERSION}"
  [ -f "$dest/opa_bindings/libopabridge.so" ] && return 0
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] \
    || { echo "note: opa-golib-python-bindings ships no wheel for $(uname -sm); the OPA reference leg will skip"; return 0; }
  python="$venv_bin/python"; [ -x "$python" ] || python="$(command -v python3)"
  tmp="$(mktemp -d)"
  if [ -n "${OPA_GOLIB_WHEEL:-}" ]; then
    wheel="$OPA_GOLIB_WHEEL"
  else
    wheel="$tmp/$OPA_GOLIB_WHEEL_NAME"
    "$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.14 \
      --platform manylinux_2_34_x86_64 -d "$tmp" "opa-golib-python-bindings==${OPA_GOLIB_VERSION}" >/dev/null 2>&1 \
      || { echo "note: could not download opa-golib-python-bindings ${OPA_GOLIB_VERSION} from PyPI; the OPA reference leg will skip"; rm -rf "$tmp"; return 0; }
  fi
  if [ ! -f "$wheel" ] || [ "$(sha256sum "$wheel" | cut -d' ' -f1)" != "$OPA_GOLIB_SHA256" ]; then
    echo "note: the opa-golib-python-bindings wheel's sha256 did not match the pinned ${OPA_GOLIB_SHA256}; not installed, the OPA reference leg will skip"
    rm -rf "$tmp"; return 0
  fi
  mkdir -p "$(dirname "$dest")"
  if "$python" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$wheel" "$tmp/unpacked" \
     && rm -rf "$dest" && mv "$tmp/unpacked" "$dest"; then
    echo "installed OPA's Go engine (opa-golib-python-bindings ${OPA_GOLIB_VERSION}, OPA v1.20.2) into $dest"
  else
    echo "note: could not unpack the opa-golib wheel into $dest; the OPA reference leg will skip"
  fi
  rm -rf "$tmp"
}

note_opa() {
  command -v opa >/dev/null 2>&1 && return 0
  [ -x "$venv_bin/opa" ] && return 0
  echo "note: no \`opa\` binary on PATH or in $venv_bin (no registry ships it); the OPA-server leg of the conformance suite will skip (OPA's Go engine from opa-golib covers the reference leg)"
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
for part in "${@:-debian opa-golib opa}"; do
  for what in $part; do
    case "$what" in
      debian) install_debian ;;
      opa-golib) install_opa_golib ;;
      opa) note_opa ;;
      *) echo "system-deps: unknown part '$what' (debian, opa-golib, opa)" >&2; exit 2 ;;
    esac
  done
done
exit 0
