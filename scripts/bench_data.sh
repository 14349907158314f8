#!/usr/bin/env bash
# Lay out ../shared/datasets/mnist (first 10,000 training images + the official test set) as
# torchvision expects, in ./bench-data (git-ignored), for the benchmarks and the GPU check.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-../shared/datasets/mnist}
raw=bench-data/MNIST/raw
mkdir -p "$raw"
cp "$src"/t10k-images-idx3-ubyte.gz "$src"/t10k-labels-idx1-ubyte.gz "$raw"/
cp "$src"/train-images-first10k-idx3-ubyte.gz "$raw"/train-images-idx3-ubyte.gz
cp "$src"/train-labels-first10k-idx1-ubyte.gz "$raw"/train-labels-idx1-ubyte.gz
echo "bench-data: $(ls "$raw" | tr '\n' ' ')"
