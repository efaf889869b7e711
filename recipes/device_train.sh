#!/usr/bin/env bash
# The prepared GPU training call of issue 21: one call on a lent device machine, two time-boxed runs.
#
#   (a) run_a: the shipped model's architecture (config mbnet_photo_gpu), budget $BUDGET_A seconds;
#   (b) run_b: mbnet-large (config mbnet_large_gpu), budget $BUDGET_B seconds.
#
# Each run writes model.safetensors, config.json, log.csv and run.json into $OUT/run_a or $OUT/run_b
# (8 files in all: the device tool returns at most 8, 16 MiB each). Training budgets exclude the
# start-up (~20 s: imports, channels_last probe, loader probe) and the evaluation (~20-40 s) of each run,
# so the call lasts about BUDGET_A + BUDGET_B + 2 minutes.
#
# Usage (repository root):
#   bash recipes/device_train.sh [OUT]                       # OUT defaults to $OUT, else outputs/device
#   BUDGET_A=150 BUDGET_B=300 RUNS="a b" DEVICE=cuda STVSR_COMMIT=<sha> bash recipes/device_train.sh
#   EXTRA_A="--set train.batch_size=64" bash recipes/device_train.sh   # extra device.py arguments per run
# The dry run (tests/recipe/test_device.py) runs the same entry on the CPU with tiny sizes.
set -uo pipefail

OUT_DIR=${1:-${OUT:-outputs/device}}
BUDGET_A=${BUDGET_A:-150}
BUDGET_B=${BUDGET_B:-300}
RUNS=${RUNS:-a b}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"

echo "device_train: $(date -u +%FT%TZ) runs [$RUNS] budgets a=${BUDGET_A}s b=${BUDGET_B}s device=$DEVICE out=$OUT_DIR"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 1

status=0
for r in $RUNS; do
  case $r in
    a) config=mbnet_photo_gpu; budget=$BUDGET_A; extra=${EXTRA_A:-} ;;
    b) config=mbnet_large_gpu; budget=$BUDGET_B; extra=${EXTRA_B:-} ;;
    *) echo "device_train: RUNS: expected 'a' and/or 'b', got '$r'" >&2; exit 2 ;;
  esac
  echo "=== run_$r: $config, ${budget}s"
  rm -rf "/tmp/stvsr_device/run_$r"   # a warm machine may hold an earlier call's scratch folder
  # shellcheck disable=SC2086  # EXTRA_* are word-split on purpose
  "$PY" -m stvsr_blocks.recipe.device --config "$config" --budget-s "$budget" --device "$DEVICE" \
      --out "$OUT_DIR/run_$r" --work-dir "/tmp/stvsr_device/run_$r" --no-progress $extra || status=$?
done
exit $status
