#!/usr/bin/env bash
# Fetch the browser libraries the pages use from the npm registry, at the versions pinned below,
# into media_pipeline/static/media_pipeline/vendor/ (committed: `make run` needs no npm). They are
# served from our own static files, never from a CDN.
#
# To update one: change its version here, run this script, read the library's changelog for
# breaking changes, run `make test` (tests/browser/ drives the upload page), and commit the
# result with the new version in the message.
set -euo pipefail
cd "$(dirname "$0")/.."

TUS_JS_CLIENT=4.3.1

vendor=media_pipeline/static/media_pipeline/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fetch() {  # name version file...
  local name=$1 version=$2; shift 2
  (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null && mkdir -p "$name" &&
    tar xzf "$name-$version.tgz" -C "$name")
  rm -rf "${vendor:?}/$name"
  mkdir -p "$vendor/$name"
  for file in "$@" LICENSE; do
    cp "$tmp/$name/package/$file" "$vendor/$name/"
  done
  echo "$version" > "$vendor/$name/VERSION"
  echo "==> $name $version in $vendor/$name"
}

fetch tus-js-client "$TUS_JS_CLIENT" dist/tus.min.js
