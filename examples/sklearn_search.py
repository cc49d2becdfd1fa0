"""``HalvingSearchCV``: a scikit-learn search estimator that trains its candidates
epoch by epoch and stops the poor ones early.

Candidates are drawn as in scikit-learn's ``HalvingRandomSearchCV`` (lists and
scipy.stats distributions); each is a halving trial on Ray, and training
continues across rungs instead of restarting. ``cv_results_`` has every
candidate, the ones stopped early with the score and resources they reached. Two searches on scikit-learn's
own data sets::

    python examples/sklearn_search.py

* a ``Pipeline`` of a ``StandardScaler`` and an ``SGDClassifier`` on digits,
  scored by accuracy and macro F1 (the policy ranks by ``refit="accuracy"``): the
  scaler is fit once per candidate, and an epoch is one ``partial_fit`` pass of the
  SGD step;
* a ``GradientBoostingClassifier`` on breast_cancer: an epoch adds trees to the
  same ensemble (``warm_start=True``), up to its ``n_estimators``.

Both fits share one local Ray and its workers: the first ``fit`` starts it, the
second finds it, and it is shut down when the interpreter exits.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import loguniform, randint
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from halving.sklearn import HalvingSearchCV

SGD_SPACE = {  # parameters of the pipeline's steps, named <step>__<parameter> as in scikit-learn
    "sgdclassifier__loss": ["hinge", "log_loss", "modified_huber"],
    "sgdclassifier__penalty": ["l2", "l1", "elasticnet"],
    "sgdclassifier__alpha": loguniform(1e-6, 1e-1),
    "sgdclassifier__learning_rate": ["optimal", "invscaling", "adaptive"],
    "sgdclassifier__eta0": loguniform(1e-4, 1e-1),
}

GBC_SPACE = {
    "learning_rate": loguniform(0.01, 1.0),
    "max_depth": [1, 2, 3, 4],
    "min_samples_leaf": randint(1, 30),
}


def show(search: HalvingSearchCV, X_test: np.ndarray, y_test: np.ndarray) -> None:
    res = search.cv_results_
    metric = search.refit if search.multimetric_ else "score"
    print(f"  resource: {search.resource_}; rungs at epochs {search.rung_epochs_} "
          f"= {search.n_resources_} {search.resource_ if search.resource_ != 'partial_fit' else 'epochs'}")
    print(f"  candidates per rung: {search.n_candidates_}; {search.epochs_used_} epochs trained "
          f"(no early stopping: {len(res['params']) * search.rung_epochs_[-1]})")
    print(f"  best (rank 1 of {len(res['params'])}): {search.best_params_}")
    print(f"  validation {metric} {search.best_score_:.4f}; test {metric} of the refit model "
          f"{search.score(X_test, y_test):.4f}")
    top = np.argsort(res[f"rank_test_{metric}"], kind="stable")[:5]
    others = [name[len("mean_test_"):] for name in res if name.startswith("mean_test_") and name != f"mean_test_{metric}"]
    print(f"  top 5:  rank  epochs  {metric:<8}  " + "".join(f"{name:<10}" for name in others) + "state")
    for c in top:
        print(f"         {res[f'rank_test_{metric}'][c]:>4}  {res['n_epochs'][c]:>6}  "
              f"{res[f'mean_test_{metric}'][c]:<8.4f}  " + "".join(f"{res[f'mean_test_{n}'][c]:<10.4f}" for n in others)
              + f"{res['state'][c]}")


def main(n_candidates: int = 27, max_epochs: int = 9, n_jobs: int = 2, seed: int = 0) -> list[HalvingSearchCV]:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=seed)
    sgd = HalvingSearchCV(make_pipeline(StandardScaler(), SGDClassifier(random_state=seed)), SGD_SPACE,
                          n_candidates=n_candidates, max_epochs=max_epochs, scoring=["accuracy", "f1_macro"],
                          refit="accuracy", random_state=seed, n_jobs=n_jobs)
    print(f"StandardScaler + SGDClassifier on digits, {n_candidates} candidates, up to {max_epochs} epochs (ASHA):")
    sgd.fit(X_train, y_train)
    show(sgd, X_test, y_test)

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=seed)
    gbc = HalvingSearchCV(GradientBoostingClassifier(n_estimators=3 * max_epochs, random_state=seed), GBC_SPACE,
                          n_candidates=n_candidates, max_epochs=max_epochs, cv=3, random_state=seed,
                          n_jobs=n_jobs)
    print(f"\nGradientBoostingClassifier on breast_cancer, {n_candidates} candidates, 3 more trees per epoch, "
          f"3 folds:")
    gbc.fit(X_train, y_train)
    show(gbc, X_test, y_test)
    return [sgd, gbc]


if __name__ == "__main__":
    main()
