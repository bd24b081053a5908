"""A zero-padded NHWC image split by stride phase, so a strided convolution reads unit-stride rows.

With stride ``(sh, sw)`` the tap ``(dy, dx)`` (filter offsets after dilation)
of output ``(oy, ox)`` reads padded pixel ``(oy * sh + dy, ox * sw + dx)``.
Store the padded image as ``sh * sw`` sub-images,

    phases[py, px, c, i, j] = padded[i * sh + py, j * sw + px, c],

and that pixel is ``phases[dy % sh, dx % sw, c, oy + dy // sh, ox + dx // sw]``:
for one tap, neighbouring outputs read neighbouring values. Flatten a
phase's rows (``PW`` values each) and the tap's inputs for *all* outputs
are one contiguous run starting at ``(dy // sh) * PW + dx // sw``, if the
outputs are laid out ``oy * PW + ox`` too: the ``PW - out_w`` spare columns
per row get sums that belong to no output and are dropped, and one spare
phase row at the bottom keeps the last run inside the array. A kernel then
spends its inner loop on one long multiply-add the compiler vectorises. (The
same rearrangement is TensorFlow's ``space_to_depth`` by the stride.)

The padding is zeros, which is both TensorFlow's SAME padding of a float
convolution and TFLM's skipped taps of an int8 one once ``input_offset``
is added inside the image only.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def phase_shape(height, width, depth, stride_h, stride_w, padding_values):
    """``(sh, sw, C, PH, PW)`` of the phases of an (H, W, C) image padded by ``padding_values``.

    ``padding_values`` is TFLite's ``PaddingValues`` (:class:`tinykws.padding.PaddingValues`
    or any tuple with its fields): the padded image has ``H + 2 * height + height_offset``
    rows and ``W + 2 * width + width_offset`` columns.
    """
    padded_h = height + 2 * padding_values.height + padding_values.height_offset
    padded_w = width + 2 * padding_values.width + padding_values.width_offset
    return (stride_h, stride_w, depth, (padded_h + stride_h - 1) // stride_h + 1,
            (padded_w + stride_w - 1) // stride_w)


@njit(cache=True)
def fill_phases(image, phases, offset, pad_top, pad_left):
    """Write ``image + offset`` into ``phases`` (image : (H, W, C); phases from
    :func:`phase_shape`, zero-initialised: the padding is never written)."""
    height, width, depth = image.shape
    stride_h, stride_w = phases.shape[0], phases.shape[1]
    for y in range(height):
        py, i = (pad_top + y) % stride_h, (pad_top + y) // stride_h
        for px in range(stride_w):
            # Columns x with (pad_left + x) % stride_w == px land in phase px, one after
            # another from k = (pad_left + x) // stride_w.
            first_x = (px - pad_left) % stride_w
            first_k = (pad_left + first_x) // stride_w
            count = max(0, (width - first_x + stride_w - 1) // stride_w)
            for c in range(depth):
                line = phases[py, px, c, i]
                for k in range(count):  # a plain counted loop: vectorised
                    line[first_k + k] = image[y, first_x + k * stride_w, c] + offset
