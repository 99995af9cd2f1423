#!/usr/bin/env bash
# Fetches axe-core (the accessibility engine the console's browser test runs
# in Chromium) from the npm registry once, checks its digest, and prints the
# path of axe.min.js.
set -euo pipefail

version=4.14.1
sha1=14d8a6f3f085afd126b8b5ca1e42e50e17fb1d99
dir="${XDG_CACHE_HOME:-$HOME/.cache}/hms-ach/axe-core-$version"
if [ ! -s "$dir/axe.min.js" ]; then
    echo "fetching axe-core $version" >&2
    mkdir -p "$dir"
    tarball="$dir/axe-core.tgz"
    curl -fsSL "https://registry.npmjs.org/axe-core/-/axe-core-$version.tgz" -o "$tarball"
    echo "$sha1  $tarball" | sha1sum -c --quiet -
    tar -xzf "$tarball" -C "$dir" --strip-components=1 package/axe.min.js
    rm -f "$tarball"
fi
echo "$dir/axe.min.js"
