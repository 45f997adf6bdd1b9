"""Accuracy metrics for test-time scaling: pass@k, avg@N and best-of-n selection.

Every problem has ``N`` sampled completions, described by three parallel arrays:

* ``labels``: answer-cluster id per completion (int >= 0; completions whose final answers are
  equivalent share an id). ``-1`` means "no answer extracted".
* ``correct``: correctness per completion. It must be equal for all members of a cluster, and a
  ``-1`` completion is always incorrect (both are validated, a violation raises ``ValueError``).
* ``scores``: aggregated PRM score per completion; NaN (or ``None`` for the whole array) when no
  PRM was used. Only ``naive`` and ``weighted`` need scores, and they need finite ones.

Selection methods on a subset of the completions:

* ``naive``: the completion with the highest score is chosen ("pick the highest scored
  completion"). A ``-1`` completion CAN be the top-scored one; the subset then scores 0. Scores
  are compared exactly (no arithmetic is involved).
* ``weighted``: scores are summed per answer label (``-1`` excluded); the largest sum wins. Sums
  whose difference is within floating-point rounding (``WEIGHTED_TIE_RTOL`` times the sum of the
  absolute scores in the subset) count as tied, so a result never depends on summation order.
* ``maj``: the most frequent label (``-1`` excluded) wins.

``-1`` completions never vote and never win ``weighted``/``maj``; a subset without a voting
completion scores 0. Ties are broken uniformly at random and the EXPECTED accuracy is reported: a
subset scores (tied winners that are correct) / (tied winners), where the tied winners are labels
for ``weighted``/``maj`` and completions for ``naive``. Each subset's value is therefore a
deterministic function of the subset.

The metric at size ``n`` is the distribution of that value over subsets of size ``n``:

* ``mode="random"`` (default): subsets drawn uniformly without replacement; the mean and the
  (population, ``ddof=0``) std across subsets are reported.

  - ``naive``: exact closed form for every ``n`` (mean AND std): the probability that the top
    score level of a random ``n``-subset is a given level, with ``j`` of its members drawn, is
    ``C(m, j) C(below, n - j) / C(N, n)``; the correct count among those ``j`` is
    hypergeometric. ``draws`` and ``seed`` are not used.
  - ``weighted``/``maj``: exact enumeration of all subsets when ``C(N, n) <= draws`` (and always
    for ``n == 1``, where the ``N`` singletons are enumerated); otherwise Monte Carlo over
    ``draws`` random subsets, vectorised as a ``draws x n`` index matrix with bincount tallies.
    Subset ``r`` of size ``n`` is the first ``n`` entries of random permutation ``r``, so the
    Monte Carlo subsets are nested across sizes and shared by both methods (common random
    numbers: smoother curves, same estimator variance at each ``n``), and
    :func:`problem_metrics` extends its tallies incrementally from one size to the next.

* ``mode="prefix"``: only ``completions[:n]`` is used (the compatibility mode of the
  search-and-learn repository, except that ties use the expected value, not the first index);
  the std is 0.

The permutations derive only from ``seed`` in :func:`subset_accuracy` and from ``(seed, key)`` in
:func:`problem_metrics` (``key``: problem index or id), so a problem's result never depends on
evaluation order, on the other problems, or on which other sizes were computed.
"""

from ttscale.metrics.accuracy import (
    Method,
    Mode,
    aggregate,
    coverage,
    problem_metrics,
    subset_accuracy,
)
from ttscale.metrics.counting import (
    auc,
    avg_at_n,
    g_pass_at_k,
    mg_pass_at_k,
    pass_at_k,
    powers_of_two,
)
from ttscale.metrics.problem import METHODS, MODES
from ttscale.metrics.values import WEIGHTED_TIE_RTOL

__all__ = [
    "METHODS",
    "MODES",
    "WEIGHTED_TIE_RTOL",
    "Method",
    "Mode",
    "aggregate",
    "auc",
    "avg_at_n",
    "coverage",
    "g_pass_at_k",
    "mg_pass_at_k",
    "pass_at_k",
    "powers_of_two",
    "problem_metrics",
    "subset_accuracy",
]
