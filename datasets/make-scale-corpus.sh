#!/usr/bin/env bash
# datasets/make-scale-corpus.sh — the scale corpus of the benchmarks (bench/run.sh, the memory
# test): real documentation text from Debian packages, packed as .tar.zst in the git-ignored
# datasets/cache/. Prints the path of each archive it was asked for, one a line.
#
#   datasets/make-scale-corpus.sh        both sizes: scale-1x.tar.zst, then scale-4x.tar.zst
#   datasets/make-scale-corpus.sh 1      the 1x corpus only (or 4: the 4x one)
#
# What 1x holds (about 2,400 files, 87 MB of input, 37 MB of normalized text, ~47k chunks of
# 256 tokens): the PostgreSQL 15 manual (HTML, the default corpus's source), the Python 3
# documentation (HTML pages, plus their reStructuredText sources as .txt) and the Perl
# documentation (.pod, read as plain text) — three formats and three writing styles, the mix
# a documentation chatbot ingests. Only .html/.txt/.pod files go in (no images, scripts, CSS).
#
# 4x is the 1x tree four times, under edition-1/ .. edition-4/: distinct source keys, so four
# times the documents, chunks and rows, with the same per-byte costs as 1x. That is what the
# memory figure needs (peak RSS at 4x the volume, everything else equal). The first edition is
# byte for byte the 1x corpus, so a model fitted on the first 1x-many documents is the same.
#
# Packages come with `apt-get download` + `dpkg-deb -x` (slim images drop /usr/share/doc),
# unpacked once into datasets/cache/. Files are archived in sorted order with fixed mtimes, so
# a rebuild gives the same archive. Idempotent: an existing archive is reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=$here/cache
mkdir -p "$cache"

die() { echo "make-scale-corpus: $*" >&2; exit 1; }

# fetch PKG: unpacks Debian package PKG into $cache/PKG (once); prints that directory.
fetch() {
  local pkg=$1 dir=$cache/$1
  if [ ! -f "$dir/.unpacked" ]; then
    ( cd "$cache" && rm -f "${pkg}"_*.deb &&
      { apt-get download -qq "$pkg" 2>/dev/null ||
        { apt-get update -qq >/dev/null && apt-get download -qq "$pkg"; }; } ) >&2 ||
      die "cannot download $pkg"
    rm -rf "$dir"
    dpkg-deb -x "$cache/${pkg}"_*.deb "$dir"
    rm -f "$cache/${pkg}"_*.deb
    touch "$dir/.unpacked"
  fi
  echo "$dir"
}

# The Python documentation package is versioned (python3.11-doc on Debian 12); python3-doc
# depends on the current one.
python_doc_pkg() {
  local p
  p=$(apt-cache depends python3-doc 2>/dev/null | awk '/Depends: python3\.[0-9]+-doc/ {print $2; exit}')
  echo "${p:-python3.11-doc}"
}

# copy_tree SRC DEST PATTERN...: hard links of the files under SRC whose names match one of
# the patterns, keeping their relative paths (everything lives in datasets/cache/, one file
# system, so no byte is copied; within one tree each inode appears once, so tar stores data).
copy_tree() {
  local src=$1 dest=$2; shift 2
  local expr=() p
  for p in "$@"; do expr+=(${expr[@]:+-o} -name "$p"); done
  mkdir -p "$dest"
  (cd "$src" && find . -type f \( "${expr[@]}" \) -print0 | xargs -0 -r cp --parents -l -t "$dest")
}

# pack DIR OUT: a sorted, reproducible .tar.zst of the files under DIR (.done markers left out).
pack() {
  local dir=$1 out=$2
  find "$dir" -exec touch -h -d '2024-01-01 00:00:00 UTC' {} +
  (cd "$dir" && find . -type f ! -name .done | LC_ALL=C sort | sed 's|^\./||' |
    bsdtar --zstd --options zstd:compression-level=9 --uid 0 --gid 0 --uname root --gname root \
      -cf "$out.tmp" -T -) && mv "$out.tmp" "$out"
}

tree_1x() {
  local tree=$cache/scale-tree-1x
  if [ ! -f "$tree/.done" ]; then
    "$here/build-default-corpus.sh" >/dev/null || die "cannot build the PostgreSQL manual"
    local pg=$cache/postgresql-doc-15/usr/share/doc/postgresql-doc-15/html
    local pypkg pydir perldir pyhtml
    pypkg=$(python_doc_pkg)
    pydir=$(fetch "$pypkg"); perldir=$(fetch perl-doc)
    pyhtml=$(find "$pydir/usr/share/doc" -maxdepth 3 -type d -name html | head -n 1)
    [ -n "$pyhtml" ] && [ -d "$pyhtml/_sources" ] || die "no HTML documentation in $pypkg"
    local podroot
    podroot=$(find "$perldir/usr/share/perl" -maxdepth 2 -type d -name pod | head -n 1)
    [ -n "$podroot" ] || die "no .pod files in perl-doc"
    rm -rf "$tree" && mkdir -p "$tree"
    copy_tree "$pg" "$tree/pg" '*.html'
    copy_tree "$pyhtml" "$tree/python" '*.html'
    rm -rf "$tree/python/_sources"
    copy_tree "$pyhtml/_sources" "$tree/python-src" '*.txt'
    copy_tree "$(dirname "$podroot")" "$tree/perl" '*.pod'
    touch "$tree/.done"
  fi
  echo "$tree"
}

build() {
  local scale=$1 out=$cache/scale-${1}x.tar.zst
  if [ ! -f "$out" ]; then
    local tree stage i
    tree=$(tree_1x)
    if [ "$scale" = 1 ]; then
      stage=$tree
    else
      stage=$cache/scale-tree-${scale}x
      rm -rf "$stage" && mkdir -p "$stage"
      for i in $(seq 1 "$scale"); do
        mkdir -p "$stage/edition-$i"
        # real copies: bsdtar stores a second link to an inode as a link, with no data
        (cd "$tree" && find . -type f ! -name .done -print0 | xargs -0 cp --parents -t "$stage/edition-$i")
      done
    fi
    echo "make-scale-corpus: packing $out" >&2
    pack "$stage" "$out"
    if [ "$scale" != 1 ]; then rm -rf "$stage"; fi
  fi
  echo "$out"
}

case "${1:-all}" in
  1|4) build "$1" ;;
  all) build 1; build 4 ;;
  *) echo "usage: datasets/make-scale-corpus.sh [1|4]" >&2; exit 2 ;;
esac
