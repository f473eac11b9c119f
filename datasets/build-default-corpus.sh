#!/usr/bin/env bash
# datasets/build-default-corpus.sh — the built-in default corpus: the PostgreSQL 15 manual's
# HTML from Debian's postgresql-doc-15, packed as a .tar.zst. Prints the archive's path.
#
#   datasets/build-default-corpus.sh            the whole manual (~1,200 pages)
#   datasets/build-default-corpus.sh --sample N the first N pages in name order (smoke tests)
#
# The package is fetched with `apt-get download` and unpacked with `dpkg-deb -x` into the
# git-ignored datasets/cache/, since slim images drop /usr/share/doc. Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=$here/cache
sample=0
if [ "${1:-}" = "--sample" ]; then sample=${2:?--sample needs a count}; fi
mkdir -p "$cache"
html=$cache/postgresql-doc-15/usr/share/doc/postgresql-doc-15/html
if [ ! -f "$html/index.html" ]; then
  ( cd "$cache" && rm -f postgresql-doc-15_*.deb &&
    { apt-get download -qq postgresql-doc-15 2>/dev/null ||
      { apt-get update -qq >/dev/null && apt-get download -qq postgresql-doc-15; }; } ) >&2 ||
    { echo "build-default-corpus: cannot download postgresql-doc-15" >&2; exit 1; }
  rm -rf "$cache/postgresql-doc-15"
  dpkg-deb -x "$cache"/postgresql-doc-15_*.deb "$cache/postgresql-doc-15"
  # Debian compresses some docs; the manual's pages are plain .html
  [ -f "$html/index.html" ] || { echo "build-default-corpus: no HTML manual in the package" >&2; exit 1; }
fi
if [ "$sample" -gt 0 ]; then
  out=$cache/pg-manual-sample$sample.tar.zst
  [ -f "$out" ] || (cd "$html" && printf '%s\n' *.html | LC_ALL=C sort | sed -n "1,${sample}p" |
    bsdtar --zstd -cf "$out.tmp" -T - && mv "$out.tmp" "$out")
else
  out=$cache/pg-manual-15.tar.zst
  [ -f "$out" ] || (cd "$html" && bsdtar --zstd -cf "$out.tmp" --options zstd:compression-level=9 . &&
    mv "$out.tmp" "$out")
fi
echo "$out"
