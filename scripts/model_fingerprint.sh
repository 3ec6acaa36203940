#!/usr/bin/env bash
# Prints a short hash of everything the trained model depends on (config, domain, training data,
# pinned packages, our NLU components). Used as the model's name so unchanged inputs skip training.
set -euo pipefail
cd "$(dirname "$0")/.."
{ find config.yml domain.yml requirements.txt data components bot/language.py bot/translation.py bot/encoder.py \
    -type f \( -name '*.yml' -o -name '*.py' -o -name '*.txt' \) -print0; } \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
