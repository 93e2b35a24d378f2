"""The exercises of the foundation chapters (notation, the terminal phase, NC1–NC4): their
references, the wrong variants they recognise, in the order they are tried, and their judges."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from ..geometry import etf_gram as _etf_gram
from ..metrics import between_class_covariance as _between_class_covariance
from ..metrics import class_means as _class_means
from ..metrics import global_mean as _global_mean
from ..metrics import measure
from ..metrics import within_class_covariance as _within_class_covariance
from ._cases import (
    _S,
    _cosine_matrix,
    _cov,
    _etf_gram_cases,
    _labelled_cases,
    _means_cases,
    _mismatch,
    _nc1_cases,
    _nc1_variant,
    _nc3,
    _nc3_cases,
    _nc3_rows,
    _nc4_cases,
    _pair_cosines,
    _per_class_covariances,
    _row_norms,
    _simplex_cases,
    _sorted_means,
    _std,
    _std_over_mean,
    _tpt_cases,
)
from ._engine import (
    Exercise,
    _Case,
    _Finding,
    _ShapeHint,
    _as_array,
    _close,
    _fraction,
    _m,
    _non_negative,
    _psd,
    _rows_permuted,
    _symmetric,
)


_PLAIN_INVERSE = (
    "this looks like a plain inverse of Sigma_B: Sigma_B has rank C - 1, smaller than p here, so it has no "
    "inverse; use the Moore-Penrose pseudo-inverse (np.linalg.pinv)"
)


_FIXED_RANK = (
    "here two classes share a mean, so Sigma_B has rank C - 2, not C - 1: keeping exactly C - 1 "
    "eigenpairs inverts an eigenvalue that is only rounding error. Treat the eigenvalues below a small "
    "tolerance times the largest as zero (as np.linalg.pinv does)"
)


def _nc1_diagnose(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    """A plain inverse of a singular Sigma_B gives a huge, negative or non-finite NC1; so does
    inverting exactly C - 1 eigenvalues when the class means span fewer dimensions."""
    if case.dims["p"] <= case.dims["C"] - 1:
        return None
    v, ref = float(value), float(measure(case.data["H"], case.data["y"]).nc1)
    if not np.isfinite(v) or v < 0 or abs(v) > 1e3 * ref:
        if case.data.get("rank_deficient"):
            return _Finding("nc1_fixed_rank", _FIXED_RANK)
        return _Finding("nc1_plain_inverse", _PLAIN_INVERSE)
    return None


def _nc1_error(err: Exception, case: _Case) -> Optional[_Finding]:
    if isinstance(err, np.linalg.LinAlgError):
        return _Finding("nc1_plain_inverse", _PLAIN_INVERSE)
    return None


def _unit_diagonal(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    if not _close(np.diag(value), np.ones(len(value))):
        return _Finding("etf_gram_not_unit_diagonal", "the diagonal is not all ones, but the vectors are unit vectors")
    return None


def _constant_offdiagonal(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    off = value[~np.eye(len(value), dtype=bool)]
    if not _close(off, np.full_like(off, off.mean())):
        return _Finding("etf_gram_offdiagonal_not_constant", "the off-diagonal entries are not all equal, but the frame is "
                        "equiangular")
    return _Finding("etf_gram_wrong_offdiagonal", "the off-diagonal entries are equal but have the wrong value: the C unit "
                    "vectors sum to zero, so every row of their Gram matrix sums to zero")


def _judge_simplex_etf(value: np.ndarray, case: _Case) -> Optional[_Finding]:
    """Invariants only: any rotation of a simplex ETF is right."""
    C = case.dims["C"]
    if not np.all(np.isfinite(value)):
        return _Finding("not_finite", "the answer contains NaN or infinite values")
    norms = _row_norms(value)
    if not _close(norms, np.ones(C)):
        same = _close(norms, np.full(C, norms.mean()))
        return _Finding("etf_rows_not_unit", "the rows are not unit vectors" + (" (they all have the same norm: rescale "
                                                                                 "them)" if same else ""))
    if _close(value @ value.T, _etf_gram(C)):
        return None
    if not _close(value.sum(0), np.zeros(case.dims["p"])):
        return _Finding("etf_not_centred", "the rows are unit vectors but do not sum to zero: a simplex ETF is centred, "
                        "and that is what makes its common cosine as negative as possible")
    return _Finding("etf_not_equiangular", "the rows are unit vectors summing to zero, but the angles between pairs differ")


def _judge_terminal_phase(raw: Any, case: _Case) -> Optional[_Finding]:
    """An epoch (any real type, or a one-element array) or None; the mistakes in ``_TPT_VARIANTS`` named."""
    expected, epochs, acc = case.data["expected"], case.data["epochs"], case.data["acc"]
    if raw is None:
        if expected is None:
            return None
        return _Finding("returned_none", "your function returned None, but training accuracy reaches 1.0 in this case "
                        "(train_acc holds fractions between 0 and 1, not percentages; and check that you `return` "
                        "the epoch)")
    value, _, finding = _as_array(raw, scalar=True)
    if finding is not None:
        if finding.code == "wrong_type":
            return _Finding("wrong_type", finding.message.split(";")[0] + "; return an epoch (an int) or None")
        return finding
    if value.size == 0:
        if expected is None:
            return _Finding("tpt_not_none_when_never", "your function returned an empty array; when training accuracy "
                            "never reaches 1.0, return None")
        return _Finding("wrong_shape", "your function returned an empty array; return the epoch, a single int")
    if value.size != 1:
        return _Finding("wrong_shape", f"expected a single epoch, got {value.size} numbers: return only the first "
                        "epoch with training accuracy 1.0")
    v = float(value.reshape(()))
    if expected is not None and v == expected:
        return None
    for mistake in _TPT_VARIANTS:
        alt = mistake.compute(case)
        if alt is not None and alt != expected and v == alt:
            return _Finding(mistake.code, mistake.message)
    if expected is None:
        return _Finding("tpt_not_none_when_never", "training accuracy never reaches 1.0 in this case, so the terminal "
                        "phase never starts: return None, not a number standing for 'never' (such as -1, 0 or NaN)")
    at = np.flatnonzero(epochs == v)
    if at.size == 0:
        return _Finding("not_a_measured_epoch", "the value is not one of the measured epochs: return an entry of "
                        "`epochs`")
    if acc[at[0]] < 1.0:
        return _Finding("tpt_threshold_below_one", "training accuracy at the epoch you returned is below 1.0 (as with "
                        "a tolerance such as train_acc > 0.99): the terminal phase starts at zero training error, "
                        "the first epoch where train_acc == 1.0 exactly")
    if v > expected:
        return _Finding("tpt_not_first", "training accuracy is 1.0 at the epoch you returned, but it is not the first "
                        "such epoch")
    return _Finding("wrong_value", "that is not the first measured epoch with training accuracy 1.0")


_CLASS_MEANS_VARIANTS = (
    _m("class_means_centred", "looks like the centred means mu_c - mu_G; this exercise asks for the class means mu_c",
       lambda c: _S(c, "M")),
    _m("class_means_sums", "looks like the sums of each class's features, not their means",
       lambda c: _S(c, "mu") * _S(c, "counts")[:, None]),
    _m("class_means_divided_by_N", "looks like each class sum divided by N; divide by the class size n_c instead",
       lambda c: _S(c, "mu") * _S(c, "counts")[:, None] / _S(c, "N")),
    _m("class_means_assumes_sorted_labels", "looks like the samples were assumed sorted by class in equal blocks; "
       "select each class's rows with the labels, e.g. H[y == c]", _sorted_means),
)


_GLOBAL_MEAN_VARIANTS = (
    _m("global_mean_of_class_means", "looks like the mean of the class means; with imbalanced classes that differs "
       "from the mean of all samples, which is what mu_G is", lambda c: _S(c, "mu").mean(0)),
)


_SIGMA_W_VARIANTS = (
    _m("sigma_w_centred_at_global_mean", "looks like the deviations were taken from the global mean mu_G: that is the "
       "total covariance Sigma_T; Sigma_W centres each sample at its own class mean mu_{y_i}",
       lambda c: _cov(_S(c, "T"), _S(c, "N"))),
    _m("sigma_w_centred_at_global_mean", "looks like np.cov of all the features: that is the total covariance (centred "
       "at mu_G, divided by N - 1); Sigma_W centres each sample at its class mean and divides by N",
       lambda c: _cov(_S(c, "T"), _S(c, "N") - 1)),
    _m("sigma_w_divided_by_n_minus_1", "looks like a division by N - 1; Sigma_W divides by N",
       lambda c: _cov(_S(c, "R"), _S(c, "N") - 1)),
    _m("sigma_w_missing_div_N", "looks like the sum of the outer products without the division by N",
       lambda c: _cov(_S(c, "R"), 1)),
    _m("sigma_w_per_class_average", "looks like the average of the C class covariances, which weighs the samples "
       "unequally when classes are imbalanced; sum over all samples and divide by N",
       lambda c: np.mean(_per_class_covariances(c, 0), axis=0)),
    _m("sigma_w_per_class_average_ddof1", "looks like the average of per-class np.cov (1/(n_c - 1) each); sum over all "
       "samples and divide by N", lambda c: np.mean(_per_class_covariances(c, 1), axis=0)),
    _m("sigma_w_per_class_sum", "looks like the sum of the C class covariances; sum the outer products over all "
       "samples and divide once by N", lambda c: np.sum(_per_class_covariances(c, 0), axis=0)),
    _m("sigma_w_not_centred", "looks like the features were not centred at all (h_i h_i^T); subtract each sample's "
       "class mean", lambda c: _cov(_S(c, "H"), _S(c, "N"))),
)


_SIGMA_B_VARIANTS = (
    _m("sigma_b_not_centred", "looks like the class means were not centred: use mu_c - mu_G, not mu_c",
       lambda c: _cov(_S(c, "mu"), _S(c, "C"))),
    _m("sigma_b_class_frequency_weights", "looks like the classes were weighted by their frequency n_c/N (or the sum "
       "ran over samples); Sigma_B gives every class the same weight 1/C",
       lambda c: (_S(c, "M").T * _S(c, "counts")) @ _S(c, "M") / _S(c, "N")),
    _m("sigma_b_global_mean_of_class_means", "looks like the means were centred at the mean of the class means; mu_G "
       "is the mean of all samples, which differs for imbalanced classes",
       lambda c: _cov(_S(c, "mu") - _S(c, "mu").mean(0), _S(c, "C"))),
    _m("sigma_b_np_cov_of_means", "looks like np.cov of the class means: that divides by C - 1 and centres at the mean "
       "of the class means; Sigma_B divides by C and centres at mu_G",
       lambda c: _cov(_S(c, "mu") - _S(c, "mu").mean(0), _S(c, "C") - 1)),
    _m("sigma_b_divided_by_C_minus_1", "looks like a division by C - 1; Sigma_B divides by C",
       lambda c: _cov(_S(c, "M"), _S(c, "C") - 1)),
    _m("sigma_b_missing_div_C", "looks like the sum over classes without the division by C",
       lambda c: _cov(_S(c, "M"), 1)),
    _m("sigma_b_total_covariance", "looks like the total covariance of all samples (Sigma_T); Sigma_B uses only the "
       "class means", lambda c: _cov(_S(c, "T"), _S(c, "N"))),
)


_NC1_VARIANTS = (
    _m("nc1_missing_div_C", "looks like NC1 without the division by C", lambda c: _nc1_variant(c, div_C=False)),
    _m("nc1_sigma_w_centred_at_global_mean", "looks like Sigma_W was centred at the global mean (that makes it "
       "Sigma_T); centre each sample at its class mean", lambda c: _nc1_variant(c, sw_global=True)),
    _m("nc1_trace_ratio", "looks like Tr(Sigma_W) / Tr(Sigma_B), a different (simpler) measure; NC1 is "
       "Tr(Sigma_W Sigma_B^+) / C",
       lambda c: float(np.sum(_S(c, "R") ** 2) / _S(c, "N") / (np.sum(_S(c, "M") ** 2) / _S(c, "C")))),
    _m("nc1_global_mean_of_class_means", "looks like Sigma_B was centred at the mean of the class means; mu_G is the "
       "mean of all samples (they differ for imbalanced classes)", lambda c: _nc1_variant(c, mean_of_means=True)),
    _m("nc1_authors_notebook_convention", "looks like the authors' notebook convention (no division by C, mu_G the "
       "mean of the class means); this book follows the paper",
       lambda c: _nc1_variant(c, div_C=False, mean_of_means=True)),
    _m("nc1_sigma_b_class_frequency_weights", "looks like Sigma_B weighted the classes by their frequency; it gives "
       "each class weight 1/C", lambda c: _nc1_variant(c, freq=True)),
    _m("nc1_sigma_w_divided_by_n_minus_1", "looks like Sigma_W was divided by N - 1; divide by N",
       lambda c: _nc1_variant(c, sw_ddof=1)),
    _m("nc1_sigma_b_not_centred", "looks like Sigma_B was built from the uncentred class means mu_c; use mu_c - mu_G",
       lambda c: _nc1_variant(c, sb_uncentred=True)),
)


def _gram(C: int, diagonal: float, off: float) -> np.ndarray:
    return np.where(np.eye(C, dtype=bool), diagonal, off)


_ETF_GRAM_VARIANTS = (
    _m("etf_gram_wrong_offdiagonal", "looks like off-diagonal entries -1/C: with ones on the diagonal the rows of the "
       "Gram matrix must sum to zero (the vectors sum to zero), and -1/C does not achieve that",
       lambda c: _gram(c.dims["C"], 1.0, -1.0 / c.dims["C"])),
    _m("etf_gram_wrong_offdiagonal", "the off-diagonal entries have the wrong sign: vectors that sum to zero must have "
       "negative inner products", lambda c: _gram(c.dims["C"], 1.0, 1.0 / (c.dims["C"] - 1))),
    _m("etf_gram_not_unit_diagonal", "looks like the centring matrix I - 11^T/C: its diagonal is not 1; rescale it so "
       "that the vectors have unit norm", lambda c: _gram(c.dims["C"], 1.0 - 1.0 / c.dims["C"], -1.0 / c.dims["C"])),
    _m("etf_gram_not_unit_diagonal", "the diagonal is zero, but it holds the squared norms of unit vectors",
       lambda c: _gram(c.dims["C"], 0.0, -1.0 / (c.dims["C"] - 1))),
)


_RECENTRED = ("looks like M was centred again at the mean of its rows; M is already centred at the global mean mu_G "
              "(its rows need not average to zero when classes are imbalanced): use it as given")

_BIASED = "looks like the biased standard deviation (ddof=0, numpy's default); use ddof=1"


_EQUINORM_VARIANTS = (
    _m("std_biased", _BIASED, lambda c: _std_over_mean(_row_norms(c.data["M"]), ddof=0)),
    _m("means_recentred", _RECENTRED, lambda c: _std_over_mean(_row_norms(c.data["M"] - c.data["M"].mean(0)))),
    _m("equinorm_not_divided_by_mean", "looks like the standard deviation of the norms without the division by "
       "their mean", lambda c: _std(_row_norms(c.data["M"]), 1)),
    _m("equinorm_inverted", "looks like mean / std; equinorm is std / mean",
       lambda c: 1.0 / _std_over_mean(_row_norms(c.data["M"]))),
    _m("equinorm_squared_norms", "looks like squared norms were used; use the norms ||M_c||",
       lambda c: _std_over_mean(_row_norms(c.data["M"]) ** 2)),
    _m("norms_over_wrong_axis", "looks like the norms of the columns; take the norm of each row (axis=1)",
       lambda c: _std_over_mean(np.linalg.norm(c.data["M"], axis=0))),
)


_DIAGONAL = "looks like the diagonal cosines (each class with itself, always 1) were included; use only the pairs c < c'"


_EQUIANGULARITY_VARIANTS = (
    _m("std_biased", _BIASED, lambda c: _std(_pair_cosines(c.data["M"]), 0)),
    _m("cosines_include_diagonal", _DIAGONAL, lambda c: _std(_cosine_matrix(c.data["M"]).ravel(), 1)),
    _m("cosines_include_diagonal", _DIAGONAL, lambda c: _std(_cosine_matrix(c.data["M"]).ravel(), 0)),
    _m("pairs_counted_twice", "looks like every pair was counted twice (c != c' instead of c < c'); with ddof=1 that "
       "changes the value",
       lambda c: _std(_cosine_matrix(c.data["M"])[~np.eye(c.dims["C"], dtype=bool)], 1)),
    _m("dot_products_not_cosines", "looks like inner products M_c . M_c' without dividing by the norms",
       lambda c: _std((c.data["M"] @ c.data["M"].T)[np.triu_indices(c.dims["C"], 1)], 1)),
    _m("means_recentred", _RECENTRED, lambda c: _std(_pair_cosines(c.data["M"] - c.data["M"].mean(0)), 1)),
    _m("maxangle_instead_of_std", "looks like the mean of |cos + 1/(C-1)| (the max-angle measure); this exercise asks "
       "for the standard deviation of the cosines",
       lambda c: float(np.mean(np.abs(_pair_cosines(c.data["M"]) + 1 / (c.dims["C"] - 1))))),
    _m("angles_not_cosines", "looks like the standard deviation of the angles (arccos); use the cosines themselves",
       lambda c: _std(np.arccos(np.clip(_pair_cosines(c.data["M"]), -1, 1)), 1)),
)


_NC3_VARIANTS = (
    _m("nc3_not_squared", "looks like the distance without the square; NC3 is the squared Frobenius distance",
       lambda c: float(np.sqrt(_nc3(c.data["W"], c.data["M"])))),
    _m("nc3_W_transposed", "looks like W was transposed; W and M are both (C, p), one row per class",
       lambda c: _nc3(c.data["W"].T, c.data["M"]) if c.dims["C"] == c.dims["p"] else None),
    _m("nc3_unnormalised", "looks like W and M were compared without dividing each by its Frobenius norm",
       lambda c: float(np.sum((c.data["W"] - c.data["M"]) ** 2))),
    _m("nc3_unnormalised", "looks like ||W - M||_F: divide W and M by their Frobenius norms first, and square the "
       "distance", lambda c: float(np.linalg.norm(c.data["W"] - c.data["M"]))),
    _m("nc3_wrong_norm", "looks like W and M were divided by their spectral norms (np.linalg.norm(X, 2)); use the "
       "Frobenius norm", lambda c: _nc3(c.data["W"], c.data["M"], 2)),
    _m("nc3_mean_instead_of_sum", "looks like the mean of the squared entries; NC3 is their sum",
       lambda c: _nc3(c.data["W"], c.data["M"]) / c.data["W"].size),
    _m("nc3_rows_normalised", "looks like each row was normalised; NC3 divides the whole matrices by their Frobenius "
       "norms", lambda c: _nc3_rows(c.data["W"], c.data["M"])),
    _m("nc3_rows_normalised", "looks like each row was normalised first; NC3 divides the whole matrices by their "
       "Frobenius norms, nothing else", lambda c: _nc3_rows(c.data["W"], c.data["M"]) / c.dims["C"]),
)


_VS_NETWORK = "NC4 compares the nearest-class-centre decision with the network's decision, not with the labels"


_NC4_VARIANTS = (
    _m("nc4_agreement_instead_of_mismatch", "looks like the fraction of samples where the two decisions agree; NC4 is "
       "the fraction where they differ", lambda c: 1.0 - _mismatch(c, "net", "ncc")),
    _m("nc4_bias_ignored", "looks like the bias b was left out of the network's decision argmax_c (w_c . h + b_c)",
       lambda c: _mismatch(c, "net_no_bias", "ncc")),
    _m("nc4_agreement_and_bias_ignored", "looks like the agreement rate with the bias left out; NC4 is the mismatch "
       "rate, with the bias in the network's decision", lambda c: 1.0 - _mismatch(c, "net_no_bias", "ncc")),
    _m("nc4_against_labels", "looks like the nearest-class-centre error against the true labels; " + _VS_NETWORK,
       lambda c: _mismatch(c, "labels", "ncc")),
    _m("nc4_against_labels", "looks like the nearest-class-centre accuracy against the true labels; " + _VS_NETWORK,
       lambda c: 1.0 - _mismatch(c, "labels", "ncc")),
    _m("nc4_against_labels", "looks like the network's error against the true labels; " + _VS_NETWORK,
       lambda c: _mismatch(c, "labels", "net")),
    _m("nc4_against_labels", "looks like the network's accuracy against the true labels; " + _VS_NETWORK,
       lambda c: 1.0 - _mismatch(c, "labels", "net")),
    _m("nc4_count_not_fraction", "looks like the number of mismatches; NC4 is their fraction (divide by N)",
       lambda c: _mismatch(c, "net", "ncc") * c.dims["N"]),
    _m("nc4_percentage", "looks like a percentage; NC4 is a fraction between 0 and 1",
       lambda c: 100.0 * _mismatch(c, "net", "ncc")),
    _m("nc4_ncc_centred_means", "looks like the nearest centred mean mu_c - mu_G; the nearest class centre is the "
       "nearest class mean mu_c", lambda c: _mismatch(c, "net", "ncc_centred")),
    _m("nc4_ncc_by_inner_product", "looks like the NCC decision was argmax_c h . mu_c; the nearest centre minimises "
       "the distance ||h - mu_c||", lambda c: _mismatch(c, "net", "ncc_inner")),
    _m("nc4_network_argmin", "looks like the network decision used the argmin of the logits; it is the argmax",
       lambda c: _mismatch(c, "net_argmin", "ncc")),
)


def _tpt_index(case: _Case, shift: int) -> Optional[int]:
    hit = np.flatnonzero(case.data["acc"] == 1.0)
    return int(hit[0]) + shift if hit.size else None


def _tpt_last(case: _Case) -> Optional[int]:
    hit = np.flatnonzero(case.data["acc"] == 1.0)
    return int(case.data["epochs"][hit[-1]]) if hit.size else None


def _tpt_final_streak(case: _Case) -> Optional[int]:
    """The first epoch from which training accuracy stays at 1.0 until the end (None if it ends below 1.0)."""
    below = np.flatnonzero(case.data["acc"] < 1.0)
    start = int(below[-1]) + 1 if below.size else 0
    return int(case.data["epochs"][start]) if start < len(case.data["epochs"]) else None


def _if_never(case: _Case, value: Callable[[], int]) -> Optional[int]:
    return int(value()) if case.data["expected"] is None else None


_TPT_VARIANTS = (
    _m("tpt_index_not_epoch", "looks like the position i of the first epoch at 1.0 in the arrays, not the epoch "
       "itself: return epochs[i]", lambda c: _tpt_index(c, 0)),
    _m("tpt_index_not_epoch", "looks like the position in the arrays plus one, which is the epoch only when every "
       "epoch from 1 on was measured (the paper measured at log-spaced epochs): return epochs[i]",
       lambda c: _tpt_index(c, 1)),
    _m("tpt_last_epoch_at_one", "looks like the last epoch with training accuracy 1.0; the terminal phase starts at the "
       "first one (a loop without `break`?)", _tpt_last),
    _m("tpt_start_of_last_streak", "looks like the epoch from which training accuracy stays at 1.0 until the end; the "
       "terminal phase starts at the first epoch with accuracy 1.0, even if a later epoch dips below it",
       _tpt_final_streak),
    _m("tpt_argmax_all_false", "training accuracy never reaches 1.0 here, so return None; you returned the first "
       "epoch, which is what epochs[np.argmax(train_acc == 1)] gives when no entry is True (np.argmax of an "
       "all-False array is 0): check that some epoch reaches 1.0 first",
       lambda c: _if_never(c, lambda: c.data["epochs"][0])),
    _m("tpt_not_none_when_never", "looks like the epoch of the highest training accuracy; here it never reaches 1.0, "
       "so there is no terminal phase: return None",
       lambda c: _if_never(c, lambda: c.data["epochs"][np.argmax(c.data["acc"])])),
    _m("tpt_not_none_when_never", "looks like the last measured epoch; training accuracy never reaches 1.0 here, so "
       "there is no terminal phase: return None", lambda c: _if_never(c, lambda: c.data["epochs"][-1])),
)


_HY = "H: (N, p) float64 features; y: (N,) int labels in 0..C-1 (every class occurs, in no particular order)."

_M = "M: (C, p) float64 centred class means, row c = mu_c - mu_G (mu_G the sample mean)."


def _ref_measure(attr: str) -> Callable[[_Case], float]:
    """The reference: an attribute of :func:`ncedu.measure` on the case's data."""

    def ref(case: _Case) -> float:
        d = case.data
        return getattr(measure(d["H"], d["y"], d.get("W"), d.get("b")), attr)

    return ref


