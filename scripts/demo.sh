#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, builds, generates ~100k
# transactions into a local journal (rotating segments), then inspects it offline with segdump.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${JOBS:-2}" --target loadgen segdump

bin=build/tools
demo=${DEMO_DIR:-build/demo}
rm -rf "$demo"
mkdir -p "$demo"

echo "== loadgen: 100000 transactions into $demo/binlog (segments rotate at 16 MiB)"
"$bin/loadgen/loadgen" --dir "$demo/binlog" --count 100000 --txn-rows 4 --seed 42 \
  --max-file-size 16MiB --ack-log "$demo/acked.log"
echo
echo "== segments"
ls -l "$demo/binlog"
echo
echo "== segdump: the first records"
"$bin/segdump/segdump" --limit 8 "$demo/binlog"
echo
echo "== segdump -v: one record with its row values"
"$bin/segdump/segdump" -v --limit 1 "$demo/binlog"
echo
echo "== segdump --stats"
"$bin/segdump/segdump" --stats "$demo/binlog"
echo
echo "== segdump --verify"
"$bin/segdump/segdump" --verify "$demo/binlog"
echo
echo "acknowledged transactions: $(wc -l < "$demo/acked.log") (in $demo/acked.log)"
