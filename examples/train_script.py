"""A HyperDrive-style training script: hyperparameters as command-line arguments.

It runs on its own, printing one line of metrics per epoch:

    python examples/train_script.py --alpha 0.001 --loss log_loss --epochs 3

and halving tunes it unchanged, passing each trial's values as --name value:

    halving run examples/train_script.py --space examples/script_space.json --metric val_accuracy --trials 81 --max-epochs 27
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import halving

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=1e-4)
parser.add_argument("--loss", default="hinge")
parser.add_argument("--eta0", type=float, default=0.01)
parser.add_argument("--epochs", type=int, default=100, help="halving stops a trial sooner when its policy says so")
args = parser.parse_args()

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
scaler = StandardScaler().fit(X_train)
X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
clf = SGDClassifier(alpha=args.alpha, loss=args.loss, learning_rate="constant", eta0=args.eta0, random_state=0)
rng = np.random.default_rng(0)

for epoch in range(1, args.epochs + 1):
    order = rng.permutation(len(X_train))
    clf.partial_fit(X_train[order], y_train[order], classes=np.arange(10))
    halving.report(val_accuracy=clf.score(X_val, y_val), script_epoch=epoch)
