"""Config blocks of a comparison (task comparison, families/comparison/task.py): several
experiments' models trained side by side in one run, on one data set, for one step budget.

A comparison's config holds the keys every member shares (data set, seed, steps, batch size,
preprocessing, the sample counts of the report) once, at the top, and under `members` each
member's own recipe (its task, model, objective, learning rates) without them, so that
`config.json` says once what the members share and `--config.steps=N` reaches all of them.
"""

from __future__ import annotations

import ml_collections

from jaxgen.families.enumerated import SUBCONFIG
from jaxgen.train.base_config import COMMON_DEFAULTS, base_config

# The members' recipes keep these common keys: they are part of how each model trains.
RECIPE_KEYS = frozenset({"learning_rate", "lr_schedule", "grad_clip_norm"})
# What every member takes from the comparison's top level.
SHARED_KEYS = (frozenset(COMMON_DEFAULTS) - RECIPE_KEYS) | {
    "preprocess",
    "report_samples",
    "eval_samples",
}

# The sets of claims a comparison can judge (the report holds how: report.py CLAIMS).
CLAIM_SETS = ("vae_vs_gan",)
CLAIM_CHOICES = ("", *CLAIM_SETS)  # `claims`: "" states no verdicts


def comparison_config(members: dict, **overrides) -> ml_collections.ConfigDict:
    """A comparison's config: the common keys, `members` ({name: an experiment's config}, the
    shared keys dropped from each), then `overrides`.

    report_samples: prior samples per member in the report (FID, KID, precision/recall,
        classifier score, sharpness); eval_samples: per member in the periodic evaluation.
    claims: the claims the report states verdicts on (families/comparison/report.py: CLAIMS), or "".
    order: the members' names in the order of the report's rows (a ConfigDict sorts its keys).
    """
    config = base_config(
        task="comparison",
        report_samples=2000,
        eval_samples=1000,
        claims="",
        order=tuple(members),
        members=ml_collections.ConfigDict(),
    )
    for name, member in members.items():
        recipe = ml_collections.ConfigDict(member.to_dict())
        for key in SHARED_KEYS & set(recipe.keys()):
            del recipe[key]
        config.members[name] = recipe
    config.update(overrides)
    return config


def member_config(config: ml_collections.ConfigDict, name: str) -> ml_collections.ConfigDict:
    """Member `name`'s config as its own experiment would have it: its recipe plus the shared
    keys of the comparison."""
    member = ml_collections.ConfigDict(config.members[name].to_dict())
    for key in SHARED_KEYS:
        if key in config:
            value = config[key]
            member[key] = (
                ml_collections.ConfigDict(value.to_dict())
                if isinstance(value, ml_collections.ConfigDict)
                else value
            )
    # Many seeds replicate the whole comparison (train/replicated.py), not each member.
    member.seeds = ""
    return member


def choices() -> dict[str, object]:
    """`claims`, and each member: a whole config of its own family, checked as that family's
    (jaxgen/families/__init__.py: Family.choices)."""
    return {"claims": CLAIM_CHOICES, "members.*": SUBCONFIG}
