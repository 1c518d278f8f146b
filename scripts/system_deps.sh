#!/usr/bin/env bash
# Install the Debian packages some tests (and the demo's phoneme voice) use, when possible;
# never fail the build.
# (flite also makes the recipe's synthetic pre-training corpus: `tts flite-corpus`.)
set -u
# Usage: system_deps.sh [PACKAGE ...]   (default: espeak-ng chromium flite)
packages=("$@")
[ $# -eq 0 ] && packages=(espeak-ng chromium flite)
want=()
for name in "${packages[@]}"; do
    command -v "$name" >/dev/null 2>&1 || want+=("$name")
done
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "note: not root or no apt-get; what needs ${want[*]} (tests, the phoneme voice) will skip or say how to install it" >&2
    exit 0
fi
echo "installing system packages: ${want[*]}" >&2
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null) \
    || echo "note: could not install ${want[*]}; what needs them will skip or say how to install it" >&2
exit 0
