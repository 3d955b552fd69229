#!/usr/bin/env python3
"""Open the simulated world's and a simulated miner's Zarr stores with xarray and print what it
decodes, as JSON, so the Rust test can compare it with the validator's reader.

Usage: miner_sim_check.py ANALYSIS GFS_FORECAST ERA5 CLIMATOLOGY FORECAST
"""
import json
import sys
import warnings

import numpy as np
import pandas as pd
import xarray as xr


def summary(path):
    ds = xr.open_zarr(path, consolidated=True)
    out = {
        "dims": {v: list(ds[v].dims) for v in ds.data_vars},
        "units": {v: ds[v].attrs.get("units") for v in ds.data_vars},
    }
    if "time" in ds.coords:
        out["times"] = [pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%S") for t in ds["time"].values]
    return ds, out


def main():
    warnings.simplefilter("ignore")
    analysis, gfs, era5, clim, forecast = sys.argv[1:6]
    result = {}
    for name, path in [("analysis", analysis), ("gfs_forecast", gfs), ("era5", era5)]:
        ds, out = summary(path)
        assert list(ds["lat"].values[:1]) == [90.0], "latitude must start at 90"
        assert float(ds["2t"].mean()) > 200.0
        result[name] = out
    ds, out = summary(clim)
    assert "temperature" in ds.data_vars and "dayofyear" in ds.coords
    result["climatology"] = out
    ds, out = summary(forecast)
    if "lead_time" in ds.variables:
        lead = ds["lead_time"].values
        if np.issubdtype(lead.dtype, np.timedelta64):
            lead = lead / np.timedelta64(1, "h")
    else:
        # The production layout has no lead_time: its steps are 6-hourly from T0+6h.
        lead = (ds["time"].values - ds["time"].values[0]) / np.timedelta64(1, "h") + 6
    out["lead_time_hours"] = [float(x) for x in lead]
    level = "plev" if "plev" in ds.dims else "pressure_level"
    out["z_t3_l7_00"] = float(ds["z"].isel({"time": 3, level: 7}).values[0, 0])
    out["levels"] = [float(x) for x in ds[level].values]
    result["forecast"] = out
    print(json.dumps(result))


if __name__ == "__main__":
    main()
