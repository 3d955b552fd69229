"""Reference implementation of the Day-1 score (spec §3) with xarray + xskillscore.

Independent of the Rust code: it re-implements the production formulas the way the Python
validator evaluates them (xarray selection, `interp_like(method="linear")`, xskillscore weighted
metrics), and serves both as the source of expected values for the Rust tests
(scripts/fixtures/scoring_day1.py) and as the Python side of `gaia-dev bench score`.

Usage: python bench/day1_reference.py FORECAST TRUTH REFERENCE CLIMATOLOGY GFS_INIT_ISO LEAD_HOURS
       [--time RUNS]
prints the report as JSON (or, with --time, the seconds each run took).
"""

import json
import sys

import numpy as np
import pandas as pd
import xarray as xr
import xskillscore as xs

VARIABLES = [("2t", None), ("msl", None), ("10u", None), ("10v", None), ("z", 500.0)]
CLONE_DELTA = {"2t": 0.0025, "msl": 400.0, "10u": 0.01, "10v": 0.01, "z500": 100.0}
BOUNDS = {"2t": (180.0, 340.0), "msl": (90000.0, 110000.0), "t850": (220.0, 320.0), "z500": (45000.0, 60000.0)}
LONG = {"2t": "2m_temperature", "msl": "mean_sea_level_pressure", "10u": "10m_u_component_of_wind",
        "10v": "10m_v_component_of_wind", "t": "temperature", "u": "u_component_of_wind",
        "v": "v_component_of_wind", "q": "specific_humidity", "z": "geopotential"}
ALPHA, BETA, GAMMA, CLAMP_FRAC, CLAMP_VALUE, PASS, PATTERN_MIN = 0.6, 0.4, 1.0, 0.5, 0.05, 0.1, 0.3


def key_of(var, level):
    return var if level is None else f"{var}{int(round(level))}"


def normalise(da):
    """Latitude descending, longitude in [0, 360) ascending; dims named lat/lon."""
    ren = {d: n for d, n in (("latitude", "lat"), ("longitude", "lon")) if d in da.dims}
    da = da.rename(ren)
    da = da.assign_coords(lon=(da.lon % 360)).sortby("lon")
    return da.sortby("lat", ascending=False)


def open_store(path):
    return xr.open_zarr(path, decode_timedelta=False)


def select(ds, var, level, valid_time, tolerance_h):
    da = ds[var]
    t = pd.Timestamp(valid_time)
    sel = da.sel(time=t, method="nearest")
    dev = abs((pd.Timestamp(sel.time.values) - t).total_seconds()) / 3600.0
    if dev > tolerance_h:
        raise ValueError(f"{var}: time {sel.time.values} is {dev} h from {t}")
    if level is not None:
        lev_name = "pressure_level" if "pressure_level" in sel.dims else "level"
        sel = sel.sel({lev_name: level}, method="nearest")
        if abs(float(sel[lev_name]) - level) > 10.0:
            raise ValueError(f"{var}: no level near {level}")
        sel = sel.drop_vars(lev_name)
    return normalise(sel.drop_vars("time").load())


