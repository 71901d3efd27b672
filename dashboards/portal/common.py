"""Shared screen pieces: large readable text for phones, the place chooser, refusals in Chinese."""

from __future__ import annotations

import streamlit as st

from assistance import portal
from jiuzhu import regions

STYLE = """
<style>
html { font-size: 18px; }
h1 { font-size: 1.75rem !important; } h2 { font-size: 1.35rem !important; } h3 { font-size: 1.15rem !important; }
.stButton button, .stFormSubmitButton button { min-height: 3rem; font-size: 1.05rem; }
.block-container { padding-top: 1.2rem; max-width: 46rem; }
</style>
"""


def style() -> None:
    st.markdown(STYLE, unsafe_allow_html=True)


def attempt(fn, *args, **kwargs):
    """Run a portal call; a refusal is shown in Chinese and returns (None, False)."""
    try:
        return fn(*args, **kwargs), True
    except portal.PortalError as exc:
        st.error(exc.message)
        return None, False


def choose_place(key: str, *, level: int = 4, label: str = "所在地") -> str | None:
    """Prefecture → county (→ township) selects; returns the chosen code (None until chosen)."""
    tree = regions.load()
    province = tree.get("510000000000")
    prefectures = sorted(tree.children(province.code), key=lambda r: r.code)
    st.markdown(f"**{label}**")
    pref = st.selectbox("市(州)", [p.code for p in prefectures], format_func=lambda c: tree.get(c).name,
                        index=None, placeholder="请选择市(州)", key=f"{key}_pref")
    if pref is None:
        return None
    counties = sorted(tree.children(pref), key=lambda r: r.code)
    county = st.selectbox("县(市、区)", [c.code for c in counties], format_func=lambda c: tree.get(c).name,
                          index=None, placeholder="请选择县(市、区)", key=f"{key}_county")
    if county is None or level <= 3:
        return county
    towns = sorted(tree.children(county), key=lambda r: r.code)
    return st.selectbox("乡镇(街道)", [t.code for t in towns], format_func=lambda c: tree.get(c).name,
                        index=None, placeholder="请选择乡镇(街道)", key=f"{key}_town")
