"""The feature settings a model was trained on, carried inside its ``.tflite``.

A ``.tflite`` says what its input tensor's shape is but not how to make it
from audio: 49 x 40 could be micro features, TF MFCCs or averaged spectra.
So tinykws writes its :class:`~tinykws.features.spec.FeatureSpec` as one
entry of the schema's ``Model.metadata`` (a name and the index of a buffer,
the same mechanism TF uses for ``min_runtime_version``):

- name ``tinykws_features``;
- bytes: the spec as compact UTF-8 JSON with sorted keys, e.g.
  ``{"bins":13,"clip_ms":1000.0,"mode":"mfcc",...}``.

Interpreters ignore metadata they do not know, so the file still loads in
ai-edge-litert and tflite-micro. A model without the entry (TF's
``micro_speech`` model, anything TF's converter wrote) is taken to use the
micro frontend's defaults, :data:`~tinykws.features.spec.MICRO_DEFAULT`;
so that is also how a model *with* those defaults is written: no entry.
The entry costs about 190 bytes (the JSON, its name, a buffer and the
16-byte alignment of its data), and micro_speech's TinyConv, whose 18,712
bytes our converted model stays below, keeps its exact bytes.
"""

from __future__ import annotations

import json
from dataclasses import replace

from tinykws.errors import TinyKWSError
from tinykws.features.spec import MICRO_DEFAULT, FeatureSpec
from tinykws.tflite.model import Graph

FEATURES_METADATA = "tinykws_features"


def with_feature_spec(graph: Graph, spec: FeatureSpec) -> Graph:
    """``graph`` stating ``spec``: its ``tinykws_features`` entry set (replacing any
    earlier one), or removed when ``spec`` is the micro default the absence means."""
    others = tuple((k, v) for k, v in graph.metadata if k != FEATURES_METADATA)
    if spec == MICRO_DEFAULT:
        return replace(graph, metadata=others)
    return replace(graph, metadata=others + ((FEATURES_METADATA, spec.to_json().encode()),))


def feature_spec_of(graph: Graph, source: str = "model") -> FeatureSpec:
    """The spec in ``graph``'s metadata; micro defaults when the entry is absent.

    A present but unreadable entry raises :class:`TinyKWSError` naming ``source``.
    """
    entries = dict(graph.metadata)
    if FEATURES_METADATA not in entries:
        return MICRO_DEFAULT
    try:
        settings = json.loads(entries[FEATURES_METADATA].decode("utf-8"))
        if not isinstance(settings, dict):
            raise ValueError("not a JSON object")
        return FeatureSpec.from_dict(settings)
    except (ValueError, TypeError, UnicodeDecodeError, TinyKWSError) as err:
        raise TinyKWSError(f"{source}: unreadable {FEATURES_METADATA} metadata: {err}") from None
