"""Pre-training on every word, then the keyword head: the recipe's answer to "go" heard as "no".

TinyConv trained on ``_silence_, _unknown_, yes, no`` sees ``go`` only as a
small part of ``_unknown_`` (one word among nine in the test set's pool), so
it learns little that tells ``go`` from ``no``: measured by cross-validation
on real speech, most ``go`` clips are accepted as ``no`` and half of ``left``
as ``yes``. Pre-training on a **many-way** objective — every word folder its
own class (the ten keywords of Speech Commands, and the rest as
``_unknown_``) — makes the convolution and the dense layer separate them
first; the deployed 4-way model then starts from it:

1. :func:`relabel` gives the same splits with every word as a label (a clip
   keeps its split, so no speaker moves into training);
2. train the many-way model (same recipe) for ``pretrain_steps``;
3. :func:`keyword_head` keeps the convolution and, of the dense layer, the
   rows of the deployed labels (``_silence_``, ``_unknown_``, the keywords);
   training continues on the deployed labels with a fresh optimizer.

The deployed graph is TinyConv's, unchanged: only its starting point moves.
"""

from __future__ import annotations

from dataclasses import replace

from tinykws.data.speech_commands import (SILENCE_INDEX, SILENCE_LABEL, UNKNOWN_INDEX, UNKNOWN_LABEL,
                                          DatasetIndex)
from tinykws.errors import TinyKWSError
from tinykws.nn.layers import Dense
from tinykws.nn.model import Sequential


def pretrain_words(index: DatasetIndex, asked: tuple[str, ...]) -> tuple[str, ...]:
    """The many-way labels' words: ``asked``, or with ``("all",)`` every word folder of the data
    (the wanted words first). Wanted words must be among them."""
    words = index.labels[2:]
    if asked == ("all",):
        folders = sorted({e.word for s in index.splits.values() for e in s}
                         - {SILENCE_LABEL, UNKNOWN_LABEL, *words})
        return (*words, *folders)
    missing = [w for w in words if w not in asked]
    if missing:
        raise TinyKWSError(f"--pretrain-words must include the keywords ({', '.join(missing)} missing)")
    return tuple(asked)


def relabel(index: DatasetIndex, words: tuple[str, ...]) -> DatasetIndex:
    """The same examples in the same splits, labelled ``(_silence_, _unknown_, *words)``.

    A clip of a word in ``words`` gets that word's label, every other word
    clip ``_unknown_``; silence stays silence.
    """
    label_of = {w: i + 2 for i, w in enumerate(words)}
    splits = {split: tuple(replace(e, label=SILENCE_INDEX if e.label == SILENCE_INDEX
                                   else label_of.get(e.word, UNKNOWN_INDEX)) for e in examples)
              for split, examples in index.splits.items()}
    return replace(index, labels=(SILENCE_LABEL, UNKNOWN_LABEL, *words), splits=splits)


def keyword_head(model: Sequential, labels: tuple[str, ...], keep: tuple[str, ...]) -> Sequential:
    """``model`` (in place: same layers) with its last Dense layer cut to the rows of ``keep``.

    ``W: (out, in)`` loses the rows of labels not in ``keep``; the order of
    ``keep`` is the new output order.
    """
    dense = model.layers[-1]
    if not isinstance(dense, Dense):
        raise TinyKWSError("the model's last layer is not Dense: no head to cut")
    rows = [labels.index(label) for label in keep]
    head = Dense(dense.in_features, len(keep))
    head.params["weight"][...] = dense.params["weight"][rows]  # (K', in)
    head.params["bias"][...] = dense.params["bias"][rows]  # (K',)
    return Sequential([*model.layers[:-1], head], model.input_shape)
