"""Pure evaluation metrics against hand-computed values."""

import math

import numpy as np
import pytest

from chatface_widgets.photos import metrics as M


def test_psnr_of_uniform_error_and_identity():
    a, b = np.zeros((2, 2, 3)), np.full((2, 2, 3), 0.1)
    assert M.psnr(a, b) == pytest.approx(20.0)  # mse 0.01
    assert M.psnr(a, a) == math.inf
    assert M.capped(math.inf) == M.PSNR_CAP
    assert math.isnan(M.capped(math.nan))


def test_masked_psnr_ignores_pixels_outside_the_mask():
    a, b = np.zeros((2, 2, 3)), np.full((2, 2, 3), 0.1)
    b[0, 0] = 1.0
    keep = np.ones((2, 2), bool)
    keep[0, 0] = False
    assert M.masked_psnr(a, b, keep) == pytest.approx(20.0)
    # all pixels: mse = (3·1 + 9·0.01) / 12
    assert M.masked_psnr(a, b, np.ones((2, 2), bool)) == pytest.approx(10 * math.log10(12 / 3.09))
    assert math.isnan(M.masked_psnr(a, b, np.zeros((2, 2), bool)))


def test_spatial_consistency_counts_pixels_below_tolerance():
    a = np.zeros((2, 2, 3))
    b = np.zeros((2, 2, 3))
    b[0, 0] = 0.05  # unchanged (< 0.1)
    b[0, 1, 2] = 0.2  # changed in one channel
    b[1, 1, 0] = 0.1  # exactly the tolerance counts as changed
    assert M.spatial_consistency(a, b, np.ones((2, 2), bool)) == pytest.approx(0.5)
    mask = np.array([[True, False], [True, True]])
    assert M.spatial_consistency(a, b, mask) == pytest.approx(2 / 3)
    assert M.spatial_consistency(a, a, mask) == 1.0
    assert math.isnan(M.spatial_consistency(a, b, np.zeros((2, 2), bool)))


def test_hit_needs_absent_start_crossing_and_margin():
    before = np.array([0.1, 0.1, 0.3, 0.6])
    after = np.array([0.6, 0.45, 0.55, 0.9])
    assert M.hit(before, after).tolist() == [True, False, False, False]
    rate, n = M.hit_rate(before, after)
    assert (rate, n) == (pytest.approx(1 / 3), 3)
    rate, n = M.hit_rate(np.array([0.7]), np.array([0.9]))
    assert math.isnan(rate) and n == 0


def test_faces_that_cannot_show_the_attribute_are_not_eligible():
    before, after = np.array([0.1, 0.1, 0.2]), np.array([0.9, 0.2, 0.8])
    assert M.hit_rate(before, after) == (pytest.approx(2 / 3), 3)
    reach = np.array([True, False, True])  # the miss is on a face the attribute cannot show on
    assert M.eligible(before, attainable=reach).tolist() == [True, False, True]
    assert M.hit_rate(before, after, attainable=reach) == (pytest.approx(1.0), 2)


def test_cosine_and_directional_similarity():
    assert M.cosine(np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]]))[0] == pytest.approx(1 / math.sqrt(2))
    edit, recon = np.array([[2.0, 0.0]]), np.array([[0.0, 3.0]])  # unit-normalised first
    assert M.directional_similarity(edit, recon, np.array([1.0, 0.0]), np.array([0.0, 1.0]))[0] == pytest.approx(1.0)
    assert M.directional_similarity(recon, edit, np.array([1.0, 0.0]), np.array([0.0, 1.0]))[0] == pytest.approx(-1.0)


def test_identity_similarity_wraps_circular_columns():
    a, b = np.array([[0.1, 0.95]]), np.array([[0.3, 0.05]])
    assert M.identity_similarity(a, b, np.array([False, True]))[0] == pytest.approx(1 - (0.2 + 0.1) / 2)
    assert M.identity_similarity(a, b)[0] == pytest.approx(1 - (0.2 + 0.9) / 2)
    assert M.identity_similarity(a, a)[0] == 1.0


def test_dilate_and_edited_region():
    m = np.zeros((5, 5), bool)
    m[2, 2] = True
    assert M.dilate(m, 1).sum() == 9 and M.dilate(m, 0).sum() == 1
    before = np.zeros((5, 5), np.uint8)
    after = np.zeros((5, 5), np.uint8)
    before[0, 0], after[4, 4], after[2, 2] = 4, 4, 3
    region = M.edited_region(before, after, [4], radius=0)
    assert region.sum() == 2 and region[0, 0] and region[4, 4]
    changed = np.zeros((5, 5), bool)
    changed[1, 3] = True
    assert M.edited_region(before, after, [4], changed, radius=0).sum() == 3
    assert M.edited_region(before, after, [4], radius=1).sum() == 8


def test_monotone_and_nanmean():
    assert M.monotone([0.1, 0.3, 0.295, 0.5])
    assert not M.monotone([0.1, 0.5, 0.3])
    assert M.monotone([0.1, math.nan, 0.2])
    assert M.nanmean([1.0, math.nan, 3.0]) == 2.0
    assert math.isnan(M.nanmean([math.nan]))


def test_texture_sees_curls_and_not_a_new_outline():
    from chatface_widgets.photos.metrics import texture, texture_shown

    flat = np.full((12, 12, 3), 0.4)
    curls = flat.copy()
    curls[::2, ::3] = 0.1  # dark arcs inside the hair
    inside = np.zeros((12, 12), bool)
    inside[3:10, 3:10] = True
    assert texture(flat, inside) < 1e-12 and texture(curls, inside) > 0.05
    reshaped = flat.copy()
    reshaped[:, :2] = 0.9  # a new outline outside the part: nothing inside changes
    assert texture(reshaped, inside) < 1e-12
    assert texture_shown(texture(curls, inside), 0.0, texture(curls, inside)) == 1.0
    assert texture_shown(texture(reshaped, inside), 0.0, texture(curls, inside)) == 0.0
    assert np.isnan(texture_shown(0.1, 0.2, 0.2))  # the renderer draws no texture here: nothing to show
    assert np.isnan(texture(flat, np.zeros((12, 12), bool)))
