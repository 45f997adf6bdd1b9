"""Tests for ttscale.metrics against brute-force enumeration of all subsets."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ttscale.metrics import (
    aggregate,
    avg_at_n,
    pass_at_k,
    powers_of_two,
    problem_metrics,
    subset_accuracy,
)

METHODS = ("naive", "weighted", "maj")


# --------------------------------------------------------------------------------------------
# Brute-force reference (plain Python, exact arithmetic on dyadic scores)
# --------------------------------------------------------------------------------------------


def brute_value(labels, correct, scores, subset, method, tie="expected"):
    """Accuracy of one subset; tie='first' is a deliberately WRONG variant (first winner)."""
    sub = list(subset)
    if method == "naive":
        top = max(scores[i] for i in sub)
        tied = [i for i in sub if scores[i] == top]
        if tie == "first":
            tied = tied[:1]
        return sum(bool(correct[i]) for i in tied) / len(tied)
    tally: dict[int, float] = {}
    for i in sub:
        if labels[i] < 0:
            continue
        tally[labels[i]] = tally.get(labels[i], 0) + (1 if method == "maj" else scores[i])
    if not tally:
        return 0.0
    best = max(tally.values())
    winners = sorted(lab for lab, v in tally.items() if v == best)
    if tie == "first":
        winners = winners[:1]
    label_ok = {labels[i]: bool(correct[i]) for i in range(len(labels))}
    return sum(label_ok[lab] for lab in winners) / len(winners)


def brute(labels, correct, scores, n, method, tie="expected"):
    vals = [
        brute_value(labels, correct, scores, s, method, tie)
        for s in itertools.combinations(range(len(labels)), n)
    ]
    mean = sum(vals) / len(vals)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals))
    return mean, std


def random_case(rng, size, *, n_labels=None, none_frac=0.2, signed=False, continuous=False):
    """Labels with -1s and vote ties, cluster-consistent correctness, tied dyadic scores."""
    k = n_labels or int(rng.integers(1, 5))
    labels = rng.integers(0, k, size)
    labels[rng.random(size) < none_frac] = -1
    label_ok = rng.random(k) < 0.45
    correct = np.array([lab >= 0 and bool(label_ok[lab]) for lab in labels])
    if continuous:
        scores = rng.random(size)
    else:
        low = -2 if signed else 0
        scores = rng.integers(low, 5, size) / 4.0  # few values -> many exact score ties
    return labels.tolist(), correct.tolist(), scores.tolist()


# --------------------------------------------------------------------------------------------
# pass@k, avg@N, powers_of_two
# --------------------------------------------------------------------------------------------


def test_pass_at_k_matches_bruteforce():
    for n in range(1, 10):
        for c in range(n + 1):
            correct = [True] * c + [False] * (n - c)
            for k in range(1, n + 1):
                subsets = list(itertools.combinations(range(n), k))
                expected = sum(any(correct[i] for i in s) for s in subsets) / len(subsets)
                assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12), (n, c, k)


def test_pass_at_k_large_n_is_stable():
    # 1 - C(n-1, k)/C(n, k) = k/n; the naive ratio of binomials overflows float here.
    assert pass_at_k(5000, 1, 2500) == pytest.approx(0.5, abs=1e-12)
    assert pass_at_k(5000, 3, 1) == pytest.approx(3 / 5000, rel=1e-12)
    assert pass_at_k(256, 0, 256) == 0.0
    assert pass_at_k(256, 256, 1) == 1.0


@pytest.mark.parametrize(
    ("args", "name"),
    [((5, 1, 0), "k"), ((5, 1, 6), "k"), ((5, -1, 2), "c"), ((5, 6, 2), "c"), ((0, 0, 1), "n")],
)
def test_pass_at_k_errors_name_argument(args, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        pass_at_k(*args)


def test_avg_at_n():
    assert avg_at_n([True, False, False, True, False]) == pytest.approx(0.4)
    assert avg_at_n(np.array([0, 1, 1, 1])) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        avg_at_n([])
    with pytest.raises(ValueError):
        avg_at_n([0, 2])


def test_powers_of_two():
    assert powers_of_two(1) == [1]
    assert powers_of_two(2) == [1, 2]
    assert powers_of_two(8) == [1, 2, 4, 8]
    assert powers_of_two(12) == [1, 2, 4, 8, 12]
    assert powers_of_two(256) == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    with pytest.raises(ValueError, match="N must"):
        powers_of_two(0)


# --------------------------------------------------------------------------------------------
# Selection metrics vs brute force
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case_seed", range(30))
def test_random_mode_matches_bruteforce_small(case_seed):
    """N <= 8: C(N, n) <= 70 <= draws, so maj/weighted enumerate; naive is closed form."""
    rng = np.random.default_rng(case_seed)
    size = int(rng.integers(1, 9))
    labels, correct, scores = random_case(rng, size, signed=case_seed % 3 == 0)
    for n in range(1, size + 1):
        for method in METHODS:
            got = subset_accuracy(labels, correct, scores, n, method, draws=100, seed=case_seed)
            want = brute(labels, correct, scores, n, method)
            assert got == pytest.approx(want, abs=1e-12), (method, n, labels, correct, scores)


@pytest.mark.parametrize("case_seed", range(8))
def test_filtered_vote_matches_bruteforce(case_seed):
    """DeepConf's offline vote: per subset, the top ceil(keep*n) by score (ties: the earlier
    completion) vote, weighted by score. Enumerated exactly here (C(N, n) <= draws)."""
    rng = np.random.default_rng(300 + case_seed)
    size = int(rng.integers(1, 9))
    labels, correct, scores = random_case(rng, size, continuous=case_seed % 2 == 0)
    for keep in (0.1, 0.5, 0.9, 1.0):
        for n in range(1, size + 1):
            vals = []
            for sub in itertools.combinations(range(size), n):
                m = max(1, math.ceil(keep * n - 1e-9))
                top = sorted(sub, key=lambda i: (-scores[i], i))[:m]
                vals.append(brute_value(labels, correct, scores, top, "weighted"))
            want = sum(vals) / len(vals)
            got, _ = subset_accuracy(labels, correct, scores, n, "filtered", draws=100, keep=keep)
            assert got == pytest.approx(want, abs=1e-12), (keep, n)
            per = problem_metrics(labels, correct, scores, ns=[n], methods=("filtered",),
                                  keep=keep, draws=100)  # fmt: skip
            assert per[f"filtered@{n}"] == pytest.approx(want, abs=1e-12)
    # keep=1 is the weighted vote
    for n in range(1, size + 1):
        full = subset_accuracy(labels, correct, scores, n, "filtered", draws=100)
        assert full == pytest.approx(subset_accuracy(labels, correct, scores, n, "weighted"))


@pytest.mark.parametrize("case_seed", range(6))
def test_naive_closed_form_matches_bruteforce_larger(case_seed):
    """The naive closed form does not enumerate: check mean AND std at every n for N = 13."""
    rng = np.random.default_rng(100 + case_seed)
    labels, correct, scores = random_case(rng, 13, n_labels=3, none_frac=0.3)
    for n in range(1, 14):
        got = subset_accuracy(labels, correct, scores, n, "naive", draws=1)
        assert got == pytest.approx(brute(labels, correct, scores, n, "naive"), abs=1e-10), n


def test_continuous_scores_match_bruteforce():
    rng = np.random.default_rng(7)
    labels, correct, scores = random_case(rng, 8, n_labels=3, continuous=True)
    for n in range(1, 9):
        for method in METHODS:
            got = subset_accuracy(labels, correct, scores, n, method)
            assert got == pytest.approx(brute(labels, correct, scores, n, method), abs=1e-12)


def test_hand_computed_ties_and_no_answer():
    labels = [-1, 0, 1]
    correct = [False, True, False]
    scores = [0.9, 0.5, 0.5]
    # naive: the -1 completion is top-scored in every subset containing it.
    # {-1,0}:0  {-1,1}:0  {0,1}: tie 0.5 -> 1/2
    assert subset_accuracy(labels, correct, scores, 2, "naive") == pytest.approx(
        (1 / 6, math.sqrt(1 / 18))
    )
    # maj: {-1,0}:1  {-1,1}:0  {0,1}: vote tie -> 1/2
    assert subset_accuracy(labels, correct, scores, 2, "maj")[0] == pytest.approx(0.5)
    # -1 never wins: a subset of only -1 completions scores 0.
    assert subset_accuracy([-1, -1], [False, False], [1.0, 1.0], 2, "maj") == (0.0, 0.0)
    assert subset_accuracy([-1, -1], [False, False], [1.0, 1.0], 1, "weighted") == (0.0, 0.0)


def test_weighted_absent_label_never_wins_with_negative_scores():
    # All sums negative: an absent label (implicit sum 0) must not be picked.
    labels, correct, scores = [0, 1, 2], [True, False, False], [-1.0, -2.0, -3.0]
    assert subset_accuracy(labels, correct, scores, 2, "weighted") == pytest.approx(
        (2 / 3, math.sqrt(2) / 3)
    )


def test_weighted_rounding_ties_are_ties():
    # 0.1 + 0.2 != 0.3 in floating point, yet the sums are mathematically tied.
    got = subset_accuracy([0, 0, 1], [True, True, False], [0.1, 0.2, 0.3], 3, "weighted")
    assert got == (0.5, 0.0)
    got = subset_accuracy([0, 0, 1], [True, True, False], [0.1, 0.2, 0.31], 3, "weighted")
    assert got == (0.0, 0.0)


def test_prefix_mode_uses_only_first_n():
    rng = np.random.default_rng(3)
    for _ in range(10):
        labels, correct, scores = random_case(rng, 8, n_labels=3)
        for n in range(1, 9):
            for method in METHODS:
                want = brute_value(labels, correct, scores, range(n), method)
                got = subset_accuracy(labels, correct, scores, n, method, mode="prefix")
                assert got == (pytest.approx(want, abs=1e-12), 0.0)
        # completions after the prefix are irrelevant
        tail = (labels[:4] + [-1] * 4, correct[:4] + [False] * 4, scores[:4] + [9.0] * 4)
        for method in METHODS:
            assert subset_accuracy(
                labels, correct, scores, 4, method, mode="prefix"
            ) == subset_accuracy(*tail, 4, method, mode="prefix")


def test_prefix_differs_from_random():
    labels, correct, scores = [1, 0, 0, 0], [False, True, True, True], [1.0, 0.0, 0.0, 0.0]
    assert subset_accuracy(labels, correct, scores, 1, "maj", mode="prefix") == (0.0, 0.0)
    assert subset_accuracy(labels, correct, scores, 1, "maj")[0] == pytest.approx(0.75)
    pre = problem_metrics(labels, correct, scores, ns=[1, 2], mode="prefix")
    assert pre == {
        "naive@1": 0.0, "weighted@1": 0.0, "maj@1": 0.0, "pass@1": 0.0,
        "naive@2": 0.0, "weighted@2": 0.0, "maj@2": 0.5, "pass@2": 1.0, "avg@4": 0.75,
    }  # fmt: skip


# --------------------------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------------------------


def mc_case():
    # Equal-size clusters -> frequent vote ties; many -1 with high scores; dyadic scores.
    labels = [0] * 5 + [1] * 5 + [2] * 3 + [-1] * 3
    correct = [True] * 5 + [False] * 11
    scores = [0.5, 0.25, 0.75, 0.25, 0.5] + [0.75, 0.5, 0.25, 0.25, 0.5] + [1.0] * 3
    scores += [0.75, 1.0, 0.5]
    return labels, correct, scores


@pytest.mark.parametrize("method", ["maj", "weighted"])
def test_monte_carlo_close_to_exact(method):
    labels, correct, scores = mc_case()
    n, draws = 8, 12000  # C(16, 8) = 12870 > draws -> Monte Carlo
    exact_mean, exact_std = brute(labels, correct, scores, n, method)
    wrong_mean, _ = brute(labels, correct, scores, n, method, tie="first")
    tol = 4.5 * exact_std / math.sqrt(draws)  # ~4.5 standard errors, about 0.02
    # The tolerance is tight enough to reject first-winner tie-breaking and the prefix value.
    assert abs(wrong_mean - exact_mean) > 2 * tol
    prefix = brute_value(labels, correct, scores, range(n), method)
    assert abs(prefix - exact_mean) > 2 * tol
    mean, std = subset_accuracy(labels, correct, scores, n, method, draws=draws, seed=1)
    assert mean != exact_mean  # really Monte Carlo
    assert abs(mean - exact_mean) < tol
    assert abs(std - exact_std) < 0.02
    # Exact enumeration kicks in once draws >= C(N, n).
    got = subset_accuracy(labels, correct, scores, n, method, draws=12870)
    assert got == pytest.approx((exact_mean, exact_std), abs=1e-12)


def test_monte_carlo_small_n_matches_enumeration():
    rng = np.random.default_rng(11)
    labels, correct, scores = random_case(rng, 12, n_labels=4, none_frac=0.25)
    for method in ("maj", "weighted"):
        exact_mean, exact_std = brute(labels, correct, scores, 2, method)  # 66 subsets
        mean, _ = subset_accuracy(labels, correct, scores, 2, method, draws=65, seed=0)
        assert mean != pytest.approx(exact_mean, abs=1e-12)  # 65 < 66 -> sampled
        mean, _ = subset_accuracy(labels, correct, scores, 2, method, draws=20000, seed=0)
        assert mean == pytest.approx(exact_mean, abs=1e-12)  # 66 <= draws -> enumerated
        # n=1 is always exact, whatever draws is.
        assert subset_accuracy(labels, correct, scores, 1, method, draws=1) == pytest.approx(
            brute(labels, correct, scores, 1, method), abs=1e-12
        )


def test_monte_carlo_is_deterministic_and_seeded():
    labels, correct, scores = mc_case()
    a = subset_accuracy(labels, correct, scores, 6, "maj", draws=50, seed=4)
    assert a == subset_accuracy(labels, correct, scores, 6, "maj", draws=50, seed=4)
    assert a != subset_accuracy(labels, correct, scores, 6, "maj", draws=50, seed=5)
    # seed (0,) differs from (0, 0): no collision from trailing zero words
    b = subset_accuracy(labels, correct, scores, 6, "maj", draws=50, seed=(0,))
    assert b != subset_accuracy(labels, correct, scores, 6, "maj", draws=50, seed=(0, 0))


def test_problem_rng_derives_from_seed_and_key():
    rng = np.random.default_rng(5)
    cases = [random_case(rng, 16, n_labels=3) for _ in range(4)]
    kw = {"ns": [4, 8], "draws": 30, "seed": 9}
    forward = [problem_metrics(*c, key=i, **kw) for i, c in enumerate(cases)]
    backward = [problem_metrics(*cases[i], key=i, **kw) for i in reversed(range(4))][::-1]
    assert forward == backward
    for key, res in enumerate(forward):
        for method in ("maj", "weighted"):
            want = subset_accuracy(*cases[key], 8, method, draws=30, seed=(9, key))
            assert res[f"{method}@8"] == want[0]
    same = problem_metrics(*cases[0], key=0, **kw)
    other_key = problem_metrics(*cases[0], key=1, **kw)
    assert same == forward[0]
    assert same["maj@8"] != other_key["maj@8"]
    assert problem_metrics(*cases[0], key="p0", **kw) == problem_metrics(*cases[0], key="p0", **kw)


def test_problem_metrics_size_independent_and_matches_subset_accuracy():
    """Incremental tallies over nested sizes == fresh per-size computation."""
    rng = np.random.default_rng(8)
    labels, correct, scores = random_case(rng, 16, n_labels=4, none_frac=0.3)
    full = problem_metrics(labels, correct, scores, ns=range(1, 17), draws=40, seed=2, key=7)
    for n in (3, 8, 13):
        alone = problem_metrics(labels, correct, scores, ns=[n], draws=40, seed=2, key=7)
        assert {k: full[k] for k in alone} == alone
    for n in range(1, 17):
        for method in METHODS:
            want = subset_accuracy(labels, correct, scores, n, method, draws=40, seed=(2, 7))
            assert full[f"{method}@{n}"] == pytest.approx(want[0], abs=1e-12), (method, n)
    # maj at n=15, N=16: C(16, 15) = 16 <= 40 -> enumerated exactly
    assert full["maj@15"] == pytest.approx(brute(labels, correct, scores, 15, "maj")[0])


def test_problem_metrics_no_answers_and_method_order():
    res = problem_metrics([-1] * 5, [False] * 5, [0.5] * 5, ns=[2, 3], methods=("maj", "naive"))
    g = ["g-pass@{n}_0.5", "g-pass@{n}_0.75", "g-pass@{n}_1", "mg-pass@{n}"]
    want = [k.format(n=n) for n in (2, 3) for k in ["maj@{n}", "naive@{n}", "pass@{n}", *g]]
    assert list(res) == [*want, "avg@5"]
    assert all(v == 0.0 for v in res.values())


# --------------------------------------------------------------------------------------------
# problem_metrics / aggregate
# --------------------------------------------------------------------------------------------


def test_problem_metrics_matches_bruteforce():
    rng = np.random.default_rng(21)
    labels, correct, scores = random_case(rng, 6, n_labels=3)
    res = problem_metrics(labels, correct, scores, draws=100)
    g = ("g-pass@{n}_0.5", "g-pass@{n}_0.75", "g-pass@{n}_1", "mg-pass@{n}")

    def keys(n):
        return [f"{k}@{n}" for k in (*METHODS, "pass")] + [x.format(n=n) for x in g]

    assert list(res) == [k for n in (1, 2, 4, 6) for k in keys(n)] + ["avg@6"]
    c = sum(correct)
    for n in (1, 2, 4, 6):
        for method in METHODS:
            assert res[f"{method}@{n}"] == pytest.approx(
                brute(labels, correct, scores, n, method)[0], abs=1e-12
            )
        assert res[f"pass@{n}"] == pytest.approx(pass_at_k(6, c, n))
    assert res["avg@6"] == pytest.approx(c / 6)
    pre = problem_metrics(labels, correct, scores, ns=[3], mode="prefix")
    assert pre["pass@3"] == float(any(correct[:3]))
    assert pre["maj@3"] == brute_value(labels, correct, scores, range(3), "maj")


def test_problem_metrics_maj_only_without_scores():
    labels, correct = [0, 0, 1, -1], [True, True, False, False]
    for scores in (None, [float("nan")] * 4):
        res = problem_metrics(labels, correct, scores, methods=("maj",), ns=[2])
        assert {k for k in res if "g-pass" not in k} == {"maj@2", "pass@2", "avg@4"}
        assert res["maj@2"] == pytest.approx(brute(labels, correct, None, 2, "maj")[0])
        with pytest.raises(ValueError, match="PRM"):
            problem_metrics(labels, correct, scores, ns=[2])
        with pytest.raises(ValueError, match="PRM"):
            problem_metrics(labels, correct, scores, ns=[2], methods=("weighted",))
    with pytest.raises(ValueError, match="finite"):
        problem_metrics(labels, correct, [0.1, float("nan"), 0.2, 0.3], methods=("weighted",))


def test_aggregate():
    a = {"maj@1": 1.0, "pass@1": 0.5, "avg@2": 0.5}
    b = {"maj@1": 0.0, "pass@1": 1.0, "avg@2": 0.0}
    assert aggregate([a, b]) == {"maj@1": 0.5, "pass@1": 0.75, "avg@2": 0.25}
    c = {"maj@1": 0.5, "avg@4": 0.5}
    with pytest.raises(ValueError, match="differ"):
        aggregate([a, c])
    assert aggregate([a, c], missing="drop") == {"maj@1": 0.75}
    with pytest.raises(ValueError):
        aggregate([])


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_score_errors():
    labels, correct = [0, 1], [True, False]
    for method in ("naive", "weighted"):
        with pytest.raises(ValueError, match="no PRM scores"):
            subset_accuracy(labels, correct, [float("nan")] * 2, 1, method)
        with pytest.raises(ValueError, match="PRM"):
            subset_accuracy(labels, correct, None, 1, method)
        with pytest.raises(ValueError, match="finite"):
            subset_accuracy(labels, correct, [0.5, float("nan")], 1, method)
    # maj ignores scores entirely
    assert subset_accuracy(labels, correct, None, 2, "maj") == (0.5, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, "n must"),
        ({"n": 4}, "n must"),
        ({"method": "best"}, "method"),
        ({"mode": "first"}, "mode"),
        ({"draws": 0}, "draws"),
        ({"labels": [0, 1, -2]}, "labels"),
        ({"labels": [0.0, 1.0, 1.0]}, "labels"),
        ({"correct": [True, False]}, "length"),
        ({"correct": [True, False, True]}, "cluster"),
        ({"labels": [0, -1, 1], "correct": [False, True, False]}, "-1"),
        ({"scores": [0.1, 0.2]}, "shape"),
        ({"seed": -1}, "seed"),
    ],
)
def test_input_errors(kwargs, match):
    args = {
        "labels": [0, 1, 1],
        "correct": [True, False, False],
        "scores": [0.1, 0.2, 0.3],
        "n": 2,
        "method": "maj",
    }
    args.update(kwargs)
    extra = {k: args.pop(k) for k in ("mode", "draws", "seed") if k in args}
    with pytest.raises(ValueError, match=match):
        subset_accuracy(
            args["labels"], args["correct"], args["scores"], args["n"], args["method"], **extra
        )


def test_auc_against_brute_force():
    import itertools

    from ttscale.metrics import auc

    rng = np.random.default_rng(0)
    for _ in range(50):
        k = int(rng.integers(2, 9))
        scores = rng.integers(0, 4, size=k).astype(float)  # many ties
        pos = rng.random(k) < 0.5
        wins = [
            1.0 if a > b else 0.5 if a == b else 0.0
            for (a, pa), (b, pb) in itertools.product(zip(scores, pos), repeat=2)
            if pa and not pb
        ]
        expected = sum(wins) / len(wins) if wins else float("nan")
        got = auc(scores, pos)
        assert (np.isnan(got) and np.isnan(expected)) or got == pytest.approx(expected)


def test_g_pass_at_k_matches_bruteforce():
    """G-Pass@k_tau: the share of k-subsets with at least ceil(tau * k) correct samples."""
    from ttscale.metrics import g_pass_at_k, mg_pass_at_k

    for n in range(1, 9):
        for c in range(n + 1):
            correct = [True] * c + [False] * (n - c)
            for k in range(1, n + 1):
                subsets = list(itertools.combinations(range(n), k))
                hits = [sum(correct[i] for i in s) for s in subsets]
                for tau in (0.25, 0.5, 0.75, 1.0):
                    need = math.ceil(tau * k)
                    want = sum(h >= need for h in hits) / len(subsets)
                    assert g_pass_at_k(n, c, k, tau) == pytest.approx(want, abs=1e-12)
                taus = [i / k for i in range(math.ceil(k / 2) + 1, k + 1)]  # lighteval's sum
                want = 2 / k * sum(sum(h >= math.ceil(t * k - 1e-12) for h in hits)
                                   / len(subsets) for t in taus)  # fmt: skip
                assert mg_pass_at_k(n, c, k) == pytest.approx(want, abs=1e-12), (n, c, k)
    # tau small: pass@k; tau = 1 at k = n: all right
    assert g_pass_at_k(8, 3, 4, 0.01) == pytest.approx(pass_at_k(8, 3, 4))
    assert g_pass_at_k(5, 4, 5, 1.0) == 0.0 and g_pass_at_k(5, 5, 5, 1.0) == 1.0
    m = problem_metrics([0, 0, 1, 1], [True, True, False, False], ns=[2], methods=("maj",))
    assert m["g-pass@2_1"] == pytest.approx(1 / 6) and m["g-pass@2_0.5"] == pytest.approx(5 / 6)
