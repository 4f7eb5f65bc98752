"""Keypoint HOTA and the pose mAP on PoseTrack21 against the official kit's numbers (../shared/reference/pt21).

Each case's ``expected.json`` holds the kit's full-precision results; every per-alpha, alpha-mean and alpha = 0.05
value of every field, joint, ``Total`` column and sequence must agree to 1e-9, counts exactly.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from pose.data.posetrack.format21 import KIT_JOINT_NAMES
from tracker.eval.hota import ALPHAS, COLUMNS, combine, counts, sequence_hota
from tracker.eval.pt21 import compute_hota, kit_prepare, load_pairs
from tracker.eval.cli import _results_dict, compute_ap, main, table_values

CASES = ("perfect", "small_jitter", "id_switch")
COUNT_NAMES = ("HOTA_TP", "HOTA_FN", "HOTA_FP")
MAP_KEYS = (("ap", "map"), ("ap_precision", "precision"), ("ap_recall", "recall"))


@pytest.fixture(params=CASES)
def case(request, shared):
    folder = shared("reference", "pt21", request.param)
    return folder, json.loads((folder / "expected.json").read_text())


def _check_fields(ours: dict, expected: dict, where: str) -> None:
    for name, values in expected.items():
        values = np.asarray(values, dtype=np.float64)
        got = np.asarray(ours[name])
        assert got.shape == values.shape, f"{where} {name}"
        if any(name.startswith(c) for c in COUNT_NAMES):
            np.testing.assert_array_equal(got, values, err_msg=f"{where} {name}")
        else:
            np.testing.assert_allclose(got, values, rtol=0, atol=1e-9, err_msg=f"{where} {name}")


def _all_fields(result) -> dict:
    return {**result.alpha_mean, **result.at_first_alpha()}


def _reported(expected: dict) -> dict:
    """The kit's reported fields of one result: the alpha means and the alpha = 0.05 values, (16,) each."""
    return {**expected["alpha_mean"], **{k: v for k, v in expected.items() if k not in ("per_alpha", "alpha_mean")}}


def test_layout_matches_kit(case):
    _, expected = case
    assert tuple(expected["joint_names"]) == COLUMNS == KIT_JOINT_NAMES + ("Total",)
    np.testing.assert_array_equal(ALPHAS, np.asarray(expected["alphas"]))


def test_hota_equals_kit_per_sequence_and_combined(case):
    folder, expected = case
    prepared = kit_prepare(load_pairs(folder / "gt", folder / "pred"))
    results = []
    for seq in prepared:
        result = sequence_hota(seq.frames, seq.dists)
        results.append(result)
        exp = expected["hota"]["per_sequence"][seq.name + ".json"]
        _check_fields(result.per_alpha, exp["per_alpha"], f"{seq.name} per_alpha")
        _check_fields(_all_fields(result), _reported(exp), seq.name)
        want = expected["hota"]["count"]["per_sequence"][seq.name + ".json"]
        assert counts(seq.frames) == want
    exp = expected["hota"]["combined"]
    total = combine(results)
    _check_fields(total.per_alpha, exp["per_alpha"], "combined per_alpha")
    _check_fields(_all_fields(total), _reported(exp), "combined")
    combined_counts = {k: sum(counts(s.frames)[k] for s in prepared) for k in ("Dets", "GT_Dets")}
    assert combined_counts == {k: expected["hota"]["count"]["combined"][k] for k in ("Dets", "GT_Dets")}
    # the same through the driver used by the command line
    via_driver, _ = compute_hota(prepared)
    np.testing.assert_array_equal(via_driver.per_alpha["HOTA"], total.per_alpha["HOTA"])


def test_map_equals_kit(case):
    folder, expected = case
    prepared = kit_prepare(load_pairs(folder / "gt", folder / "pred"))
    total, per_seq = compute_ap(prepared, per_sequence=True)
    ours = _results_dict(total, None)
    for key, kit_key in MAP_KEYS:
        want = expected["map"]["combined"][kit_key]
        np.testing.assert_allclose(table_values(ours[key]), list(want.values()), rtol=0, atol=1e-9)
    for name, result in per_seq.items():
        ours = _results_dict(result, None)
        for key, kit_key in MAP_KEYS:
            want = expected["map"]["per_sequence"][name + ".json"][kit_key]
            np.testing.assert_allclose(table_values(ours[key]), list(want.values()), rtol=0, atol=1e-9)


def test_cli_json_and_printed_table(case, tmp_path, capsys):
    folder, expected = case
    out = tmp_path / "result.json"
    assert main(["--gt", str(folder / "gt"), "--pred", str(folder / "pred"), "--hota", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    exp = expected["hota"]["combined"]
    for name, values in _reported(exp).items():
        metric = result["hota"][name]
        got = [metric["per_joint"][j] for j in KIT_JOINT_NAMES] + [metric["total"]]
        np.testing.assert_allclose(got, values, rtol=0, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(table_values(result["ap"]), list(expected["map"]["combined"]["map"].values()),
                               rtol=0, atol=1e-9)
    # The summary rows are printed exactly as the kit prints them (its stdout is in the reference folder).
    official = (folder / "official_stdout_hota.txt").read_text().splitlines()
    rows = [line.rstrip() for line in official if line.startswith("\t") and not line.startswith("\tMetric")]
    ours = [line.rstrip() for line in printed.splitlines() if line.startswith("\t") and not line.startswith("\tMetric")]
    assert rows and ours == rows


def test_cli_per_sequence_rows_match_kit(shared, capsys):
    folder = shared("reference", "pt21", "id_switch")
    assert main(["--gt", str(folder / "gt"), "--pred", str(folder / "pred"), "--hota-only", "--per-sequence"]) == 0
    printed = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    official = [line.rstrip() for line in (folder / "official_stdout_hota.txt").read_text().splitlines()]
    seq_rows = [line for line in official if line.endswith(".json") is False and "_mpii_test.json " in line
                and not line.startswith(("eval_sequence", "Count"))]
    hota_rows = [line for line in seq_rows if len(line.split()) == 22]
    assert len(hota_rows) == 3 and all(row in printed for row in hota_rows)
