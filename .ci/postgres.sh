#!/usr/bin/env bash
# Throwaway PostgreSQL server for the test suite.
#
#   url=$(bash .ci/postgres.sh start)
#       Creates a brand-new cluster in a new temporary directory D (mktemp -d under $TMPDIR or
#       /tmp), starts it listening only on a unix socket in D (no TCP port), creates the empty
#       database docmigrate_test and prints ONE line on stdout, a SQLAlchemy URL such as
#           postgresql+psycopg://postgres@/docmigrate_test?host=/tmp/docmigrate-pg.AbC123&port=5432
#       D is the URL's `host` value. Everything else (progress, apt-get output) goes to stderr.
#       On failure it prints the initdb/server logs to stderr, removes D and exits non-zero.
#
#   bash .ci/postgres.sh stop D_OR_URL
#       Stops that server (pg_ctl stop -m fast, harder if needed) and removes D. The argument is
#       D or the URL printed by `start`; without one, $DOCMIGRATE_PG_DIR is used. Stopping a
#       directory that no longer exists is a no-op, so calling it twice is fine. It refuses to
#       delete a directory that `start` did not create (no D/bindir marker file).
#
# Layout of D: data/ (PGDATA), server.log, initdb.log, bindir (the PostgreSQL bin directory used,
# also the marker), .s.PGSQL.5432 (the socket). The cluster uses trust authentication (local socket
# only), superuser `postgres`, locale C, UTF8, and fsync/full_page_writes/synchronous_commit off.
#
# Binaries: $PG_BINDIR if set, else the directory of `initdb` on PATH, else the newest
# /usr/lib/postgresql/<ver>/bin (Debian/Ubuntu). If none is found and apt-get exists, it runs
# `apt-get install -y --no-install-recommends postgresql` (as root, or through `sudo -n`).
# As root the server runs as the user $DOCMIGRATE_PG_USER (default: postgres) via runuser, since
# initdb/postgres refuse to run as root; as a normal user it runs as that user directly.
set -euo pipefail

# Keep stdout for the URL only: everything else written by this script goes to stderr.
exec 3>&1 1>&2

readonly PORT=5432
readonly DATABASE=docmigrate_test
readonly SUPERUSER=postgres
run_as=""  # the server's owner when we are root, else "" (run directly)
bindir=""  # PostgreSQL's bin directory

die() {
    echo "postgres.sh: $*" >&2
    exit 1
}

# Run a command as the server's owner (runuser as root, directly otherwise).
as_owner() {
    if [[ -z "$run_as" ]]; then
        "$@"
    elif command -v runuser > /dev/null; then
        runuser -u "$run_as" -- "$@"
    else
        su -s /bin/sh "$run_as" -c "$(printf '%q ' "$@")"
    fi
}

# Run a command with every file descriptor above 2 closed: the server must not keep our stdout
# (the caller's $(...) pipe, saved as fd 3) or any other inherited pipe open, or the caller hangs.
without_extra_fds() {
    (
        local fd
        for fd in /proc/"$BASHPID"/fd/*; do
            fd=${fd##*/}
            if [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2)); then
                eval "exec $fd>&-"
            fi
        done
        "$@" 3>&-
    )
}

# Set $bindir to the first directory holding both initdb and pg_ctl, or to "".
find_bindir() {
    local candidate
    bindir=""
    if [[ -n "${PG_BINDIR:-}" ]]; then
        bindir=$PG_BINDIR
        return
    fi
    if candidate=$(command -v initdb); then
        candidate=$(dirname "$(readlink -f "$candidate")")
        if [[ -x "$candidate/pg_ctl" ]]; then
            bindir=$candidate
            return
        fi
    fi
    # Debian/Ubuntu: /usr/lib/postgresql/<major>/bin, newest major first.
    for candidate in $(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d \
        2> /dev/null | sort -t/ -k5,5nr); do
        if [[ -x "$candidate/initdb" && -x "$candidate/pg_ctl" ]]; then
            bindir=$candidate
            return
        fi
    done
}

install_postgres() {
    command -v apt-get > /dev/null \
        || die "PostgreSQL server binaries (initdb, pg_ctl) not found and apt-get is unavailable;" \
            "install PostgreSQL or set PG_BINDIR"
    local -a sudo=(env)
    if [[ $(id -u) != 0 ]]; then
        if ! { command -v sudo > /dev/null && sudo -n true 2> /dev/null; }; then
            die "PostgreSQL is not installed and installing it needs root (or sudo -n)"
        fi
        sudo=(sudo -n env)
    fi
    echo "postgres.sh: PostgreSQL not found; installing it with apt-get"
    "${sudo[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -q \
        || die "apt-get update failed"
    "${sudo[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends postgresql \
        || die "apt-get install postgresql failed"
}

# Set $bindir to the bin directory to use, installing PostgreSQL first if there is none.
bindir_or_install() {
    find_bindir
    if [[ -z "$bindir" ]]; then
        install_postgres
        find_bindir
        [[ -n "$bindir" ]] || die "installed postgresql but found no initdb under /usr/lib/postgresql"
    fi
    [[ -x "$bindir/initdb" && -x "$bindir/pg_ctl" ]] || die "no initdb/pg_ctl in $bindir"
}

