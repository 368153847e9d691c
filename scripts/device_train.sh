#!/usr/bin/env bash
# One call on a lent GPU machine (DEVELOPERS.md, "On a lent GPU machine"): the long from-scratch schedule,
# twice at once on the one GPU, for a fixed time whatever the GPU's speed (`roadseg train --minutes`):
#   check  the recipe with footage held out (sequence 0006R0, the dusk end of 0001TP): its log's check
#          column is how the recipe does on streets it never saw;
#   final  the same recipe on all of train: the candidate release (val stays a score).
# Then the final run's weights come home in float16 pieces (half_copy, split), with both logs.
#
#   here:   rm -rf .data/camvid; roadseg pack-data ../shared/camvid .data/camvid; move models/*.onnx out of the tree
#   device: MINUTES=7 bash scripts/device_train.sh              (run: carry [".data"], timeout_s 600)
#   here:   cat FILES_AT/final-half.pt.part-* > runs/gpu/final-half.pt
#
# MINUTES is each run's training time; loading, the last scoring and the copy add about a minute.
# PATH=.venv/bin:$PATH DEVICE=cpu WORKERS=1 MINUTES=0.3 OUT=/tmp/o DATA=/tmp/pack95 runs it here as a smoke test.
set -uo pipefail
cd "$(dirname "$0")/.."

MINUTES=${MINUTES:-7}
DEVICE=${DEVICE:-cuda}
WORKERS=${WORKERS:-7}           # two runs x 7 loader processes + the two runs: 16 cores
DATA=${DATA:-/tmp/camvid}
RUNS=${RUNS:-/tmp/roadseg-runs}
OUT=${OUT:?OUT is the folder whose files come back}
export PYTHONPATH=$PWD          # the device image has no roadseg installed (and no PyAV, which training needs not)
export PYTHONUNBUFFERED=1       # each epoch's line reaches its file as it is written
# a run that overstays (start-up, a slow last scoring) is stopped in time for what follows to come home:
# best.pt is written with each last.pt (--select last) or when the check improves
LIMIT=${LIMIT:-$(awk -v m="$MINUTES" 'BEGIN { print int(60 * m + 120) }')}

if [ ! -d "$DATA" ]; then       # a carried path is gone at the next call that does not carry it: keep a copy
    cp -r .data/camvid "$DATA" || { echo "no $DATA and no .data/camvid: carry .data (roadseg pack-data)"; exit 2; }
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L
mkdir -p "$RUNS" "$OUT"

# The recipe: progressive resizing (three quarters of the time on half-resolution frames, then full 352x480
# crops), the wide photometric augmentation, scale jitter, an EMA of the weights, the Lovasz term.
RECIPE=(--minutes "$MINUTES" --device "$DEVICE" --workers "$WORKERS" --data "$DATA"
        --phase 3:0.5:176x240 --phase 1:1:352x480 --scale 0.75 1.5
        --gamma 1.0 --colour-cast 0.15 --blur 0.4 --noise 0.4 --ema 0.999 --lr 2e-3 --lovasz 3
        --eval-every 25 --seed 0)   # scoring 222 full frames pauses training (for how long there: unmeasured)

timeout "$LIMIT" python3 -m roadseg train "${RECIPE[@]}" --out "$RUNS/check" -y --holdout 0006R0 --holdout 0001TP:0.33 \
    --select check >"$OUT/check.txt" 2>"$RUNS/check.err" &
check=$!
timeout "$LIMIT" python3 -m roadseg train "${RECIPE[@]}" --out "$RUNS/final" -y --select last >"$OUT/final.txt" 2>"$RUNS/final.err" &
final=$!
wait $check; check_rc=$?
wait $final; final_rc=$?
for run in check final; do      # the progress bars' last words (an error's line is among them)
    tr '\r' '\n' <"$RUNS/$run.err" | grep -v '%|' | tail -n 20 >>"$OUT/$run.txt"
    cp "$RUNS/$run/log.csv" "$OUT/$run-log.csv" 2>/dev/null
done
echo "check run: exit $check_rc; final run: exit $final_rc (124: stopped at ${LIMIT} s)"
[ -f "$RUNS/final/best.pt" ] || exit 1

python3 -c "from roadseg.train.weights import half_copy; half_copy('$RUNS/final/best.pt', '$RUNS/final-half.pt')" &&
    split -b 15M "$RUNS/final-half.pt" "$OUT/final-half.pt.part-" &&
    sha256sum "$RUNS/final-half.pt" | sed "s#$RUNS/##" >"$OUT/final-half.pt.sha256" || exit 1
for run in check final; do grep -h "^epoch [0-9]*:" "$OUT/$run.txt" | tail -n 1 | sed "s/^/$run: /"; done
ls -l "$OUT"