def climatology(clim, var, level, valid_time):
    t = pd.Timestamp(valid_time)
    da = clim[LONG[var]].sel(dayofyear=t.day_of_year, hour=6 * (t.hour // 6), method="nearest")
    if level is not None:
        da = da.sel(level=level, method="nearest").drop_vars("level")
    return normalise(da.drop_vars(["dayofyear", "hour"]).load())


def on_grid(da, like):
    """Spec §12-6/8: always interpolate, even onto an identical grid, in the stored dtype. xarray's
    interp_like on a field read from a Zarr store runs one 1-D interp1d pass per coordinate in the
    order the store lists them (lat, then lon): written out here so the order does not depend on
    the xarray version. A float32 field's first pass differences in float32; the result is
    float64."""
    out = da.interp(lat=like.lat.values, method="linear")
    return out.interp(lon=like.lon.values, method="linear").astype("float64")


def unit_fix(var, f, t, fm_all=None):
    # §12-18: a pressure-level variable's fix is decided on its mean over all levels.
    fm, tm = (float(f.mean()) if fm_all is None else fm_all), float(t.mean())
    if var == "z" and fm < 10000 and tm > 40000:
        return f * 9.80665, "geopotential_height_to_geopotential"
    if var in ("2t", "t") and fm < 100 and tm > 200:
        return f + 273.15, "celsius_to_kelvin"
    if var == "msl" and fm < 2000 and tm > 50000:
        return f * 100.0, "hectopascal_to_pascal"
    return f, None


def fin(x):
    x = float(x)
    return x if np.isfinite(x) else None


def score_variable(var, level, f, t, r, c, fm_all=None):
    key = key_of(var, level)
    t = t.astype("float64")
    # The unit fix is applied in the stored dtype (float32 stays float32, spec §12-18).
    f, fix = unit_fix(var, f, t, fm_all)
    f, r, c = on_grid(f, t), on_grid(r, t), on_grid(c, t)
    w = np.cos(np.deg2rad(t.lat)).clip(min=0.0) * xr.ones_like(t)
    dims = ["lat", "lon"]
    d = float(xs.mse(f, r, dim=dims, weights=w, skipna=True))
    delta = CLONE_DELTA.get(key)
    p = GAMMA * max(0.0, 1 - d / delta) if (delta is not None and d < delta) else 0.0
    flag = delta is not None and (p > 0 or d < CLAMP_FRAC * delta)
    pattern = float(xs.pearson_r(f, r, dim=dims, weights=w, skipna=True))
    failures = []
    if key in BOUNDS:
        lo, hi = BOUNDS[key]
        if float(f.min()) < lo or float(f.max()) > hi:
            failures.append("bounds")
    if var.startswith("q") and float(f.min()) < 0:
        failures.append("negative")
    if not pattern >= PATTERN_MIN:
        failures.append("pattern")
    bias_corr = float((f - t).mean())
    fc = f - bias_corr
    mse_f = float(xs.mse(fc, t, dim=dims, weights=w, skipna=True))
    mse_r = float(xs.mse(r, t, dim=dims, weights=w, skipna=True))
    if mse_r == 0:
        skill = 1.0 if mse_f == 0 else -np.inf
    else:
        skill = 1 - mse_f / mse_r
    if not np.isfinite(skill):
        skill = np.nan
    fa, ta = f - c, t - c
    if float(fa.std()) < 1e-12 or float(ta.std()) < 1e-12:
        acc = np.nan
    else:
        acc = float(xs.pearson_r(fa, ta, dim=dims, weights=w, skipna=True))
    return {
        "key": key, "status": "scored" if not failures else "sanity_failed", "unit_fix": fix,
        "skill": fin(skill), "skill_penalised": fin(skill - p), "acc": fin(acc),
        "clone_distance": fin(d), "clone_penalty": p, "clone_flag": bool(flag),
        "pattern_correlation": fin(pattern),
        "rmse": fin(np.sqrt(float(xs.mse(f, t, dim=dims, weights=w, skipna=True)))),
        "mae": fin(xs.mae(f, t, dim=dims, weights=w, skipna=True)),
        "bias": fin(((f - t) * w).sum() / w.where(f.notnull() & t.notnull()).sum()),
    }


def score_day1(forecast, truth, reference, clim_path, gfs_init, lead_hours):
    valid = pd.Timestamp(gfs_init) + pd.Timedelta(hours=lead_hours)
    fds, tds, rds, cds = (open_store(p) for p in (forecast, truth, reference, clim_path))
    results = []
    for var, level in VARIABLES:
        f = select(fds, var, level, valid, max(3.0, lead_hours))
        t = select(tds, var, level, valid, 3.0)
        r = select(rds, var, level, valid, 3.0)
        c = climatology(cds, var, level, valid)
        fm_all = None
        if level is not None:
            fm_all = float(fds[var].sel(time=valid, method="nearest").astype("float64").mean())
        results.append(score_variable(var, level, f, t, r, c, fm_all))
    scored = [v for v in results if v["status"] == "scored"]
    skills = [max(0.0, v["skill_penalised"]) for v in scored if v["skill_penalised"] is not None]
    accs = [(v["acc"] + 1) / 2 for v in scored if v["acc"] is not None]
    skill_term = float(np.mean(skills)) if skills else 0.0
    acc_term = float(np.mean(accs)) if accs else 0.0
    score = ALPHA * skill_term + BETA * acc_term
    # §12-18: only variables that passed the sanity checks can trigger the clone clamp.
    clamped = any(v["clone_flag"] for v in scored)
    if clamped:
        score = min(score, CLAMP_VALUE)
    return {"score": score, "passed": score >= PASS, "clamped": clamped,
            "qc_failed": any(v["status"] != "scored" for v in results),
            "skill_term": skill_term, "acc_term": acc_term,
            "variables": {v["key"]: v for v in results}}


if __name__ == "__main__":
    f, t, r, c, init, lead = sys.argv[1:7]
    if len(sys.argv) > 7 and sys.argv[7] == "--time":
        # Benchmark mode: imports done, time the scoring only; print seconds per run as JSON.
        import time
        runs = int(sys.argv[8]) if len(sys.argv) > 8 else 1
        secs = []
        for _ in range(runs):
            t0 = time.perf_counter()
            report = score_day1(f, t, r, c, init, float(lead))
            secs.append(time.perf_counter() - t0)
        print(json.dumps({"seconds": secs, "score": report["score"]}))
    else:
        print(json.dumps(score_day1(f, t, r, c, init, float(lead))))
