"""Frozen-encoder linear probe of a run: pretrained vs the same architecture at init vs pixels.

Features come from the task's encoder on the full, unmasked images, in eval mode, without
gradients (MAE: the CLS token, the mean of the patch tokens, and both concatenated; I-JEPA: the
mean of the patch tokens; the compact models: their hidden layer). The "random init" encoder is
the run's own starting point: the same architecture initialised from the run's seed. Each
feature set is standardised on the training split and fitted with scikit-learn's multinomial
logistic regression, its regularisation chosen by cross-validation inside the training split;
the split is a fixed stratified 75/25 one (``random_state = 0``).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from maskproof.runtime.checkpoint import (
    write_json_atomic,
)
from maskproof.runtime.data import labels_from_array, load_npy
from maskproof.runtime.distributed import DistContext, resolve_device
from maskproof.runtime.errors import UserError
from maskproof.runtime.tasks import Task, build_model_seeded
from maskproof.runtime.train import COMPLETE_NAME
from maskproof.runtime.trained_run import load_trained_run

PROBE_NAME = "probe.json"
TEST_FRACTION = 0.25
SPLIT_SEED = 0
FEATURE_BATCH = 256
#: Candidate inverse regularisation strengths of the probe, picked by cross-validation.
PROBE_CS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
CV_FOLDS = 5


@dataclass(frozen=True)
class ProbeScore:
    """One fitted probe: test accuracy, and what model selection saw inside the training split.

    ``validation`` is the mean cross-validated accuracy of the chosen ``c``: the number to
    compare runs by when choosing pre-training settings, so that the test split stays unseen.
    Both are ``None`` when the label set is too small for cross-validation.
    """

    test: float
    validation: float | None
    c: float | None


def extract_features(task: Task, model: nn.Module, images: torch.Tensor,
                     device: torch.device) -> dict[str, NDArray[np.float64]]:
    """Every named feature set of ``images``, batch by batch, as float64 arrays."""
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for start in range(0, images.shape[0], FEATURE_BATCH):
            batch = images[start:start + FEATURE_BATCH].to(device)
            for name, value in task.features(model, batch).items():
                parts.setdefault(name, []).append(value.float().cpu())
    return {name: torch.cat(chunks).double().numpy() for name, chunks in parts.items()}


def probe_accuracy(features: NDArray[np.float64], labels: NDArray[np.int64],
                   train: NDArray[np.intp], test: NDArray[np.intp]) -> ProbeScore:
    """Test accuracy of a standardised logistic-regression probe fitted on ``train``.

    The inverse regularisation ``C`` is picked from ``PROBE_CS`` by stratified k-fold
    cross-validation inside the training split, per feature set: a fixed ``C`` favours whichever
    features happen to suit it (``C = 1`` under-regularises 256 raw pixels and over-regularises a
    random-init encoder), and the test split is never looked at.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    smallest_class = int(np.unique(labels[train], return_counts=True)[1].min())
    folds = min(CV_FOLDS, smallest_class)  # tiny label sets: fewer folds, or the default C
    search = None
    if folds >= 2:
        search = GridSearchCV(pipeline, {"logisticregression__C": list(PROBE_CS)},
                              scoring="accuracy",
                              cv=StratifiedKFold(folds, shuffle=True, random_state=SPLIT_SEED))
    probe = pipeline if search is None else search
    # One BLAS/OpenMP thread: these fits are small, and the default pools (numpy's BLAS beside
    # torch's OpenMP) contend so badly that a 7-feature-set probe took 260 s instead of 28 s on
    # the 2-core machine (`maskproof probe` on a digits MAE run; OMP_NUM_THREADS=1 gave 28 s).
    with threadpool_limits(limits=1):
        probe.fit(features[train], labels[train])
        test_accuracy = float(probe.score(features[test], labels[test]))
    if search is None:
        return ProbeScore(test_accuracy, None, None)
    return ProbeScore(test_accuracy, float(search.best_score_),
                      float(search.best_params_["logisticregression__C"]))


def _split_sizes(total: int) -> tuple[int, int]:
    """Train and test sizes of ``total`` examples (scikit-learn rounds the test share up)."""
    test = math.ceil(TEST_FRACTION * total)
    return total - test, test


