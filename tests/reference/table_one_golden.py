#!/usr/bin/python3
"""Independent reference values for osteofm data describe (Table 1).

Run with Debian's python3-pandas (1.5.3) on a cohort of ../shared/fixtures/cohort. The
grouping is the WHO class of t_score; numeric columns get pandas' mean, std (ddof=1),
median and quantile (linear interpolation, pandas' default), categorical ones
value_counts() and value_counts(normalize=True) of the non-missing values.

    /usr/bin/python3 tests/reference/table_one_golden.py ../shared > tests/data/table_one_golden.json
"""
import json, os, sys
import pandas as pd

shared = sys.argv[1]
rel = "fixtures/cohort/link_w180_lowest/expected_cohort.csv"
df = pd.read_csv(os.path.join(shared, rel), dtype={"image_id": str, "patient_id": str})
df["class"] = ""
# WHO: osteoporosis T <= -2.5, osteopenia -2.5 < T < -1.0, normal T >= -1.0.
df.loc[df["t_score"] <= -2.5, "class"] = "osteoporosis"
df.loc[(df["t_score"] > -2.5) & (df["t_score"] < -1.0), "class"] = "osteopenia"
df.loc[df["t_score"] >= -1.0, "class"] = "normal"

numeric = ["t_score", "days_between", "age"]
categorical = ["modality", "body_part", "view_position", "sex", "manufacturer"]
groups = {"all": df}
for name, g in df.groupby("class"):
    groups[name] = g

out = {"source": rel, "by": "label", "groups": {}}
for name, g in groups.items():
    entry = {"n": int(len(g))}
    for c in numeric:
        v = g[c]
        entry[c] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)), "median": float(v.median()),
                    "q1": float(v.quantile(0.25)), "q3": float(v.quantile(0.75)), "missing": int(v.isna().sum())}
    for c in categorical:
        v = g[c]
        entry[c] = {"counts": {k: int(n) for k, n in v.value_counts().items()},
                    "percent": {k: float(p) * 100 for k, p in v.value_counts(normalize=True).items()},
                    "missing": int(v.isna().sum())}
    out["groups"][name] = entry
json.dump(out, sys.stdout, indent=1, sort_keys=True)
print()
