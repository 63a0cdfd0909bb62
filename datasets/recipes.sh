#!/usr/bin/env bash
# Canonical qgen datasets. Usage: bash datasets/recipes.sh [NAME …]   (default: the tiny examples)
# Every recipe is one `qgen simulate` command; seeds make the files reproducible.
set -euo pipefail
cd "$(dirname "$0")"
declare -A RECIPES=(
  [ghz4_pauli4]="ghz --n 4 --povm pauli4 --samples 2000 --seed 0"
  [tfim6_pauli4]="tfim --n 6 --J 1 --h 1 --povm pauli4 --samples 2000 --seed 0"
  [tfim50_pauli4]="tfim --n 50 --J 1 --h 1 --povm pauli4 --samples 100000 --seed 0"
  [tfim50_h2_pauli4]="tfim --n 50 --J 1 --h 2 --povm pauli4 --samples 100000 --seed 0"
  [ghz20_pauli6]="ghz --n 20 --povm pauli6 --samples 50000 --seed 0"
  [ghz50_noisy_pauli4]="ghz --n 50 --noise 0.05 --povm pauli4 --samples 100000 --seed 0"
  [tfim2d_4x4_pauli4]="tfim2d --lx 4 --ly 4 --povm pauli4 --samples 100000 --seed 0"
  [heisenberg20_tetra]="heisenberg --n 20 --povm tetra --samples 100000 --seed 0"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(ghz4_pauli4 tfim6_pauli4)
for name in "${names[@]}"; do
  [ -n "${RECIPES[$name]:-}" ] || { echo "unknown recipe '$name'; known: ${!RECIPES[*]}" >&2; exit 1; }
  mkdir -p examples
  # shellcheck disable=SC2086
  qgen simulate ${RECIPES[$name]} -q -o "examples/$name.h5"
done
