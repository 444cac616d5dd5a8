"""Evaluation that every family can share: chunked application over a split, and scores in a
feature classifier's space. Evaluators compute; they never train."""
