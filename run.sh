#!/usr/bin/env bash
# run.sh — setup and main job for ragload.
#
#   ./run.sh          setup, build the default corpus, init + ingest it, print the summary
#   ./run.sh test     setup, then the whole test suite
#   ./run.sh setup    install packages, build pgvector if missing, start the private cluster, build,
#                     install the ragload extension (extension/) into that PostgreSQL
#   ./run.sh env      print PG* exports for the private cluster: eval "$(./run.sh env)"
#   ./run.sh stop     stop the private cluster (restart: restart it, used by a test)
#
# Everything is idempotent. The private PostgreSQL cluster runs as an unprivileged account
# (Debian's "postgres" when this runs as root) on a free port of its own, socket only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PGVER=15
PGBIN=/usr/lib/postgresql/$PGVER/bin
DBNAME=${RAGLOAD_DB:-ragload}

log() { printf 'run.sh: %s\n' "$*" >&2; }
die() { printf 'run.sh: error: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- packages -------------------------------------------------------------------------------
PACKAGES=(build-essential pkg-config git clang dpkg-dev ca-certificates
  libpq-dev libarchive-dev libutf8proc-dev libopenblas-dev liblapacke-dev libzstd-dev
  postgresql-$PGVER postgresql-server-dev-$PGVER postgresql-client-$PGVER
  zstd zip unzip xz-utils bzip2 libarchive-tools cpio p7zip-full python3
  libjansson-dev libinih-dev libxxhash-dev libxml2-dev libcmocka-dev libstemmer-dev zlib1g-dev
  libuchardet-dev libmd4c-dev python3-doc pandoc python3-psycopg
  libmupdf-dev libharfbuzz-dev libfreetype-dev libopenjp2-7-dev libjbig2dec0-dev libjpeg-dev
  libgumbo-dev libmujs-dev groff poppler-utils qpdf libtesseract-dev tesseract-ocr-eng mandoc)

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# --- pgvector from Debian's own source package (trixie) ----------------------------------------
# Built for this machine's CPU (pgvector's own default, OPTFLAGS=-march=native, which Debian's
# packaging comments out for portable binaries): its distance loops then use AVX2 and FMA where
# the CPU has them, which halves the time of an HNSW search of 768-dimension vectors. A stamp
# beside vector.control records the flags of the installed build; other flags rebuild it.
PGVECTOR_OPTFLAGS=${PGVECTOR_OPTFLAGS--march=native}
install_pgvector() {
  local sharedir stamp
  sharedir=$("$PGBIN/pg_config" --sharedir 2>/dev/null || /usr/lib/postgresql/$PGVER/bin/pg_config --sharedir)
  stamp="$sharedir/extension/vector.ragload-optflags"
  [ -f "$sharedir/extension/vector.control" ] && [ -f "$stamp" ] &&
    [ "$(cat "$stamp")" = "$PGVECTOR_OPTFLAGS" ] && return 0
  log "building pgvector from Debian's trixie source package (OPTFLAGS=$PGVECTOR_OPTFLAGS)"
  local src=/etc/apt/sources.list.d/ragload-trixie-src.sources
  if [ ! -f "$src" ]; then
    as_root tee "$src" >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  local dir="$ROOT/.run/src"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && apt-get source -qq pgvector >/dev/null 2>&1) || die "apt-get source pgvector failed"
  local pv
  pv=$(find "$dir" -maxdepth 1 -type d -name 'pgvector-*' | head -n 1)
  [ -n "$pv" ] || die "pgvector source not found under $dir"
  make -s -C "$pv" PG_CONFIG="$PGBIN/pg_config" OPTFLAGS="$PGVECTOR_OPTFLAGS" >/dev/null 2>&1 ||
    die "pgvector build failed"
  as_root make -s -C "$pv" PG_CONFIG="$PGBIN/pg_config" OPTFLAGS="$PGVECTOR_OPTFLAGS" install >/dev/null ||
    die "pgvector install failed"
  printf '%s' "$PGVECTOR_OPTFLAGS" | as_root tee "$stamp" >/dev/null
  # a running server keeps the old vector.so mapped in its backends: restart it if it runs
  if [ -f "${PGDATA_DIR:-/nonexistent}/postmaster.pid" ] && cluster_running; then
    log "restarting PostgreSQL for the new pgvector"
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -w -t 60 restart -m fast -l "$HOME_DIR/postgres.log" >/dev/null ||
      die "PostgreSQL did not restart"
  fi
}

