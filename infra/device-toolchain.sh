#!/usr/bin/env bash
# infra/device-toolchain.sh — make sure the host build of the ESP32 reference firmware can be built and tested
# (devices/esp32/README.md): cmake, g++ (with its ASan/UBSan runtimes), pkg-config, libmosquitto-dev and doctest-dev
# for sus-device, the unit tests and the glue tests; clang with its compiler runtime (libclang-rt-N-dev: libFuzzer,
# ASan, UBSan) for the JSON fuzz test. Installs what is missing (root + Debian only, like infra/stack.sh), otherwise
# says what to install. Idempotent; quiet when everything is present.
#
#   bash infra/device-toolchain.sh           install what is missing (exit 1 when it cannot)
#   bash infra/device-toolchain.sh check     exit 0 when all is present, 1 otherwise; installs nothing
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_DIR_RAW="${SUS_DATA_DIR:-./var}"
case "$DATA_DIR_RAW" in
  /*) DATA_DIR="$DATA_DIR_RAW" ;;
  *) DATA_DIR="$ROOT/${DATA_DIR_RAW#./}" ;;
esac
LOG_DIR="${DATA_DIR%/}/log"

log() { printf '[device-toolchain] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

is_debian_like() { [[ -f /etc/debian_version ]] && command -v apt-get >/dev/null 2>&1; }

# Each entry: Debian package + the probe that proves it is usable.
have_cmake() { command -v cmake >/dev/null 2>&1; }
have_gxx() { command -v g++ >/dev/null 2>&1; }
have_pkgconfig() { command -v pkg-config >/dev/null 2>&1; }
have_mosquitto() { [[ -f /usr/include/mosquitto.h ]]; }
have_doctest() { [[ -f /usr/include/doctest/doctest.h ]]; }
have_clang() { command -v clang++ >/dev/null 2>&1; }
# libFuzzer and the sanitizer runtimes live in clang's resource directory; Debian ships them as libclang-rt-N-dev
# (N = clang's major version, which differs between releases), not as a dependency of clang.
clang_rt_package() { printf 'libclang-rt-%s-dev\n' "$(clang++ -dumpversion | cut -d. -f1)"; }
have_clang_rt() {
  local dir
  dir="$(clang++ -print-resource-dir 2>/dev/null)" || return 1
  # lib/linux/libclang_rt.fuzzer-x86_64.a, or lib/x86_64-pc-linux-gnu/libclang_rt.fuzzer.a in per-target layouts
  compgen -G "$dir/lib/*/libclang_rt.fuzzer*.a" >/dev/null && compgen -G "$dir/lib/*/libclang_rt.asan*.a" >/dev/null
}

missing() {
  local out=()
  have_cmake || out+=(cmake)
  have_gxx || out+=(g++)
  have_pkgconfig || out+=(pkg-config)
  have_mosquitto || out+=(libmosquitto-dev)
  have_doctest || out+=(doctest-dev)
  if ! have_clang; then
    out+=(clang)
  elif ! have_clang_rt; then
    out+=("$(clang_rt_package)")
  fi
  printf '%s\n' "${out[@]}"
}

install() {
  local apt_log="$LOG_DIR/apt-device-toolchain.log"
  mkdir -p "$LOG_DIR"
  log "installing $* (apt-get; log: $apt_log)…"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$apt_log" 2>&1; then
    log "apt-get install failed; running apt-get update and retrying…"
    apt-get update -q >>"$apt_log" 2>&1 || log "apt-get update reported errors (see $apt_log)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$apt_log" 2>&1; then
      tail -n 20 "$apt_log" >&2 || true
      die "could not install $* (see $apt_log)"
    fi
  fi
  log "installed $*"
}

mapfile -t MISSING < <(missing | sed '/^$/d')
if [[ ${#MISSING[@]} -eq 0 ]]; then
  exit 0
fi
HINT="missing: ${MISSING[*]}. Install them (Debian: apt-get install ${MISSING[*]})."
if [[ "${1:-}" == "check" ]]; then
  log "$HINT"
  exit 1
fi
if [[ "$(id -u)" != "0" ]] || ! is_debian_like; then
  die "$HINT"
fi
install "${MISSING[@]}"
# clang's runtime package is named after the clang that just arrived.
if have_clang && ! have_clang_rt; then
  install "$(clang_rt_package)"
fi
have_clang_rt || die "clang's libFuzzer/ASan runtime is still missing after installing $(clang_rt_package)"
