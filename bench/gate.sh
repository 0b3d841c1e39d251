#!/usr/bin/env bash
# Measures trigger latency through the gate's SOCKS5 port, from the HTTP
# request to the 202 that follows the broker's PUBACK. It runs on loopback with
# no cooldown, over 1,000 triggers, and reports the proxy's resident memory.
# Then it measures the same for mitmproxy in SOCKS5 mode with an addon that
# publishes with python3-paho-mqtt. Run as root (the tests provision a scratch root and start
# mosquitto as its mosq account). Needs the Debian packages mosquitto,
# util-linux, curl, mitmproxy and python3-paho-mqtt.
# Usage: bench/gate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
GARAGE_BENCH=1 go test -count=1 -v -timeout 20m \
	-run '^(TestGateTriggerLatency|TestMitmproxyTriggerLatency)$' ./test/e2e/ |
	grep -E 'garage-gate,|mitmproxy,|^(--- |ok|FAIL)' | sed 's/^ *gate_latency_test.go:[0-9]*: //'