# --- private cluster ----------------------------------------------------------------------------
PGRUNAS=""        # account the server runs as; empty = current user
if [ "$(id -u)" = 0 ]; then PGRUNAS=postgres; fi

as_pg() { if [ -n "$PGRUNAS" ]; then runuser -u "$PGRUNAS" -- "$@"; else "$@"; fi; }

path_hash() { printf '%s' "$ROOT" | sha1sum | cut -c1-12; }

# The cluster's home: .run/ in the checkout when the server account can reach it, otherwise
# /var/lib/ragload/<hash of the checkout path> (e.g. a checkout under a 0700 home).
cluster_home() {
  if [ -z "$PGRUNAS" ]; then echo "$ROOT/.run"; return; fi
  mkdir -p "$ROOT/.run"
  if runuser -u "$PGRUNAS" -- test -x "$ROOT/.run" 2>/dev/null; then echo "$ROOT/.run"
  else echo "/var/lib/ragload/$(path_hash)"; fi
}

HOME_DIR=$(cluster_home)
PGDATA_DIR=$HOME_DIR/pg
SOCKDIR=$HOME_DIR/sock
if [ ${#SOCKDIR} -gt 90 ]; then SOCKDIR=/tmp/ragload-$(path_hash); fi
PORTFILE=$HOME_DIR/port

superuser() { if [ -n "$PGRUNAS" ]; then echo "$PGRUNAS"; else id -un; fi; }

port_in_use() {
  local p=$1
  [ -S "/var/run/postgresql/.s.PGSQL.$p" ] && return 0
  [ -S "$SOCKDIR/.s.PGSQL.$p" ] && return 0
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0
  return 1
}

pick_port() {
  if [ -f "$PORTFILE" ]; then cat "$PORTFILE"; return; fi
  local p=$((55000 + 0x$(path_hash | cut -c1-4) % 4000)) i
  for i in $(seq 0 200); do
    if ! port_in_use $((p + i)); then echo $((p + i)); return; fi
  done
  die "no free port found near $p"
}

cluster_running() { [ -f "$PGDATA_DIR/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; }

# Huge pages for the server's shared memory, where this account may reserve them (root, or
# sudo without a password; RAGLOAD_HUGE_PAGES=off: never). A new backend maps each page of
# shared memory it touches; with 4 kB pages on a VM where a page fault is costly, a new
# connection's first searches paid for it (dense p95 22 ms over a new connection's first 100
# searches at 125k chunks, 7 ms with 2 MB pages; warm searches are the same either way).
# PostgreSQL's default huge_pages = try falls back to normal pages when there are too few.
# The pages added are recorded and given back by `./run.sh stop`.
sysctl_hugepages() {
  if [ "$(id -u)" = 0 ]; then echo "$1" > /proc/sys/vm/nr_hugepages
  else echo "$1" | sudo -n tee /proc/sys/vm/nr_hugepages >/dev/null; fi
} 2>/dev/null
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
reserve_huge_pages() {
  [ "${RAGLOAD_HUGE_PAGES:-on}" = off ] && return 0
  [ -r /proc/sys/vm/nr_hugepages ] || return 0
  local want total free
  want=$(as_pg "$PGBIN/postgres" -D "$PGDATA_DIR" -C shared_memory_size_in_huge_pages 2>/dev/null) || return 0
  total=$(meminfo HugePages_Total); free=$(meminfo HugePages_Free)
  case "$want$total$free" in *[!0-9]*|"") return 0 ;; esac
  [ "$want" -gt 0 ] && [ "$free" -lt "$want" ] || return 0
  if sysctl_hugepages $((total + want - free)) && [ "$(meminfo HugePages_Free)" -ge "$want" ]; then
    echo $(( $(meminfo HugePages_Total) - total )) > "$HOME_DIR/hugepages"
  else  # none, or too few to be used: given back
    [ "$(meminfo HugePages_Total)" -gt "$total" ] && sysctl_hugepages "$total"
    log "huge pages: cannot reserve $want of 2 MB (PostgreSQL uses normal pages)"
  fi
}
release_huge_pages() {
  [ -f "$HOME_DIR/hugepages" ] || return 0
  local added total free
  added=$(cat "$HOME_DIR/hugepages"); total=$(meminfo HugePages_Total); free=$(meminfo HugePages_Free)
  rm -f "$HOME_DIR/hugepages"
  case "$added$total$free" in *[!0-9]*|"") return 0 ;; esac
  [ "$free" -lt "$added" ] && added=$free
  [ "$added" -gt 0 ] && sysctl_hugepages $((total - added)) || true
}

start_cluster() {
  mkdir -p "$HOME_DIR" "$SOCKDIR"
  [ -n "$PGRUNAS" ] && chown "$PGRUNAS" "$HOME_DIR" "$SOCKDIR"
  chmod 0755 "$SOCKDIR"
  local port; port=$(pick_port); echo "$port" > "$PORTFILE"
  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    log "initdb in $PGDATA_DIR (port $port)"
    mkdir -p "$PGDATA_DIR"; [ -n "$PGRUNAS" ] && chown "$PGRUNAS" "$PGDATA_DIR"
    as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -E UTF8 --locale=C.UTF-8 -U "$(superuser)" \
      --auth-local=trust --auth-host=reject >/dev/null
  fi
  # Settings for bulk loading; /dev/shm is small in containers and breaks parallel index builds.
  local dsm=posix shm_kb
  shm_kb=$(df -k --output=avail /dev/shm 2>/dev/null | tail -n 1 | tr -d ' ' || echo 0)
  if [ "${shm_kb:-0}" -lt 2097152 ]; then dsm=mmap; fi
  # WAL's full-page images compressed with lz4 where the server has it: pglz doubled the
  # B-tree builds after a first load (the postings' term index at 125k chunks: 16 s, lz4 7 s,
  # off 7 s), as every built index page goes through WAL
  local walc=on
  "$PGBIN/pg_config" --configure 2>/dev/null | grep -q -- "--with-lz4" && walc=lz4
  as_pg tee "$PGDATA_DIR/ragload.conf" >/dev/null <<EOF
# written by run.sh on every start; edit run.sh instead
port = $port
listen_addresses = ''
unix_socket_directories = '$SOCKDIR'
unix_socket_permissions = 0777
max_connections = 100
shared_buffers = '1GB'
maintenance_work_mem = '2GB'
work_mem = '64MB'
max_wal_size = '8GB'
checkpoint_timeout = '15min'
wal_compression = $walc
dynamic_shared_memory_type = $dsm
max_parallel_maintenance_workers = 2
max_parallel_workers = 4
logging_collector = off
log_min_messages = warning
EOF
  grep -q "include_if_exists = 'ragload.conf'" "$PGDATA_DIR/postgresql.conf" ||
    echo "include_if_exists = 'ragload.conf'" | as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
  if ! cluster_running; then
    reserve_huge_pages
    log "starting PostgreSQL on port $port (socket $SOCKDIR)"
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$HOME_DIR/postgres.log" -w -t 60 start >/dev/null ||
      { tail -n 20 "$HOME_DIR/postgres.log" >&2; die "PostgreSQL did not start"; }
  else  # a running cluster reads the settings again (those a reload can change)
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" reload >/dev/null 2>&1 || true
  fi
  export PGHOST=$SOCKDIR PGPORT=$port PGUSER=$(superuser) PGDATABASE=$DBNAME
  psql -X -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'" | grep -q 1 ||
    createdb "$DBNAME"
}

build() { make -s -C "$ROOT" >/dev/null; }

# --- the ragload extension (extension/, PGXS), installed as pgvector is -------------------------
# Rebuilt with the program and installed whenever what PostgreSQL has differs from this build,
# so that `ragload init`'s CREATE EXTENSION gets the code of this checkout.
install_extension() {
  make -s -C "$ROOT" ext PG_CONFIG="$PGBIN/pg_config" >/dev/null || die "extension build failed"
  local lib share f same=1
  lib=$("$PGBIN/pg_config" --pkglibdir); share=$("$PGBIN/pg_config" --sharedir)/extension
  cmp -s "$ROOT/build/ext/ragload.so" "$lib/ragload.so" || same=0
  for f in "$ROOT"/extension/ragload.control "$ROOT"/extension/ragload--*.sql; do
    cmp -s "$f" "$share/$(basename "$f")" || same=0
  done
  [ $same = 1 ] && return 0
  log "installing the ragload extension into $lib"
  as_root make -s -C "$ROOT" ext-install PG_CONFIG="$PGBIN/pg_config" >/dev/null ||
    die "extension install failed"
}

setup() {
  install_packages
  install_pgvector
  start_cluster
  build
  install_extension
}

print_env() {
  local port; port=$(cat "$PORTFILE" 2>/dev/null) || die "no cluster yet: run ./run.sh setup"
  echo "export PGHOST=$SOCKDIR PGPORT=$port PGDATABASE=$DBNAME PGUSER=$(superuser)"
  echo "export RAGLOAD_PGLOG=$HOME_DIR/postgres.log"
}

main_job() {
  setup
  eval "$(print_env)"
  local corpus
  # RAGLOAD_SAMPLE=N: the first N pages only (the test suite's smoke test of this path)
  if [ -n "${RAGLOAD_SAMPLE:-}" ]; then
    corpus=$("$ROOT/datasets/build-default-corpus.sh" --sample "$RAGLOAD_SAMPLE")
  else
    corpus=$("$ROOT/datasets/build-default-corpus.sh")
  fi
  local db=${RAGLOAD_MAIN_DB:-ragload_default}
  log "fresh database $db"
  PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"; createdb "$db"
  export PGDATABASE=$db
  "$ROOT/build/ragload" init
  local rc=0
  "$ROOT/build/ragload" --no-progress ingest "$corpus" || rc=$?
  [ $rc -eq 0 ] || [ $rc -eq 3 ] || die "ingest failed (exit $rc)"
  "$ROOT/build/ragload" index || die "index failed"
  # Judgments from the manual's own back-of-book index: each term is a query, its pages relevant.
  local html=$ROOT/datasets/cache/postgresql-doc-15/usr/share/doc/postgresql-doc-15/html
  local qdir=$ROOT/datasets/cache/pg-manual-qrels-$(basename "$corpus" .tar.zst)
  python3 "$ROOT/datasets/pg-manual-qrels.py" "$html/bookindex.html" "$(basename "$corpus")" "$qdir" ||
    die "could not derive queries from bookindex.html"
  local report
  report=$("$ROOT/build/ragload" eval --queries "$qdir/queries.jsonl" --qrels "$qdir/qrels.tsv" \
    --reports-dir "${RAGLOAD_REPORTS:-$ROOT/reports}" ${RAGLOAD_SAMPLE:+--max-queries 60}) ||
    die "eval failed"
  log "corpus loaded into database $db; try: eval \"\$(./run.sh env)\"; PGDATABASE=$db psql"
  echo "report: $report"
  return $rc
}

case "${1:-main}" in
  main) main_job ;;
  setup) setup ;;
  env) print_env ;;
  restart) as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w restart -l "$HOME_DIR/postgres.log" >/dev/null ;;
  stop) if cluster_running; then as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null; fi
        release_huge_pages ;;
  test) setup; eval "$(print_env)"; shift; exec "$ROOT/tests/run.sh" "$@" ;;
  *) echo "usage: ./run.sh [setup|test|env|stop]" >&2; exit 2 ;;
esac