def stratified_split(labels: NDArray[np.int64]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    from sklearn.model_selection import train_test_split

    counts = np.bincount(labels - labels.min())
    classes, total = int((counts > 0).sum()), labels.shape[0]
    if classes < 2:
        raise UserError("probe: the labels hold a single class; a probe needs at least two")
    if counts[counts > 0].min() < 2:
        raise UserError("probe: some class has a single example; a stratified split needs >= 2")
    if min(_split_sizes(total)) < classes:
        needed = next(n for n in itertools.count(classes) if min(_split_sizes(n)) >= classes)
        raise UserError(f"probe: {total} labelled images of {classes} classes; a stratified "
                        f"{TEST_FRACTION:.0%} test split needs every class on both sides "
                        f"(at least {needed} images)")
    indices = np.arange(total)
    train, test = train_test_split(indices, test_size=TEST_FRACTION, stratify=labels,
                                   random_state=SPLIT_SEED)
    return np.asarray(train), np.asarray(test)


def run_probe(run_dir: str, labels_path: str | None = None, device_name: str = "auto",
              quiet: bool = False, allow_incomplete: bool = False) -> dict[str, Any]:
    """Probe the run in ``run_dir``; print the table unless ``quiet``; write ``probe.json``.

    A folder without ``COMPLETE`` (a run still training, or stopped) is refused unless
    ``allow_incomplete``. Every checkpoint field read (config, step, model) is validated first.
    """
    folder = Path(run_dir)
    run = load_trained_run(folder, "probe", allow_incomplete)
    config, data, task, pretrained = run.config, run.data, run.task, run.model
    device = resolve_device(device_name, DistContext())
    if labels_path is not None:
        loaded = load_npy(labels_path, "--labels")
        labels_tensor = labels_from_array(loaded, data.count, f"--labels {labels_path}")
    elif data.labels is not None:
        labels_tensor = data.labels
    else:
        raise UserError(f"probe {folder}: the run's data has no labels; pass --labels y.npy")
    labels = labels_tensor.numpy()
    initial = build_model_seeded(task, config.seed)
    train, test = stratified_split(labels)
    scores: dict[str, dict[str, ProbeScore]] = {"pretrained": {}, "random_init": {}}
    for key, model in (("pretrained", pretrained), ("random_init", initial)):
        features = extract_features(task, model.to(device), data.images, device)
        for name, values in features.items():
            scores[key][name] = probe_accuracy(values, labels, train, test)
    pixels = data.images.flatten(1).double().numpy()
    pixel_score = probe_accuracy(pixels, labels, train, test)
    results: dict[str, Any] = {key: {name: score.test for name, score in group.items()}
                               for key, group in scores.items()}
    results["raw_pixels"] = pixel_score.test
    validation: dict[str, Any] = {
        key: {name: {"cv_accuracy": score.validation, "C": score.c}
              for name, score in group.items()} for key, group in scores.items()}
    validation["raw_pixels"] = {"cv_accuracy": pixel_score.validation, "C": pixel_score.c}
    report = {
        "run": str(folder.resolve()), "task": config.task, "checkpoint_step": run.step,
        "complete": (folder / COMPLETE_NAME).exists(), "data": data.source,
        "split": {"test_fraction": TEST_FRACTION, "random_state": SPLIT_SEED,
                  "train": int(train.size), "test": int(test.size), "stratified": True},
        "classifier": (f"StandardScaler + LogisticRegression, C in {list(PROBE_CS)} by "
                       f"{CV_FOLDS}-fold stratified CV on the train split"),
        "accuracy": results,
        # Inside the training split only: compare pre-training settings by these.
        "validation": validation,
    }
    write_json_atomic(folder / PROBE_NAME, report)
    if not quiet:
        print(format_table(report))
    return report


def format_table(report: dict[str, Any]) -> str:
    accuracy = report["accuracy"]
    lines = [f"linear probe of {report['task']} at step {report['checkpoint_step']} "
             f"({report['split']['train']} train / {report['split']['test']} test images)",
             f"{'features':<18}{'pretrained':>12}{'(train CV)':>12}{'random init':>13}"]
    validation = report["validation"]
    for name, value in accuracy["pretrained"].items():
        cv = _percent(validation["pretrained"][name]["cv_accuracy"])
        lines.append(f"{name:<18}{value:>12.2%}{cv:>12}{accuracy['random_init'][name]:>13.2%}")
    pixels_cv = _percent(validation["raw_pixels"]["cv_accuracy"])
    lines.append(f"{'raw pixels':<18}{accuracy['raw_pixels']:>12.2%}{pixels_cv:>12}")
    lines.append("train CV: the cross-validated accuracy inside the training split; compare runs "
                 "by it, not by the test column")
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"({value:.2%})"


def load_probe(run_dir: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((Path(run_dir) / PROBE_NAME).read_text())
    return result
