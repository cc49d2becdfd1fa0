"""Only files this run wrote are unpickled: a crafted pickle never runs."""

from __future__ import annotations

import os
import pickle
import stat

import pytest

from halving import signing
from halving.signing import UntrustedFileError


class _Payload:
    """Unpickling this writes a marker file: a stand-in for any code an attacker runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('pwned')",)


def _crafted(tmp_path, name="marker"):
    marker = tmp_path / name
    return pickle.dumps(_Payload(marker)), marker


def test_the_crafted_pickle_really_runs_code_when_unpickled_blindly(tmp_path):
    data, marker = _crafted(tmp_path, "control")
    pickle.loads(data)
    assert marker.read_text() == "pwned"


@pytest.mark.parametrize("signature", ["missing", "garbage", "other-run", "other-file"])
def test_a_crafted_pickle_without_a_valid_signature_is_refused_and_never_runs(tmp_path, signature):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    key = signing.run_key(run, create=True)
    signing.dump_pickle({"w": [1, 2]}, run / "checkpoints" / "trial-1.pkl", key)
    data, marker = _crafted(tmp_path)
    target = run / "checkpoints" / "trial-2.pkl"
    if signature == "other-file":
        # A checkpoint of this run, renamed over another: the name is signed too.
        signing.write_signed(run / "checkpoints" / "evil.pkl", data, key)
        os.replace(run / "checkpoints" / "evil.pkl", target)
        os.replace(run / "checkpoints" / "evil.pkl.sig", run / "checkpoints" / "trial-2.pkl.sig")
    else:
        target.write_bytes(data)
    if signature == "garbage":
        signing.signature_path(target).write_text("halving-hmac-sha256-v1 " + "00" * 32)
    elif signature == "other-run":
        other = tmp_path / "other"
        other.mkdir()
        signing.write_signed(target, data, signing.run_key(other, create=True))
    with pytest.raises(UntrustedFileError, match="trial-2.pkl") as info:
        signing.load_pickle(target, key)
    assert info.value.path == target and isinstance(info.value, ValueError)
    assert not marker.exists()
    assert signing.load_pickle(run / "checkpoints" / "trial-1.pkl", key) == {"w": [1, 2]}


def test_a_signed_file_changed_afterwards_is_refused(tmp_path):
    key = signing.run_key(tmp_path, create=True)
    path = tmp_path / "best_model.pkl"
    signing.dump_pickle([1, 2, 3], path, key)
    data, marker = _crafted(tmp_path)
    path.write_bytes(data)  # the signature of the old bytes stays beside it
    with pytest.raises(UntrustedFileError, match="does not match"):
        signing.load_pickle(path, key)
    assert not marker.exists()


def test_the_secret_is_private_and_made_only_by_the_writer(tmp_path):
    with pytest.raises(UntrustedFileError, match="no secret"):
        signing.run_key(tmp_path)
    assert not (tmp_path / signing.SECRET_NAME).exists()  # a reader never creates it
    key = signing.run_key(tmp_path, create=True)
    mode = stat.S_IMODE((tmp_path / signing.SECRET_NAME).stat().st_mode)
    assert mode == 0o600 and len(key) == 32
    assert signing.run_key(tmp_path) == key == signing.run_key(tmp_path, create=True)


def test_a_secret_others_can_read_is_not_trusted(tmp_path):
    signing.run_key(tmp_path, create=True)
    os.chmod(tmp_path / signing.SECRET_NAME, 0o644)
    with pytest.raises(UntrustedFileError, match="readable by others"):
        signing.run_key(tmp_path)


def test_a_run_dir_without_a_secret_verifies_nothing(tmp_path):
    data, marker = _crafted(tmp_path)
    (tmp_path / "best_model.pkl").write_bytes(data)
    with pytest.raises(UntrustedFileError, match="no secret"):
        signing.load_pickle(tmp_path / "best_model.pkl", signing.run_key(tmp_path))
    assert not marker.exists()


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    key = signing.run_key(tmp_path, create=True)
    path = tmp_path / "model.pkl"
    for i in range(3):
        signing.dump_pickle({"i": i}, path, key)
    assert signing.load_pickle(path, key) == {"i": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".secret", "model.pkl", "model.pkl.sig"]


def test_bad_arguments_name_what_is_wrong(tmp_path):
    key = signing.run_key(tmp_path, create=True)
    with pytest.raises(TypeError, match="str"):
        signing.write_signed(tmp_path / "x", "text", key)
    with pytest.raises(TypeError, match="32 bytes"):
        signing.write_signed(tmp_path / "x", b"data", b"short")
