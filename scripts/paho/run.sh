#!/bin/sh
# Runs the Eclipse Paho MQTT 3.1.1 interoperability suite (interoperability/client_test.py of
# github.com/eclipse/paho.mqtt.testing, not part of this repository) against the embedded broker.
# Usage: scripts/paho/run.sh PATH/TO/paho.mqtt.testing/interoperability   (run from the project root)
set -eu
suite=${1:?usage: scripts/paho/run.sh PATH/TO/interoperability [TEST...]}
shift
npm run build --silent
PAHO_DIR=$(mktemp -d)
export PAHO_DIR
export PAHO_MQTT_PORT=${PAHO_MQTT_PORT:-18830}
node dist/cli.js start --config scripts/paho/bridge.yaml > "$PAHO_DIR/bridge.log" 2>&1 &
bridge=$!
trap 'kill $bridge 2>/dev/null; wait $bridge 2>/dev/null; [ -z "${PAHO_KEEP_LOG:-}" ] || cp "$PAHO_DIR/bridge.log" "$PAHO_KEEP_LOG"; rm -rf "$PAHO_DIR"' EXIT
i=0
until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $PAHO_MQTT_PORT), 1)" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || { cat "$PAHO_DIR/bridge.log"; exit 1; }; sleep 0.1
done
suite=$(cd "$suite" && pwd)
python3 scripts/paho/client_test.py "$suite" 127.0.0.1 "$PAHO_MQTT_PORT" "$@"