# A program from the server's bin directory, else from PATH (client tools may live elsewhere).
program() {
    if [[ -x "$bindir/$1" ]]; then
        echo "$bindir/$1"
    elif command -v "$1"; then
        :
    else
        die "$1 not found in $bindir nor on PATH"
    fi
}

# Create the temporary directory in $1 and give it to the server's owner; print its path, or
# nothing when that base directory is unusable (unsafe characters for the URL, a socket path too
# long for sun_path, or not reachable by the owner).
make_dir_in() {
    local base=$1 dir
    [[ -d "$base" ]] || return 0
    base=$(cd "$base" && pwd -P)
    # The path goes unquoted into the URL and must fit a unix socket path (107 bytes).
    [[ "$base" =~ ^[A-Za-z0-9._/-]+$ && ${#base} -le 60 ]] || return 0
    dir=$(mktemp -d "$base/docmigrate-pg.XXXXXX") || return 0
    if [[ -n "$run_as" ]]; then
        chown "$run_as:" "$dir"
        if ! as_owner test -w "$dir" -a -x "$dir"; then
            rmdir "$dir"
            return 0
        fi
    fi
    echo "$dir"
}

start() {
    local dir pg_ctl
    if [[ $(id -u) == 0 ]]; then
        run_as=${DOCMIGRATE_PG_USER:-postgres}
        id -u "$run_as" > /dev/null 2>&1 \
            || die "running as root but there is no user '$run_as' to run the server as" \
                "(create it, or set DOCMIGRATE_PG_USER to an existing non-root user)"
    fi
    bindir_or_install
    pg_ctl=$bindir/pg_ctl

    dir=$(make_dir_in "${TMPDIR:-/tmp}")
    [[ -n "$dir" ]] || dir=$(make_dir_in /tmp)
    [[ -n "$dir" ]] || die "could not create a temporary directory usable by ${run_as:-$(id -un)}"
    # From here on, any failure dumps the logs and removes everything.
    # shellcheck disable=SC2064  # expand $dir now
    trap "start_failed '$dir'" EXIT
    echo "$bindir" > "$dir/bindir"
    # Server tools may complain when they cannot access the working directory.
    cd "$dir"

    echo "postgres.sh: initdb in $dir/data ($("$bindir/initdb" --version))"
    as_owner "$bindir/initdb" -D "$dir/data" -A trust -U "$SUPERUSER" --no-sync \
        -E UTF8 --locale=C > "$dir/initdb.log" 2>&1 \
        || die "initdb failed"
    cat >> "$dir/data/postgresql.conf" << EOF

# docmigrate CI: throwaway test cluster, unix socket only.
listen_addresses = ''
port = $PORT
unix_socket_directories = '$dir'
fsync = off
full_page_writes = off
synchronous_commit = off
max_connections = 100
logging_collector = off
EOF
    without_extra_fds as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        > /dev/null \
        || die "pg_ctl start failed"
    local pg_isready psql tries=0
    pg_isready=$(program pg_isready)
    psql=$(program psql)
    until "$pg_isready" -q -h "$dir" -p "$PORT" -t 5; do
        ((++tries < 30)) || die "server not ready after 30 s"
        sleep 1
    done
    "$psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$PORT" -U "$SUPERUSER" -d postgres \
        -c "CREATE DATABASE $DATABASE" > /dev/null \
        || die "could not create database $DATABASE"

    trap - EXIT
    echo "postgresql+psycopg://$SUPERUSER@/$DATABASE?host=$dir&port=$PORT" >&3
}

start_failed() {
    local status=$? dir=$1 log
    trap - EXIT
    for log in "$dir/initdb.log" "$dir/server.log"; do
        if [[ -s "$log" ]]; then
            echo "----- $log -----"
            cat "$log"
        fi
    done
    stop "$dir" || true
    exit $((status == 0 ? 1 : status))
}

# Send a signal to the postmaster of data directory $1 (its pid is the first line of its pid file).
signal_postmaster() {
    local pid
    pid=$(head -n 1 "$1/postmaster.pid" 2> /dev/null) || return 0
    if [[ "$pid" =~ ^[0-9]+$ ]]; then
        kill "-$2" "$pid" 2> /dev/null || true
    fi
}

stop() {
    local arg=${1:-${DOCMIGRATE_PG_DIR:-}} dir
    [[ -n "$arg" ]] || die "usage: postgres.sh stop DIR_OR_URL (or set DOCMIGRATE_PG_DIR)"
    if [[ "$arg" == *"://"* ]]; then
        [[ "$arg" =~ [?\&]host=([^\&]+) ]] || die "no host= in URL $arg"
        dir=${BASH_REMATCH[1]}
    else
        dir=$arg
    fi
    [[ -e "$dir" ]] || return 0
    [[ -f "$dir/bindir" ]] || die "$dir was not created by postgres.sh start (no bindir file); not removing it"
    bindir=$(< "$dir/bindir")
    if [[ $(id -u) == 0 ]]; then
        run_as=$(stat -c %U "$dir")
        [[ "$run_as" != root ]] || run_as=""
    fi
    cd /
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop > /dev/null; then
            echo "postgres.sh: fast shutdown failed; trying immediate shutdown"
            as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop > /dev/null \
                || signal_postmaster "$dir/data" KILL
        fi
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start)
        start
        ;;
    stop)
        stop "${2:-}"
        ;;
    *)
        die "usage: postgres.sh start | postgres.sh stop DIR_OR_URL"
        ;;
esac
