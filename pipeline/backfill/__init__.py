"""`triage backfill`: classify archived posts from files into Parquet, on Beam's Dask runner.

Element-wise only (the Dask runner's GroupByKey is unreliable): files → chunks (``chunks``)
→ one ParDo that reads, checks, classifies, enriches and writes each chunk (``chunk_fn``)
→ one labelled Parquet file per chunk and dead letters (``records``). ``job`` plans, starts
or joins the Dask cluster (``cluster``), shows progress and merges the dead letters.
"""
