#!/usr/bin/env bash
# A made-up site to put behind cdnlab when you have none at hand: makes the
# files of a URL list (PATH WEIGHT SIZE; default scenarios/own-site/urls.txt)
# in DIR, dated 30 days ago (python's server sends only Last-Modified, so
# the edges cache them by heuristic freshness: 10% of their age, 3 days),
# and serves DIR with python3 on 127.0.0.1:3000 until Ctrl-C.
#
#   scripts/example-site.sh /tmp/site [URLS] [PORT]
set -euo pipefail
dir=${1:?usage: $0 DIR [URLS] [PORT]}
urls=${2:-$(dirname "$0")/../scenarios/own-site/urls.txt}
port=${3:-3000}
mkdir -p "$dir"
grep -v '^\s*#' "$urls" | while read -r path _weight size; do
  [ -n "$path" ] || continue
  file="$dir${path%/}"
  [ "$path" = "/" ] && file="$dir/index.html"
  mkdir -p "$(dirname "$file")"
  head -c "${size:-1024}" /dev/urandom > "$file"
  touch -d '30 days ago' "$file"
done
echo "serving $dir on http://127.0.0.1:$port/ (Ctrl-C stops)"
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir"
