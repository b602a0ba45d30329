"""Teacher -> student measurements (results: docs/benchmarks_train.md).

    python benchmarks/train_bench.py classifier            # train time on 5,000 texts, predict throughput
    python benchmarks/train_bench.py lora STUDENT_DIR      # s/step, tokens/s, peak memory of a trained LoRA

The classifier texts are built from templates (4 intents x varied slots), so the timing is of the
student, not of generation; accuracy figures come from `synthloom distill` / `synthloom evaluate`.
"""
from __future__ import annotations

import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

TEMPLATES = {
    "refund": ["I want my money back for the {item}", "please refund the {item}, it {fault}",
               "refund my order of {n} {item}s", "the {item} {fault}, give me a refund"],
    "delivery": ["where is my {item}? ordered {n} days ago", "the {item} has not arrived",
                 "tracking for my {item} is stuck", "courier lost the {item} I ordered"],
    "login_problem": ["I can't log in after buying the {item}", "password reset fails on my {item} account",
                      "account locked since {n} days", "the code never arrives when I sign in"],
    "cancel_subscription": ["cancel my {item} subscription", "stop the monthly {item} box",
                            "end my plan, the {item} is not for me", "turn off renewal for {item}"],
}
ITEMS = ["kettle", "lamp", "jacket", "coffee", "printer", "phone case", "blender", "book", "chair", "game"]
FAULTS = ["broke", "arrived cracked", "does not work", "is the wrong size"]


def texts(n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    labels = list(TEMPLATES)
    rows = []
    for i in range(n):
        lab = labels[i % len(labels)]
        t = rng.choice(TEMPLATES[lab]).format(item=rng.choice(ITEMS), fault=rng.choice(FAULTS), n=rng.randint(2, 30))
        rows.append({"text": t, "label": lab})
    return rows


def classifier() -> dict:
    from synthloom.train import load_student, train_classifier

    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "train.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in texts(5000, 0)))
        t0 = time.perf_counter()
        s = train_classifier(data, Path(d) / "student", split="0.9,0,0.1")
        train_s = time.perf_counter() - t0
        student = load_student(Path(d) / "student")
        pred_in = [r["text"] for r in texts(10_000, 1)]
        t0 = time.perf_counter()
        student.predict(pred_in)
        pred_s = time.perf_counter() - t0
    return {"train_examples": s.counts["train"], "train_s_total": round(train_s, 1),
            "embed_s": student.info.get("embed_s"), "fit_s": student.info.get("fit_s"),
            "predict_10k_s": round(pred_s, 1), "predict_texts_per_s": round(10_000 / pred_s, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def lora(folder: str) -> dict:
    meta = json.loads((Path(folder) / "student.json").read_text())
    keep = ("steps", "planned_steps", "stopped_by", "seconds_per_step", "tokens_per_s", "train_seconds",
            "load_seconds", "peak_rss_mb", "first_loss", "last_loss", "val_loss_start", "best_val_loss", "splits")
    return {k: meta.get(k) for k in keep} | {"hyperparameters": meta["hyperparameters"]}


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "classifier"
    print(json.dumps(classifier() if what == "classifier" else lora(sys.argv[2]), indent=2))
