#!/usr/bin/env bash
# Install the Debian packages Doorstep needs, when any are missing.
#   installer/system-packages.sh runtime   what the kiosk needs to run (and to build pyscard)
#   installer/system-packages.sh test      that, plus what the test suite starts and uses
#                                          (the console's browser tests drive a Chinese Chromium
#                                          through chromium-driver, with the kiosk's CJK fonts;
#                                          the call's network faults drop packets with nftables
#                                          in a network namespace of iproute2's)
# Needs root (or sudo) only when something is missing; prints what it installs.
set -euo pipefail

runtime=(
  python3 python3-venv python3-dev gcc swig libpcsclite-dev pcscd
  cups cups-client libcups2-dev fonts-droid-fallback fonts-hanazono espeak-ng
  libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0
  libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xkb1
)
test=(
  xvfb xauth vsmartcard-vpcd poppler-utils printer-driver-cups-pdf postgresql
  chromium chromium-driver chromium-l10n coturn iproute2 nftables
)

case "${1:-}" in
  runtime) wanted=("${runtime[@]}") ;;
  test) wanted=("${runtime[@]}" "${test[@]}") ;;
  *) echo "usage: $0 runtime|test" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null; then
  echo "not a Debian system: install the equivalents of these yourself: ${wanted[*]}" >&2
  exit 0
fi

missing=()
for package in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing Debian packages: ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "run as root, or install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
