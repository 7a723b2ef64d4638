#!/usr/bin/env bash
# Runs the openai-npm integration test against `frugal serve` (ctest: server_openai_js).
# usage: run.sh FRUGAL_BINARY SHARED_DIR. Exit 77 (ctest: skipped) when node/npm or the
# reference tokenizer is missing, or the npm registry cannot be reached.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="$1"
shared="$2"
tok="$shared/data/tokenizer/deepseek-v3/tokenizer.json"
command -v node >/dev/null && command -v npm >/dev/null || { echo "skip: node/npm not installed"; exit 77; }
[ -f "$tok" ] || { echo "skip: $tok is absent"; exit 77; }
cd "$here"
if [ ! -d node_modules/openai ]; then
  timeout 300 npm ci --no-audit --no-fund || { echo "skip: npm ci failed (registry unreachable?)"; exit 77; }
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$binary" synth --arch deepseek2 --preset tiny --tokenizer "$tok" --out "$work/tiny.gguf" 2>/dev/null
FRUGAL_BINARY="$binary" FRUGAL_TEST_MODEL="$work/tiny.gguf" timeout 300 node --test openai_client.test.mjs
