"""A user's own Policy subclass in an importable module, for the read-back tests."""

from __future__ import annotations

import policies as P


class PatientASHA(P.ASHA):
    """ASHA whose first rung is two epochs: a custom policy as a user would write one."""

    name = "patient-asha"

    def __init__(self, eta: int = 3, *, patience: int = 2) -> None:
        super().__init__(eta, patience)
        self.patience = patience

    def params(self) -> dict:
        return {"eta": self.eta, "patience": self.patience}
