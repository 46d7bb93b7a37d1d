"""The linear probe's model selection: C by cross-validation inside the training split only."""

from __future__ import annotations

import numpy as np
import pytest

from maskproof.runtime.errors import UserError
from maskproof.runtime.probe import CV_FOLDS, PROBE_CS, SPLIT_SEED, probe_accuracy, stratified_split


def _blobs(per_class: int, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), per_class)
    features = rng.normal(size=(labels.size, 5)) + 1.5 * np.eye(classes, 5)[labels]
    return features, labels


def test_validation_score_is_the_cross_validated_accuracy_of_the_chosen_c() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, labels = _blobs(40)
    train, test = stratified_split(labels)
    score = probe_accuracy(features, labels, train, test)
    assert score.c in PROBE_CS and score.validation is not None

    def cv(c: float) -> float:
        pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))
        folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=SPLIT_SEED)
        return float(cross_val_score(pipeline, features[train], labels[train], cv=folds).mean())

    by_c = {c: cv(c) for c in PROBE_CS}
    assert score.validation == pytest.approx(by_c[score.c])
    assert score.validation == pytest.approx(max(by_c.values()))  # the chosen C is the best
    # the test accuracy is of the refit on the whole training split at that C
    final = make_pipeline(StandardScaler(), LogisticRegression(C=score.c, max_iter=3000))
    final.fit(features[train], labels[train])
    assert score.test == pytest.approx(final.score(features[test], labels[test]))


def test_too_few_examples_per_class_for_cross_validation_reports_no_validation() -> None:
    features, labels = _blobs(2)
    train, test = np.array([0, 2, 4]), np.array([1, 3, 5])  # one training example per class
    score = probe_accuracy(features, labels, train, test)
    assert score.validation is None and score.c is None and 0.0 <= score.test <= 1.0


def test_a_split_too_small_for_the_classes_is_a_user_error() -> None:
    _, labels = _blobs(2)  # 6 images: a 25% test split holds 2, fewer than the 3 classes
    with pytest.raises(UserError, match="6 labelled images of 3 classes.*at least 9 images"):
        stratified_split(labels)
