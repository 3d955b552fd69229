"""Reference implementation of the ERA5 per-(miner, lead) score (spec §4.3) with xarray +
xskillscore, independent of the Rust code. Used for the expected values of the Rust tests
(scripts/fixtures/scoring_era5.py) and as the Python side of the ERA5 benchmark.

Usage: python bench/era5_reference.py FORECAST TRUTH CLIMATOLOGY GFS_INIT_ISO LEAD_HOURS
       [--profile spec|production] [--time RUNS]
prints {"ok": report} or {"error": kind, "variable": ...} as JSON; with --time, runs the score RUNS
times after the imports and prints {"seconds": [...], "result": <the last run's output>}.

The rules of spec §12 (both profiles): the forecast is always interpolated onto the ERA5 grid and
levels (lat, lon, then pressure level; the first pass in the stored float32), the climatology onto
the grid; edge salvage from the original inner neighbours; the climatology fill for surface
variables only (NaN and ±inf); ±inf lowers coverage. Profile `production` (§11): no extreme-value
check, and a pressure-level variable's skill is 0.0 at every level unless some level's field had a
NaN on its outer border.
"""

import json
import sys

import numpy as np
import pandas as pd
import xarray as xr
import xskillscore as xs

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from day1_reference import LONG, normalise, on_grid  # noqa: E402

SURFACE = ["2t", "msl", "10u", "10v"]
ATMOS = ["t", "u", "v", "q", "z"]
LEVELS = [50.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0, 500.0, 600.0, 700.0, 850.0, 925.0, 1000.0]
UNITS = {"2t": "K", "t": "K", "msl": "Pa", "10u": "m s-1", "10v": "m s-1", "u": "m s-1", "v": "m s-1",
         "z": "m**2 s**-2", "q": "kg kg**-1"}


class Fail(Exception):
    def __init__(self, kind, variable):
        super().__init__(kind)
        self.kind, self.variable = kind, variable


def thickness(levels):
    p = np.array(sorted(levels))
    t = np.empty_like(p)
    t[0] = (p[1] - p[0]) / 2
    t[-1] = (p[-1] - p[-2]) / 2
    t[1:-1] = (p[2:] - p[:-2]) / 2
    w = dict(zip(p.tolist(), (t / t.sum()).tolist()))
    return [w[float(lv)] for lv in levels]


LEVEL_DIMS = ("pressure_level", "plev", "lev", "level")


def salvage(a):
    """Spec §12-9: rows from the original rows 1 / n-2, then whole columns from the original
    columns 1 / m-2 (so the corners of a NaN row stay NaN)."""
    o = a.copy()
    a = a.copy()
    a[0, :] = np.where(np.isnan(o[0, :]), o[1, :], o[0, :])
    a[-1, :] = np.where(np.isnan(o[-1, :]), o[-2, :], o[-1, :])
    a[:, 0] = np.where(np.isnan(o[:, 0]), o[:, 1], o[:, 0])
    a[:, -1] = np.where(np.isnan(o[:, -1]), o[:, -2], o[:, -1])
    return a


def border_nan(a):
    return bool(np.isnan(a[0, :]).any() or np.isnan(a[-1, :]).any()
                or np.isnan(a[:, 0]).any() or np.isnan(a[:, -1]).any())


def fin(x):
    x = float(x)
    return x if np.isfinite(x) else None


def level_metrics(f, t, c):
    w = np.cos(np.deg2rad(t.lat)).clip(min=0.0) * xr.ones_like(t)
    dims = ["lat", "lon"]
    mse = float(xs.mse(f, t, dim=dims, weights=w, skipna=True))
    fa, ta = f - c, t - c
    if float(fa.std()) < 1e-12 or float(ta.std()) < 1e-12:
        acc = np.nan
    else:
        acc = float(xs.pearson_r(fa, ta, dim=dims, weights=w, skipna=True))
    fc = f - float((f - t).mean())
    mf = float(xs.mse(fc, t, dim=dims, weights=w, skipna=True))
    mc = float(xs.mse(c, t, dim=dims, weights=w, skipna=True))
    skill = (1.0 if mf == 0 else np.nan) if mc == 0 else 1 - mf / mc
    mae = float(xs.mae(f, t, dim=dims, weights=w, skipna=True))
    bias = float(((f - t) * w).sum() / w.where(f.notnull() & t.notnull()).sum())
    return {"mse": fin(mse), "rmse": fin(np.sqrt(mse)), "acc": fin(acc), "skill": fin(skill),
            "mae": fin(mae), "bias": fin(bias)}


