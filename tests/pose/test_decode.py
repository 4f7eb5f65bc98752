"""pose.decode against the official helper vectors, hand-made edge cases and a known geometric transform."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pose.decode import (
    average_flip,
    dark_refine,
    decode_heatmaps,
    flip_back,
    get_max_preds,
    heatmap_to_image,
    quarter_offset,
    shift_heatmap,
)
from pose.keypoints import COCO17, MPII16
from pose.transforms import box_to_center_scale, crop, get_affine_transform, affine_points


@pytest.fixture
def ref(hrnet_reference):
    return hrnet_reference[0]        # the arrays


def gaussian_map(height: int, width: int, x: float, y: float, sigma: float = 2.0) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    return np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)).astype(np.float32)


def test_get_max_preds_matches_official(ref):
    coords, maxvals = get_max_preds(ref["heatmaps"])
    np.testing.assert_array_equal(coords, ref["get_max_preds.preds"])
    np.testing.assert_array_equal(maxvals, ref["get_max_preds.maxvals"])
    assert (maxvals <= 0).any()   # the vectors include non-positive maps, which decode to (0, 0)


@pytest.mark.parametrize("post", [0, 1])
def test_final_preds_match_official(ref, post):
    preds, maxvals = decode_heatmaps(ref["heatmaps"], ref["center"], ref["scale"], post_process=bool(post))
    assert preds.dtype == np.float32 and preds.shape == (3, 17, 2)
    np.testing.assert_allclose(preds, ref[f"get_final_preds.post{post}.preds"], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(maxvals, ref[f"get_final_preds.post{post}.maxvals"])


def test_transform_preds_matches_official(ref):
    out = heatmap_to_image(ref["transform_preds.coords"][None], ref["center"][1:2], ref["scale"][1:2], (48, 64))[0]
    np.testing.assert_allclose(out, ref["transform_preds.out"], rtol=0, atol=1e-9)


def test_flip_back_and_shift_match_official(ref):
    np.testing.assert_array_equal(flip_back(ref["flip_back.in"], COCO17.flip_pairs), ref["flip_back.coco"])
    np.testing.assert_array_equal(flip_back(ref["flip_back.in"][:, :16], MPII16.flip_pairs), ref["flip_back.mpii"])
    np.testing.assert_array_equal(shift_heatmap(flip_back(ref["flip_back.in"], COCO17.flip_pairs)),
                                  ref["flip_back.coco.shifted"])
    as_tensor = shift_heatmap(flip_back(torch.from_numpy(ref["flip_back.in"]), COCO17.flip_pairs))
    np.testing.assert_array_equal(as_tensor.numpy(), ref["flip_back.coco.shifted"])


def test_argmax_ties_and_non_positive_maps():
    heatmaps = np.zeros((1, 3, 5, 6), np.float32)
    heatmaps[0, 0, 1, 4] = heatmaps[0, 0, 3, 2] = 1.0     # tie: first in row-major order wins
    heatmaps[0, 1] = -1.0
    heatmaps[0, 1, 2, 3] = -0.5                           # maximum <= 0 -> (0, 0), score kept
    coords, maxvals = get_max_preds(heatmaps)
    np.testing.assert_array_equal(coords[0], [[4, 1], [0, 0], [0, 0]])
    np.testing.assert_array_equal(maxvals[0, :, 0], [1.0, -0.5, 0.0])


def test_quarter_offset_strict_border_rule():
    """Offset only when 1 < px < W-1 and 1 < py < H-1 (official, strict)."""
    height, width = 8, 8
    cases = {  # (x, y) of the peak: expected coordinates
        (1, 4): (1, 4), (2, 4): (2.25, 3.75), (width - 2, 4): (width - 1.75, 3.75), (width - 1, 4): (width - 1, 4),
        (4, 1): (4, 1), (4, 2): (4.25, 1.75), (4, height - 2): (4.25, height - 2.25), (4, height - 1): (4, height - 1),
    }
    heatmaps = np.zeros((1, len(cases), height, width), np.float32)
    for j, (x, y) in enumerate(cases):
        heatmaps[0, j, y, x] = 1.0
        if x + 1 < width:
            heatmaps[0, j, y, x + 1] = 0.5        # right neighbour higher -> +0.25 in x
        heatmaps[0, j, y - 1, x] = 0.5            # upper neighbour higher -> -0.25 in y
    coords, _ = get_max_preds(heatmaps)
    refined = quarter_offset(heatmaps, coords)
    np.testing.assert_array_equal(refined[0], np.array(list(cases.values()), np.float32))
    # a peak whose neighbours are equal gets no offset on that axis (sign(0) = 0)
    flat = np.zeros((1, 1, height, width), np.float32)
    flat[0, 0, 4, 4] = 1.0
    np.testing.assert_array_equal(quarter_offset(flat, get_max_preds(flat)[0])[0, 0], [4, 4])


def test_dark_recovers_subpixel_peak_better_than_quarter_offset():
    rng = np.random.default_rng(0)
    truth = np.stack([rng.uniform(6, 41, 40), rng.uniform(6, 57, 40)], axis=1)
    heatmaps = np.stack([gaussian_map(64, 48, x, y) for x, y in truth])[None]
    coords, _ = get_max_preds(heatmaps)
    dark = dark_refine(heatmaps, coords)[0]
    quarter = quarter_offset(heatmaps, coords)[0]
    dark_error = np.abs(dark - truth).max()
    quarter_error = np.abs(quarter - truth).max()
    assert dark_error < 0.05
    assert quarter_error < 0.5 and dark_error < quarter_error / 4


def test_blob_in_image_decodes_to_its_pixel():
    """Crop an image at heatmap resolution around a box; the blob decodes back to its image pixel."""
    x0, y0 = 213.3, 161.7
    image_sigma = 9.0
    image = gaussian_map(360, 480, x0, y0, sigma=image_sigma)
    box = np.array([150.0, 60.0, 130.0, 220.0])                            # xywh
    center, scale = box_to_center_scale(box, 0.75)
    heatmap = crop(image, center, scale, (48, 64))                         # heatmap pixels = crop grid / 4
    heatmaps = np.repeat(heatmap[None, None], 2, axis=1)
    exact = affine_points(np.array([x0, y0]), get_affine_transform(center, scale, 0, (48, 64)))
    coords, _ = get_max_preds(heatmaps)
    assert np.abs(coords[0, 0] - exact).max() <= 0.5                      # arg-max within half a heatmap pixel
    dark, _ = decode_heatmaps(heatmaps, center[None], scale[None], refine="dark")
    quarter, _ = decode_heatmaps(heatmaps, center[None], scale[None])
    heatmap_pixel = scale[0] * 200 / 48                                    # image pixels per heatmap pixel
    assert np.abs(dark[0, 0] - [x0, y0]).max() < 0.1 * heatmap_pixel     # a fraction of a pixel (~0.5 px here)
    assert np.abs(quarter[0, 0] - [x0, y0]).max() < 0.5 * heatmap_pixel


def test_average_flip_of_a_mirror_symmetric_pair():
    """A person seen mirrored: flip-back of the mirrored heatmaps gives the original, so the average is unchanged."""
    rng = np.random.default_rng(1)
    heatmaps = rng.random((2, 17, 16, 12)).astype(np.float32)
    mirrored = flip_back(heatmaps, COCO17.flip_pairs)       # what the network would see on the mirrored crop
    np.testing.assert_allclose(average_flip(heatmaps, mirrored, COCO17.flip_pairs, shift=False), heatmaps)
    shifted = average_flip(heatmaps, mirrored, COCO17.flip_pairs, shift=True)
    np.testing.assert_allclose(shifted[..., 1:], (heatmaps[..., 1:] + heatmaps[..., :-1]) / 2, rtol=1e-6)
    torch_out = average_flip(torch.from_numpy(heatmaps), torch.from_numpy(mirrored), COCO17.flip_pairs)
    np.testing.assert_allclose(torch_out.numpy(), shifted, rtol=1e-6)
