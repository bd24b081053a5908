"""Every feature mode against TensorFlow's own output (goldens of scripts/make_feature_goldens.py).

The goldens hold, for 13 size settings of the four modes, what TF 2.21 computed
on three real Speech Commands clips and a short synthetic chirp. TF's ``mfcc``
and ``average`` modes and MLPerf Tiny's ``tf.signal`` MFCCs are float32; we
ask for agreement within 1e-5 of the golden's largest magnitude (TF's float32
arithmetic itself varies by ~1e-7 of it). The micro frontend is integer:
bit-exact.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from tinykws.features.average import average_bins
from tinykws.features.compute import compute_features
from tinykws.features.spec import FeatureSpec
from tinykws.features.tf_mfcc import dct_matrix, mel_filterbank

GOLDEN = Path(__file__).parent / "golden" / "feature_modes_golden.npz"
RTOL = 1e-5


def _golden():
    data = np.load(GOLDEN)
    return data, json.loads(str(data["index"]))


DATA, INDEX = _golden()
CASES = [(dict(c), clip) for c in INDEX["configs"] for clip in INDEX["clips"]]


def test_the_goldens_cover_every_mode_and_real_speech():
    assert {c["mode"] for c in INDEX["configs"]} == {"micro", "mfcc", "average", "mlperf-mfcc"}
    assert {"yes", "no", "silence", "chirp"} <= set(INDEX["clips"])
    assert len(DATA["clip/chirp"]) < 16000  # shorter than a clip: exercises the padding


@pytest.mark.parametrize("config, clip", CASES,
                         ids=[f"{c['key']}-{clip}" for c, clip in CASES])
def test_features_match_tensorflow(config, clip):
    key = config.pop("key")
    # micro: the goldens are TF's audio_microfrontend op, whose tables are TF's.
    spec = FeatureSpec(**config, tables="tensorflow")
    waveform = DATA[f"clip/{clip}"].astype(np.float32) / 32768  # decode_wav's scaling
    ours = compute_features(waveform, spec)
    expected = DATA[f"{key}/{clip}"]
    assert ours.shape == expected.shape == spec.shape
    if spec.mode == "micro":
        np.testing.assert_array_equal(ours, expected)
    else:
        np.testing.assert_allclose(ours, expected, rtol=RTOL, atol=RTOL * np.abs(expected).max())


def test_average_groups_follow_same_padding():
    # 10 bins in groups of 4: 3 outputs, 2 bins of padding, one before and one after, so
    # the groups are bins 0..2, 3..6 and 7..9, each averaged over its real bins.
    row = np.arange(10.0)[None, :]
    np.testing.assert_allclose(average_bins(row, 4), [[1.0, 4.5, 8.0]])
    np.testing.assert_allclose(average_bins(row, 5), [[2.0, 7.0]])


def test_tf_mel_filterbank_splits_each_bin_between_two_channels():
    bank = mel_filterbank(257, 16000)
    m = bank.matrix()  # (40, 257)
    used = np.arange(257)
    used = (used >= bank.start) & (used <= bank.end)
    # Every used bin gives all of itself away, except below the first centre and above the
    # last, where one half of the split has no channel.
    totals = m.sum(axis=0)
    assert bank.start == 2 and bank.end == 128  # 20 Hz and 4000 Hz at 31.25 Hz a bin
    assert np.all(totals[~used] == 0)
    inner = used & (bank.band_mapper >= 0) & (bank.band_mapper < 39)
    np.testing.assert_allclose(totals[inner], 1.0)
    assert m.max() <= 1.0 and (m > 0).sum(axis=1).min() >= 1


def test_tf_dct_is_sqrt_2_over_n_for_every_coefficient():
    c = dct_matrix(40)
    # Not orthonormal: rows k >= 1 have unit norm, row 0 has norm sqrt(2).
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), [np.sqrt(2)] + [1.0] * 39)
    np.testing.assert_allclose(c[1:] @ c[1:].T, np.eye(39), atol=1e-12)
