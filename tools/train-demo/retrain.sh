#!/bin/sh
# Retrains the demo model from scratch and rewrites models/demo-v3-tiny.gguf and the goldens
# in tests/model/data/. Usage: tools/train-demo/retrain.sh [MINUTES] [THREADS]
# Needs (Debian 12): python3-torch python3-numpy bible-kjv bible-kjv-text, and for speed
# libopenblas0-pthread.
set -eu
cd "$(dirname "$0")/../.."
MINUTES=${1:-25}
THREADS=${2:-2}
PY=/usr/bin/python3
$PY tools/train-demo/train_tokenizer.py
nice -n 10 $PY tools/train-demo/train.py --minutes "$MINUTES" --threads "$THREADS"
$PY tools/train-demo/export_gguf.py
