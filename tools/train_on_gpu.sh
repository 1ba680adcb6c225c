#!/usr/bin/env bash
# Train several emotion CNNs at once on one lent GPU machine (docs/TRAINING.md, "Training on a GPU").
#
#   tools/train_on_gpu.sh PACKED.npz OUT_DIR BUDGET_SECONDS NAME:"TRAIN-GPU ARGS" ...
#
# Each NAME runs `emotion-ros train-gpu` in its own process, all sharing the GPU, and writes OUT_DIR/NAME/
# and OUT_DIR/NAME.log. Keras runs on JAX where it sees the GPU, else on PyTorch (the machine has both,
# no TensorFlow; KERAS_BACKEND chooses); a training that fails on JAX is started again on PyTorch with the time left.
set -u
data=$1 out=$2 budget=$3
shift 3
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
# Each JAX process takes a share of the GPU's memory instead of 75 % of it.
export XLA_PYTHON_CLIENT_MEM_FRACTION=$(python3 -c "print(round(0.8 / $#, 3))")
start=$(date +%s)
backend=${KERAS_BACKEND:-jax}
if [ -z "${KERAS_BACKEND:-}" ]; then
    KERAS_BACKEND=jax python3 -c "import jax, keras; assert jax.devices()[0].platform == 'gpu', jax.devices()" \
        || backend=torch
fi
echo "keras backend: $backend"
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 20 > "$out/gpu_utilization.csv" &
monitor=$!
for job in "$@"; do
    name=${job%%:*} args=${job#*:}
    (
        # shellcheck disable=SC2086  # the job's arguments are meant to split
        KERAS_BACKEND=$backend timeout $((budget + 60)) python3 -m emotion_ros.apps.cli train-gpu "$data" \
            --out-dir "$out/$name" --time-budget "$budget" $args > "$out/$name.log" 2>&1 && exit
        left=$((budget - ($(date +%s) - start)))
        if [ "$backend" = jax ] && [ "$left" -gt 60 ]; then
            echo "$name failed on JAX; again on PyTorch with $left s" | tee -a "$out/$name.log"
            # shellcheck disable=SC2086
            KERAS_BACKEND=torch timeout $((left + 60)) python3 -m emotion_ros.apps.cli train-gpu "$data" \
                --out-dir "$out/$name" --time-budget "$left" $args >> "$out/$name.log" 2>&1
        fi
    ) &
done
wait $(jobs -p | grep -v "^$monitor$")
kill "$monitor"
for job in "$@"; do
    name=${job%%:*}
    echo "== $name: $(grep '^{"data"' "$out/$name.log" || tail -n 5 "$out/$name.log")"
done
