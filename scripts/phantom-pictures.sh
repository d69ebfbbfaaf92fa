#!/usr/bin/env bash
# Regenerates README's phantom pictures (docs/images/phantom_*.png) with a built osteofm:
# two patients with their region outlines, and one picture per phantom mode. The same
# arguments give the same bytes, so a diff in git means the phantom itself changed.
set -euo pipefail
cd "$(dirname "$0")/.."
osteofm=${OSTEOFM:-build/osteofm}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
picture() {  # NAME SYNTH-ARGS...
  local name=$1
  shift
  "$osteofm" synth --out "$tmp/$name" --patients 2 --size 448 --seed 3 --previews 2 "$@" >/dev/null
}
picture plain
cp "$tmp/plain/previews/PH00001_1.png" docs/images/phantom_regions_1.png
cp "$tmp/plain/previews/PH00002_1.png" docs/images/phantom_regions_2.png
picture marker --shortcut marker
cp "$tmp/marker/previews/PH00001_1.png" docs/images/phantom_shortcut_marker.png
picture in_bone --shortcut in-bone
cp "$tmp/in_bone/previews/PH00001_1.png" docs/images/phantom_shortcut_in_bone.png
picture spine --signal-region spine
cp "$tmp/spine/previews/PH00002_1.png" docs/images/phantom_signal_spine.png
echo "docs/images/phantom_*.png written"
