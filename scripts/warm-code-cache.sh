#!/bin/sh
# Writes dist/bridge.cjs.cache by starting the bridge once and stopping it (the Dockerfile's build stage: the
# image's dist/ is not writable by the node user, so without this every container would compile the bundle on
# each start). Run it with the same Node and the same flags as the image's ENTRYPOINT: the cache is keyed by
# both, and a cache made otherwise is ignored, never run (src/cli/code-cache.ts).
#   sh scripts/warm-code-cache.sh node --heap-growing-percent=60
set -eu
cache=dist/bridge.cjs.cache
rm -f "$cache"
store=$(mktemp -d)
SMS_BRIDGE_CONFIG_STORE_PATH="$store/warm.db" SMS_BRIDGE_CONFIG_LOG_LEVEL=warn \
  "$@" dist/launch.js start --config "${WARM_CONFIG:-config/bridge.yaml}" &
pid=$!
i=0
while [ ! -s "$cache" ] && [ $i -lt 300 ] && kill -0 $pid 2>/dev/null; do
  sleep 0.1
  i=$((i + 1))
done
kill -TERM $pid 2>/dev/null || true
wait $pid || true
rm -rf "$store"
if [ ! -s "$cache" ]; then
  echo "warm-code-cache: no code cache written in 30 s" >&2
  exit 1
fi
echo "warm-code-cache: wrote $cache ($(wc -c <"$cache") bytes)"
