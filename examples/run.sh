#!/bin/sh
# Runs the examples as CI does: the pod, then the test-isolation jest test. Needs root and a
# built package (npm install). Exits non-zero if either fails.
set -eu
cd "$(dirname "$0")/.."
node examples/pod.js
npx jest --config examples/jest.config.js