def score_variable(var, fds, tds, clim, ti_f, ti_t, valid, profile="spec"):
    levels = [None] if var in SURFACE else LEVELS
    omega = [1.0] if var in SURFACE else thickness(LEVELS)
    units = fds[var].attrs.get("units")
    if units is not None and units != UNITS[var] and not (UNITS[var] == "m**2 s**-2" and units == "m2 s-2"):
        return {"variable": var, "error": "units"}
    fall = fds[var].isel(time=ti_f).drop_vars("time")
    tall = tds[var].isel(time=ti_t)
    tgrid = normalise(tall.drop_vars("time"))
    if var in ATMOS:
        lev = next(d for d in LEVEL_DIMS if d in fall.dims)
        fall = fall.rename({lev: "pressure_level"})
    # §12-6/7/8: lat, lon, then level; the first pass in the stored dtype.
    fall = on_grid(normalise(fall.load()), tgrid)
    if var in ATMOS:
        fall = fall.interp(pressure_level=np.array(LEVELS), method="linear")
    prepared, total, covered, salvaged, any_border_nan = [], 0, 0, 0, False
    for lv in levels:
        t = tall
        f = fall
        cda = clim[LONG[var]].sel(dayofyear=valid.day_of_year, hour=6 * (valid.hour // 6), method="nearest")
        if lv is not None:
            f = f.sel(pressure_level=lv).drop_vars("pressure_level")
            t = t.sel(pressure_level=lv).drop_vars("pressure_level")
            cda = cda.sel(level=lv).drop_vars("level")
        t = normalise(t.drop_vars("time").load().astype("float64"))
        c = on_grid(normalise(cda.drop_vars(["dayofyear", "hour"]).load()), t)
        before = int(np.isnan(f.values).sum())
        any_border_nan |= border_nan(f.values)
        f = f.copy(data=salvage(f.values))
        salvaged += before - int(np.isnan(f.values).sum())
        vals = f.values
        if profile == "spec" and np.any(np.isfinite(vals) & (np.abs(vals) > 1e12)):
            raise Fail("extreme_values", var)
        tf = np.isfinite(t.values)
        total += int(tf.sum())
        covered += int((tf & np.isfinite(vals)).sum())
        prepared.append((lv, f, t, c))
    coverage = covered / total if total else 0.0
    if coverage < 0.1:
        raise Fail("nan_injection", var)
    if coverage < 0.9985:
        raise Fail("insufficient_coverage", var)
    out_levels, filled, diffs = [], 0, []
    for (lv, f, t, c), w in zip(prepared, omega):
        if var in SURFACE:
            # §12-10/11: surface only, NaN and ±inf alike.
            bad = ~np.isfinite(f.values)
            filled += int(bad.sum())
            f = f.where(~bad, c)
        m = level_metrics(f, t, c)
        if var in ATMOS and profile == "production" and not any_border_nan:
            m["skill"] = 0.0
        m.update({"level_hpa": lv, "weight": w})
        out_levels.append(m)
        d = (f - t).values
        diffs.append(d[~np.isnan(d)])

    def wsum(k):
        vals = [lvl[k] for lvl in out_levels]
        return None if any(v is None for v in vals) else fin(sum(w * v for w, v in zip(omega, vals)))

    res = {"variable": var, "levels": out_levels, "mse": wsum("mse"), "mae": wsum("mae"), "bias": wsum("bias"),
           "skill": fin(sum(w * (lvl["skill"] if lvl["skill"] is not None else 0.0)
                            for w, lvl in zip(omega, out_levels))),
           "coverage": coverage, "edge_salvaged_points": salvaged, "climatology_filled_points": filled,
           "mean_bias_unweighted": fin(np.concatenate(diffs).mean()), "error": None}
    res["rmse"] = None if res["mse"] is None else fin(np.sqrt(res["mse"]))
    accs = [lvl["acc"] for lvl in out_levels]
    if all(a is not None for a in accs):
        res["acc"] = wsum("acc")
    elif var in SURFACE:
        raise Fail("surface_acc_non_finite", var)
    else:
        # §12-17: the RMSE row stays, the ACC and skill rows are not written.
        res["acc"], res["skill"], res["error"] = None, None, "acc_nan"
    return res


def score_era5_lead(forecast, truth, clim_path, gfs_init, lead_hours, profile="spec"):
    valid = pd.Timestamp(gfs_init) + pd.Timedelta(hours=lead_hours)
    fds = xr.open_zarr(forecast)
    tds = xr.open_zarr(truth)
    clim = xr.open_zarr(clim_path)
    try:
        ti_f = int(np.nonzero(pd.to_datetime(fds.time.values) == valid)[0][0])
        ti_t = int(np.nonzero(pd.to_datetime(tds.time.values) == valid)[0][0])
        for var in SURFACE + ATMOS:
            if var not in fds.data_vars:
                raise Fail("missing_variable", var)
        variables = [score_variable(v, fds, tds, clim, ti_f, ti_t, valid, profile) for v in SURFACE + ATMOS]
    except Fail as e:
        return {"error": e.kind, "variable": e.variable}
    return {"ok": {"lead_hours": lead_hours, "variables": variables}}


if __name__ == "__main__":
    args = sys.argv[1:]
    profile = "spec"
    if "--profile" in args:
        k = args.index("--profile")
        profile = args[k + 1]
        del args[k:k + 2]
    sys.argv = [sys.argv[0]] + args
    f, t, c, init, lead = sys.argv[1:6]
    if len(sys.argv) > 6 and sys.argv[6] == "--time":
        # Benchmark mode: interpreter start and imports are done; time opening the stores and
        # scoring (what the Rust side's score_era5_lead does), once per run.
        import time
        runs = int(sys.argv[7]) if len(sys.argv) > 7 else 1
        secs, result = [], None
        for _ in range(runs):
            t0 = time.perf_counter()
            result = score_era5_lead(f, t, c, init, int(lead), profile)
            secs.append(time.perf_counter() - t0)
        print(json.dumps({"seconds": secs, "result": result}))
    else:
        print(json.dumps(score_era5_lead(f, t, c, init, int(lead), profile)))
