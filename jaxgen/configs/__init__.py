"""Config builders that the experiment files share: the common keys and every family's blocks.

An experiment file (`experiments/NAME.py`) spells out its recipe with these: `base_config` for
the keys every run has, a family's `*_config` for its task, model and objective blocks, and the
family's `*_smoke` for the seconds-long preset the tests run.
"""
