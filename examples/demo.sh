#!/bin/sh
# The main job on the bundled archive: validate every file against its own version, upgrade the
# archive to a fresh folder, and show what came out. Run from the repository root.
set -u
here=$(dirname "$0")
bin=$(dirname "$here")/.venv/bin
[ -x "$bin/docmigrate" ] && PATH="$bin:$PATH"
out=$(mktemp -d "${TMPDIR:-/tmp}/docmigrate-demo.XXXXXX")

echo "\$ docmigrate families"
docmigrate families
echo
echo "\$ docmigrate validate $here/archive"
docmigrate validate "$here/archive"
echo "(exit $? - one file in the archive records a loss category the format does not know)"
echo
echo "\$ docmigrate upgrade $here/archive --out $out"
docmigrate upgrade "$here/archive" --out "$out"
echo "(exit $? - the invalid file is reported and not written; the others are)"
echo
echo "\$ docmigrate validate $out"
docmigrate validate "$out"
echo
first="$out/2025/production-history-2025-12-21.json"
echo "\$ head -n 30 $first"
head -n 30 "$first"
