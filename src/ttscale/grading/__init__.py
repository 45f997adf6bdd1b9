"""The one grading path: answer extraction, math-verify in killable workers, clusters, votes.

:class:`Grader` (``grader``) runs math-verify in a worker pool (``pool``) with a verdict
cache (``cache``); ``answers`` extracts and normalises, ``plurality`` is the one vote.
"""

from ttscale.grading.answers import answer_key, extract_answer, normalize_answer
from ttscale.grading.grader import Grader, GraderStats, grade_answers

__all__ = [
    "Grader",
    "GraderStats",
    "answer_key",
    "extract_answer",
    "grade_answers",
    "normalize_answer",
]
