"""With no --data, tinykws finds a cached copy, or renders a synthetic set, or says how."""

import pytest

from tinykws.data import locate, synth, synth_voice
from tinykws.errors import TinyKWSError


def test_a_given_folder_must_exist(tmp_path):
    with pytest.raises(TinyKWSError, match="does not exist"):
        locate.resolve_data(tmp_path / "missing")
    assert locate.resolve_data(tmp_path).kind == "given"


def test_a_cached_speech_commands_copy_comes_first(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYKWS_CACHE", str(tmp_path))
    copy = tmp_path / locate.SPEECH_COMMANDS_DIR
    (copy / "_background_noise_").mkdir(parents=True)
    (copy / "yes").mkdir()
    source = locate.resolve_data()
    assert (source.path, source.kind) == (copy, "cache")


@pytest.mark.skipif(not synth_voice.synthesizer_available(), reason="no eSpeak NG")
def test_without_a_copy_a_synthetic_set_is_rendered_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYKWS_CACHE", str(tmp_path))
    small = synth.SynthSettings(speakers=2, repeats=1, others=1, noise_seconds=2.0)
    source = locate.resolve_data(synth_settings=small, progress=False)
    fingerprint = synth.make_plan(small).fingerprint
    assert source.synthetic and source.path == tmp_path / f"{locate.SYNTH_DIR}_{fingerprint}"
    assert len(list((source.path / "yes").glob("*.wav"))) == 2


@pytest.mark.skipif(not synth_voice.synthesizer_available(), reason="no eSpeak NG")
def test_a_cached_synthetic_set_of_another_plan_is_not_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYKWS_CACHE", str(tmp_path))
    old = tmp_path / locate.SYNTH_DIR  # where tinykws before plan fingerprints rendered
    (old / "yes").mkdir(parents=True)
    small = synth.SynthSettings(speakers=1, repeats=1, others=0, noise_seconds=2.0)
    first = locate.resolve_data(synth_settings=small, progress=False).path
    bigger = locate.resolve_data(synth_settings=synth.SynthSettings(
        speakers=1, repeats=2, others=0, noise_seconds=2.0), progress=False).path
    assert len({old, first, bigger}) == 3
    assert len(list((bigger / "yes").glob("*.wav"))) == 2
    assert locate.resolve_data(synth_settings=small, progress=False).path == first  # same plan: reused


def test_with_no_way_to_get_data_the_error_lists_all_three(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYKWS_CACHE", str(tmp_path))
    monkeypatch.setattr(synth_voice, "synthesizer_available", lambda: False)
    with pytest.raises(TinyKWSError) as err:
        locate.resolve_data()
    message = str(err.value)
    assert "--data" in message and "--download" in message and "espeakng-loader" in message


def test_a_yes_when_asked_downloads_into_the_cache(tmp_path, monkeypatch):
    from tinykws.data import download

    monkeypatch.setenv("TINYKWS_CACHE", str(tmp_path))
    fetched = []
    monkeypatch.setattr(download, "download_speech_commands",
                        lambda folder, progress=True: fetched.append(folder) or folder)
    questions = []
    source = locate.resolve_data(ask=lambda q: questions.append(q) or True)
    assert source.kind == "download" and fetched == [tmp_path / locate.SPEECH_COMMANDS_DIR]
    assert "2.4 GB" in questions[0]


def test_a_no_when_asked_falls_back_to_the_synthetic_set(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYKWS_CACHE", str(tmp_path))
    monkeypatch.setattr(synth_voice, "synthesizer_available", lambda: False)
    with pytest.raises(TinyKWSError, match="no data"):  # no synthesizer either: the error
        locate.resolve_data(ask=lambda q: False)
