#!/usr/bin/env bash
# datasets/make-scale-corpus.sh — the scale corpora of the benchmarks (bench/run.sh, the memory
# test, bench/scale.sh): real documentation text from Debian packages, packed as .tar.zst.
# Prints the path of each archive it was asked for, one a line.
#
#   datasets/make-scale-corpus.sh        both small sizes: scale-1x.tar.zst, then scale-4x.tar.zst
#   datasets/make-scale-corpus.sh 1      the 1x corpus only (or 4: the 4x one)
#   datasets/make-scale-corpus.sh 125k   a corpus of about 125,000 chunks (or 250k, 500k, 1M)
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
# 1x and 4x live in the git-ignored datasets/cache/.
#
# The sized corpora (125k, 250k, 500k, 1M chunks, counted as ingest chunks them with the
# default settings) live outside the repository, in $RAGLOAD_SCALE_CACHE (default
# ~/.cache/ragload/scale): made once, reused by every clone. They hold
#   real text, every document of these packages that ragload reads, duplicates (same bytes)
#     removed: the 1x corpus's PostgreSQL manual, Python HTML and Perl pods
#     (postgresql-doc-15, python3.x-doc, perl-doc); the Linux kernel's documentation
#     (linux-doc-6.1, Sphinx HTML); GNU manuals (autoconf-doc, bash-doc, gnu-standards,
#     guile-3.0-doc, libtool-doc as Info text; gettext-doc, m4-doc as HTML); git's manual pages
#     (git-doc, AsciiDoc .txt); Django's documentation (python-django-doc), the Debian
#     Reference (debian-reference-en), SQLite's (sqlite3-doc), Erlang/OTP's (erlang-doc), the
#     Debian Administrator's Handbook in English (debian-handbook), GNU Octave's (octave-doc),
#     Maxima's (maxima-doc) and Sphinx's (sphinx-doc), HTML;
#   generated text, topped up: plain-text documents from a word-level Markov chain of order 2
#     (datasets/textgen.c, compiled here with cc) trained on up to 8 MB of normalized text of
#     each real source; each document's title line carries its number, so no two are equal.
# These packages hold 125,518 chunks of real text (11,581 documents, 2026-12), an eighth of 1M;
# a Markov document averages 11.45 chunks. Every size has the same
# mix: the real share is (real chunks / 1M) at each size, the real files taken in one fixed
# pseudo-random order (a sample of every source), the rest generated, so per-chunk costs stay
# comparable across sizes and each size is a prefix of the next (real and generated alike).
# scale-SIZE.txt beside each archive says how much is which (documents and chunks per source).
# Counting chunks uses bench/stages (built here when missing): read + normalize + chunk of each
# real source once (cached), and of the first generated documents to learn their mean.
#
# Packages come with `apt-get download` + `dpkg-deb -x` (slim images drop /usr/share/doc; no
# system-wide install needed), unpacked once into the cache. Files are archived in sorted order
# with fixed mtimes, so a rebuild gives the same archive. Idempotent: an existing archive is
# reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=$here/cache
mkdir -p "$cache"

die() { echo "make-scale-corpus: $*" >&2; exit 1; }

