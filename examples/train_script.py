"""A HyperDrive-style training script: hyperparameters as command-line arguments.

It runs on its own, printing one line of metrics per epoch:

    python examples/train_script.py --alpha 0.001 --loss log_loss --average --epochs 3

and halving tunes it unchanged, passing each trial's values as --name value,
and a boolean as a flag (--average when True, nothing when False):

    halving run examples/train_script.py --space examples/script_space.json --metric val_accuracy --mode max --trials 81 --max-epochs 27
"""

import argparse

import numpy as np
import script_data  # beside this script: found under halving as under python
from sklearn.linear_model import SGDClassifier

import halving

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=1e-4)
parser.add_argument("--loss", default="hinge")
parser.add_argument("--eta0", type=float, default=0.01)
parser.add_argument("--average", action="store_true", help="average the weights over the updates (ASGD)")
parser.add_argument("--epochs", type=int, default=100, help="halving stops a trial sooner when its policy says so")
args = parser.parse_args()

X_train, y_train, X_val, y_val = script_data.digits_split()
clf = SGDClassifier(alpha=args.alpha, loss=args.loss, learning_rate="constant", eta0=args.eta0,
                    average=args.average, random_state=0)
rng = np.random.default_rng(0)

for epoch in range(1, args.epochs + 1):
    order = rng.permutation(len(X_train))
    clf.partial_fit(X_train[order], y_train[order], classes=np.arange(10))
    halving.report(val_accuracy=clf.score(X_val, y_val), script_epoch=epoch)
