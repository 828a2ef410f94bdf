"""The analyses: plain functions, GeoDataFrames in, a result (GeoDataFrames + summary) out.

No Flask, Folium, store or service module in here; errors are the small tree in
``geoservice.analysis.errors``. Each analysis is its own module or package:
``coverage``, ``siting``, ``boundaries``, ``placenames``. Nothing is imported eagerly here,
so light modules (``vocabulary``, ``errors``, ``settings``) load without geopandas.
"""
