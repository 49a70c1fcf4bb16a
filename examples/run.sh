#!/bin/sh
# Runs the examples as CI does: the pod, the terminal server, then the test-isolation jest test.
# Needs root and a built package (npm install). Exits non-zero if any fails.
set -eu
cd "$(dirname "$0")/.."
node examples/pod.js
node examples/terminal-server.js
npx jest --config examples/jest.config.js