def foundation_exercises() -> list[Exercise]:
    """The exercises of chapters 1–6, in chapter order."""
    def hy(case: _Case) -> tuple[np.ndarray, np.ndarray]:
        return case.data["H"], case.data["y"]

    exercises = [
        Exercise(
            name="class_means",
            signature="class_means(H, y) -> array of shape (C, p)",
            description="Row c is the mean mu_c of the features of class c. " + _HY,
            arg_names=("H", "y"),
            make_cases=_labelled_cases,
            shape=("C", "p"),
            reference=lambda c: _class_means(*hy(c)),
            variants=_CLASS_MEANS_VARIANTS,
            properties=(_rows_permuted,),
            shape_hints=(
                _ShapeHint(("C",), "wrong_shape", "one number per class, but each class mean is a vector of p numbers"),
                _ShapeHint(("p",), "wrong_shape", "that is a single mean vector; return one row per class"),
            ),
            other_codes=("transposed", "class_means_wrong_order"),
        ),
        Exercise(
            name="global_mean",
            signature="global_mean(H, y) -> array of shape (p,)   [global_mean(H) is accepted too]",
            description="The global mean mu_G = (1/N) sum_i h_i of all N samples. " + _HY,
            arg_names=("H", "y"),
            make_cases=_labelled_cases,
            shape=("p",),
            reference=lambda c: _global_mean(c.data["H"]),
            variants=_GLOBAL_MEAN_VARIANTS,
            shape_hints=(
                _ShapeHint(("N",), "wrong_axis", "that is one number per sample: average over the samples (axis=0)"),
                _ShapeHint((1, "p"), "wrong_shape", "return a 1-D array (drop keepdims=True, or take row 0)"),
                _ShapeHint(("C", "p"), "wrong_shape", "that looks like one mean per class; mu_G is a single vector"),
            ),
            optional_args=1,
        ),
        Exercise(
            name="within_class_covariance",
            signature="within_class_covariance(H, y) -> array of shape (p, p)",
            description="Sigma_W = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T, centred at each sample's class "
                        "mean. " + _HY,
            arg_names=("H", "y"),
            make_cases=_labelled_cases,
            shape=("p", "p"),
            reference=lambda c: _within_class_covariance(*hy(c)),
            variants=_SIGMA_W_VARIANTS,
            properties=(_symmetric("a covariance matrix"), _psd),
            shape_hints=(_ShapeHint(("N", "N"), "outer_product_transposed", "that is R R^T, one entry per pair of "
                                    "samples; the covariance is R^T R / N, one entry per pair of feature dimensions"),),
            other_codes=("not_symmetric",),
        ),
        Exercise(
            name="between_class_covariance",
            signature="between_class_covariance(H, y) -> array of shape (p, p)",
            description="Sigma_B = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T with mu_G the global (sample) mean. " + _HY,
            arg_names=("H", "y"),
            make_cases=_labelled_cases,
            shape=("p", "p"),
            reference=lambda c: _between_class_covariance(*hy(c)),
            variants=_SIGMA_B_VARIANTS,
            properties=(_symmetric("a covariance matrix"), _psd),
            shape_hints=(_ShapeHint(("C", "C"), "outer_product_transposed", "that is M M^T, one entry per pair of "
                                    "classes; Sigma_B is M^T M / C, one entry per pair of feature dimensions"),),
            other_codes=("not_symmetric",),
        ),
        Exercise(
            name="nc1",
            signature="nc1(H, y) -> float",
            description="NC1 = Tr(Sigma_W Sigma_B^+) / C, with Sigma_B^+ the Moore-Penrose pseudo-inverse. " + _HY,
            arg_names=("H", "y"),
            make_cases=_nc1_cases,
            reference=_ref_measure("nc1"),
            variants=_NC1_VARIANTS,
            diagnose=_nc1_diagnose,
            properties=(_non_negative("NC1"),),
            shape_hints=(_ShapeHint(("p", "p"), "wrong_shape", "a matrix, but NC1 is a trace divided by C"),),
            explain_error=_nc1_error,
            other_codes=("nc1_plain_inverse", "nc1_fixed_rank"),
        ),
        Exercise(
            name="etf_gram",
            signature="etf_gram(C) -> array of shape (C, C)",
            description="The Gram matrix V V^T of a simplex ETF of C unit vectors (C: int >= 2).",
            arg_names=("C",),
            make_cases=_etf_gram_cases,
            shape=("C", "C"),
            reference=lambda c: _etf_gram(c.dims["C"]),
            variants=_ETF_GRAM_VARIANTS,
            properties=(_symmetric("a Gram matrix"), _unit_diagonal, _constant_offdiagonal),
            other_codes=("etf_gram_offdiagonal_not_constant", "not_symmetric"),
        ),
        Exercise(
            name="simplex_etf",
            signature="simplex_etf(C, p) -> array of shape (C, p)",
            description="C unit vectors in R^p (p >= C - 1), one per row, with every pairwise cosine -1/(C-1); any "
                        "rotation is accepted. C, p: ints.",
            arg_names=("C", "p"),
            make_cases=_simplex_cases,
            shape=("C", "p"),
            judge=_judge_simplex_etf,
            shape_hints=(_ShapeHint(("C", "C"), "wrong_shape", "C columns, but the frame lives in R^p: p columns"),),
            other_codes=("etf_rows_not_unit", "etf_not_centred", "etf_not_equiangular", "transposed"),
        ),
        Exercise(
            name="nc2_equinorm",
            signature="nc2_equinorm(M) -> float",
            description="std_c ||M_c|| / mean_c ||M_c|| over the rows of M, with the unbiased std (ddof=1). " + _M,
            arg_names=("M",),
            make_cases=_means_cases,
            reference=_ref_measure("nc2_equinorm_means"),
            variants=_EQUINORM_VARIANTS,
            properties=(_non_negative("a standard deviation over a mean of norms"),),
            shape_hints=(_ShapeHint(("C",), "wrong_shape", "one value per class; combine them into a single number"),),
        ),
        Exercise(
            name="nc2_equiangularity",
            signature="nc2_equiangularity(M) -> float",
            description="The unbiased std (ddof=1) of cos(M_c, M_c') over the C(C-1)/2 pairs c < c'. " + _M
                        + " Here C >= 3.",
            arg_names=("M",),
            make_cases=lambda: _means_cases(min_classes=3),
            reference=_ref_measure("nc2_equiangular_means"),
            variants=_EQUIANGULARITY_VARIANTS,
            properties=(_non_negative("a standard deviation"),),
            shape_hints=(_ShapeHint(("C", "C"), "wrong_shape", "the matrix of cosines; return the std over the pairs "
                                    "c < c'"),),
        ),
        Exercise(
            name="nc3",
            signature="nc3(W, M) -> float",
            description="NC3 = || W/||W||_F - M/||M||_F ||_F^2. W: (C, p) float64 classifier, one row w_c per class. "
                        + _M,
            arg_names=("W", "M"),
            make_cases=_nc3_cases,
            reference=_ref_measure("nc3"),
            variants=_NC3_VARIANTS,
            properties=(_non_negative("a squared distance"),),
            shape_hints=(_ShapeHint(("C", "p"), "wrong_shape", "that is the difference matrix; NC3 is the sum of its "
                                    "squared entries"),),
        ),
        Exercise(
            name="nc4",
            signature="nc4(H, y, W, b) -> float",
            description="The fraction of samples whose network decision argmax_c (w_c . h + b_c) differs from the "
                        "nearest-class-centre decision argmin_c ||h - mu_c||. " + _HY
                        + " W: (C, p) float64, one row per class; b: (C,) float64.",
            arg_names=("H", "y", "W", "b"),
            make_cases=_nc4_cases,
            reference=_ref_measure("nc4"),
            variants=_NC4_VARIANTS,
            properties=(_fraction,),
            shape_hints=(_ShapeHint(("N",), "wrong_shape", "one value per sample; NC4 is the fraction of samples where "
                                    "the decisions differ"),),
        ),
        Exercise(
            name="terminal_phase_start",
            signature="terminal_phase_start(epochs, train_acc) -> int or None",
            description="The first measured epoch at which the training accuracy is 1.0 (zero training error), or "
                        "None if there is none. epochs: (E,) int array of the measured epochs, strictly increasing "
                        "(as history['epoch']); train_acc: (E,) float array, the training accuracy at each, a "
                        "fraction in [0, 1] (as history['train_acc']).",
            arg_names=("epochs", "train_acc"),
            make_cases=_tpt_cases,
            reference=lambda c: c.data["expected"],
            variants=_TPT_VARIANTS,
            judge_raw=_judge_terminal_phase,
            other_codes=("tpt_threshold_below_one", "tpt_not_first", "not_a_measured_epoch"),
        ),
    ]
    return exercises