# fetch PKG [ROOT]: unpacks Debian package PKG into ROOT/PKG (once; ROOT defaults to $cache);
# prints that directory.
fetch() {
  local pkg=$1 root=${2:-$cache}
  local dir=$root/$pkg
  if [ ! -f "$dir/.unpacked" ]; then
    mkdir -p "$root"
    ( cd "$root" && rm -f "${pkg}"_*.deb &&
      { apt-get download -qq "$pkg" 2>/dev/null ||
        { apt-get update -qq >/dev/null && apt-get download -qq "$pkg"; }; } ) >&2 ||
      die "cannot download $pkg"
    rm -rf "$dir"
    dpkg-deb -x "$root/${pkg}"_*.deb "$dir"
    rm -f "$root/${pkg}"_*.deb
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

# ---- the sized corpora: real text from Debian packages, topped up with generated text ----------
SCALE=${RAGLOAD_SCALE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ragload/scale}
ROOT=$(cd "$here/.." && pwd)
STAGES=${BUILD:-$ROOT/build}/bench/stages
case "$STAGES" in /*) ;; *) STAGES=$ROOT/$STAGES ;; esac
SEED=16
REAL_SHARE_OF=1000000   # the real text's share is its chunks over this many at every size

# source NAME MODE PKG [SUB]: the files of PKG that ragload reads, under $SCALE/real/NAME
# (MODE html: *.html under SUB, default usr/share/doc; txt: *.txt there; info: Info manuals,
# as .txt)
real_source() {
  local name=$1 mode=$2 pkg=$3 sub=${4:-usr/share/doc} dir dest=$SCALE/real/$1
  dir=$(fetch "$pkg" "$SCALE/pkg")
  [ -d "$dir/$sub" ] || die "no $sub in $pkg"
  mkdir -p "$dest"
  case "$mode" in
    html) copy_tree "$dir/$sub" "$dest/$pkg" '*.html' ;;
    txt) copy_tree "$dir/$sub" "$dest/$pkg" '*.txt' ;;
    info)
      local f; mkdir -p "$dest/$pkg"
      find "$dir/usr/share/info" -name '*.info*.gz' -print0 | while IFS= read -r -d '' f; do
        zcat "$f" > "$dest/$pkg/$(basename "$f" .gz).txt"
      done ;;
  esac
}

real_tree() {
  local tree=$SCALE/real
  if [ ! -f "$tree/.done" ]; then
    local t1; t1=$(tree_1x)
    rm -rf "$tree" && mkdir -p "$tree/postgresql" "$tree/python" "$tree/perl"
    # the 1x corpus's three manuals (its python-src/ copies of the HTML pages left out);
    # copies, not links: the 1x tree lives on another file system, maybe
    (cd "$t1/pg" && cp -r . "$tree/postgresql/")
    (cd "$t1/python" && cp -r . "$tree/python/")
    (cd "$t1/perl" && cp -r . "$tree/perl/")
    real_source linux html linux-doc-6.1
    local p
    for p in autoconf-doc bash-doc gnu-standards guile-3.0-doc libtool-doc; do real_source gnu info "$p"; done
    for p in gettext-doc m4-doc; do real_source gnu html "$p"; done
    real_source git txt git-doc
    real_source django html python-django-doc
    real_source debian-reference html debian-reference-en
    real_source sqlite html sqlite3-doc
    real_source erlang html erlang-doc
    real_source debian-handbook html debian-handbook usr/share/doc/debian-handbook/html/en-US
    real_source octave html octave-doc
    real_source maxima html maxima-doc
    real_source sphinx html sphinx-doc
    # the same bytes twice (license pages, indexes shipped by two packages): the first kept
    (cd "$tree" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum |
      awk 'seen[$1]++ { sub(/^[0-9a-f]+  /, ""); print }' | while IFS= read -r f; do rm -f "$f"; done)
    touch "$tree/.done"
  fi
  echo "$tree"
}

need_stages() {
  [ -x "$STAGES" ] || make -C "$ROOT" -s "${STAGES#"$ROOT"/}" >&2 || die "cannot build $STAGES"
}

# real_counts: $SCALE/real.counts ("CHUNKS<TAB>source/path" per document, every source) in the
# fixed order the sizes take them from, and $SCALE/train.txt (the generator's training text)
real_counts() {
  if [ ! -f "$SCALE/real.counts" ]; then
    local tree src; tree=$(real_tree); need_stages
    local tmp=$SCALE/counts.tmp; rm -rf "$tmp"; mkdir -p "$tmp"
    for src in $(cd "$tree" && ls); do
      echo "make-scale-corpus: counting the chunks of $src" >&2
      # each document's source starts with its directory's name ($src/...), as ingest keys it
      "$STAGES" chunks "$tree/$src" "$tmp/$src.txt" 8 2> "$tmp/$src.err" > "$tmp/$src.counts" ||
        die "cannot count the chunks of $tree/$src: $(cat "$tmp/$src.err")"
    done
    cat "$tmp"/*.txt > "$SCALE/train.txt"
    # one fixed pseudo-random order over all sources (shuf with a constant random source)
    cat "$tmp"/*.counts | LC_ALL=C sort -t "$(printf '\t')" -k2 |
      shuf --random-source=<(yes ragload) > "$SCALE/real.counts.tmp"
    mv "$SCALE/real.counts.tmp" "$SCALE/real.counts"
    rm -rf "$tmp"
  fi
}

textgen() {
  local bin=$SCALE/textgen
  if [ ! -x "$bin" ] || [ "$here/textgen.c" -nt "$bin" ]; then
    ${CC:-cc} -std=c11 -O2 -Wall -Wextra -o "$bin" "$here/textgen.c" || die "cannot compile textgen.c"
  fi
  "$bin" "$@"
}

# the mean chunks of a generated document, from the first 3,000 (the first of every size)
gen_mean() {
  if [ ! -f "$SCALE/gen.mean" ]; then
    need_stages
    textgen "$SCALE/train.txt" 0 3000 "$SEED" 2>/dev/null > "$SCALE/gen-sample.tar"
    "$STAGES" chunks "$SCALE/gen-sample.tar" 2>/dev/null |
      awk '{ c += $1; n++ } END { printf "%.4f\n", c / n }' > "$SCALE/gen.mean"
    rm -f "$SCALE/gen-sample.tar"
  fi
  cat "$SCALE/gen.mean"
}

build_scale() {
  local label=$1 n
  case "$label" in
    125k) n=125000 ;; 250k) n=250000 ;; 500k) n=500000 ;; 1M|1m) label=1M; n=1000000 ;;
    *) die "unknown size $label (125k, 250k, 500k or 1M)" ;;
  esac
  local out=$SCALE/scale-$label.tar.zst
  if [ ! -f "$out" ]; then
    mkdir -p "$SCALE"
    local t0=$EPOCHREALTIME
    real_counts
    local mean; mean=$(gen_mean)
    local total_real; total_real=$(awk '{ c += $1 } END { print c }' "$SCALE/real.counts")
    # the real files of this size: the fixed order's prefix up to its share of the chunks
    awk -v want="$(awk -v n="$n" -v r="$total_real" -v of="$REAL_SHARE_OF" \
        'BEGIN { s = r / of; if (s > 1) s = 1; printf "%d", n * s }')" \
      -F '\t' 'c < want { c += $1; print }' "$SCALE/real.counts" > "$SCALE/scale-$label.real"
    local real_chunks gen_docs
    real_chunks=$(awk '{ c += $1 } END { print c + 0 }' "$SCALE/scale-$label.real")
    gen_docs=$(awk -v n="$n" -v r="$real_chunks" -v m="$mean" 'BEGIN { g = (n - r) / m; printf "%d", (g > int(g)) ? int(g) + 1 : g }')
    echo "make-scale-corpus: packing $out ($real_chunks chunks of real text, $gen_docs generated documents)" >&2
    cut -f2- "$SCALE/scale-$label.real" | LC_ALL=C sort > "$SCALE/scale-$label.list"
    textgen "$SCALE/train.txt" 0 "$gen_docs" "$SEED" |
      bsdtar --zstd --options zstd:compression-level=3 --uid 0 --gid 0 --uname root --gname root \
        -cf "$out.tmp" -C "$SCALE/real" -T "$SCALE/scale-$label.list" @- ||
      die "cannot pack $out"
    mv "$out.tmp" "$out"
    {
      echo "scale-$label.tar.zst: about $n chunks ($(du -m "$out" | cut -f1) MB), made in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"
      echo "real text: $(wc -l < "$SCALE/scale-$label.real") documents, $real_chunks chunks, of $total_real in all the sources"
      awk -F '\t' '{ split($2, p, "/"); d[p[1]]++; c[p[1]] += $1 } END { for (s in d) printf "  %-18s %7d documents %8d chunks\n", s, d[s], c[s] }' \
        "$SCALE/scale-$label.real" | sort
      echo "generated text: $gen_docs documents, about $(awk -v g="$gen_docs" -v m="$mean" 'BEGIN { printf "%d", g * m }') chunks ($mean a document)"
    } > "$SCALE/scale-$label.txt"
    cat "$SCALE/scale-$label.txt" >&2
  fi
  echo "$out"
}

case "${1:-all}" in
  1|4) build "$1" ;;
  all) build 1; build 4 ;;
  125k|250k|500k|1M|1m) build_scale "$1" ;;
  *) echo "usage: datasets/make-scale-corpus.sh [1|4|125k|250k|500k|1M]" >&2; exit 2 ;;
esac
