"""The learn half: training the toy world's policy and PRM (and, later, any PRM)."""
