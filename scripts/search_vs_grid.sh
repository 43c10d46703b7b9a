#!/usr/bin/env bash
# Optuna's search against the 3x3 grid people run by hand, same ranges, same budget (9 trials each), same yardstick
# (docs/search.md): the quick recipe for one painting, shortened to 200 steps so that 18 trials fit in an hour on
# 2 cores; trained on DATA/train, the objective on the first 4 photos of DATA/val at 256 px; then each study's best
# network scored on the next 8 photos of DATA/val, which neither search saw (teacher-equivalent iterations too).
#   bash scripts/search_vs_grid.sh DATA [OUT] [STYLE] [OVERRIDE ...]   # DATA holds train/ and val/ (BSDS500's images/)
# docs/search.md's figures: bash scripts/search_vs_grid.sh BSDS500/images logs/search_vs_grid wave search.objective.content_max=1.5
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(realpath "${1:?give the folder holding train/ and val/}")
OUT=$(realpath -m "${2:-logs/search_vs_grid}")
STYLE=${3:-wave}
PY=${PYTHON:-.venv/bin/python}
COMMON=(experiment=quick "style=$STYLE" data=folder "data.path=$DATA/train" "data.val_path=$DATA/val"
        trainer.max_steps=200 module.style_warmup_steps=50 trainer.val_check_interval=50
        callbacks.final_samples.photos=null callbacks.sample_grid.every_n_steps=1000
        callbacks.model_checkpoint.every_n_train_steps=1000 "paths.checkpoints=$OUT/checkpoints" "paths.logs=$OUT/logs" "${@:4}")
for search in style_weight style_weight_grid; do
    start=$(date +%s)
    "$PY" train.py -m "hparams_search=$search" "${COMMON[@]}"
    echo "$search: $(( $(date +%s) - start )) s" | tee -a "$OUT/wall_times.txt"
done
# The held-out photos: DATA/val's 5th to 12th, sorted by name (the objective used the first 4).
mapfile -t HELD < <(find "$DATA/val" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.png' \) | sort | sed -n 5,12p)
PHOTOS="[$(IFS=,; echo "${HELD[*]}")]"
for study in "$STYLE-weights" "$STYLE-weights-grid"; do
    trial=$(sed -n 's/^trial: //p' "$OUT/logs/search/$study/best.yaml")
    "$PY" -m stylenet evaluate "ckpt=$OUT/checkpoints/$study/trial-$(printf %03d "$trial")/last.ckpt" "photos=$PHOTOS" \
        size=256 init=[noise] iterations=200 full_curve=false loss.content_weight=1.0 loss.style_weight=3.0 loss.tv_weight=1.0 \
        "paths.logs=$OUT/logs" "out=$OUT/held_out/$study"
done
