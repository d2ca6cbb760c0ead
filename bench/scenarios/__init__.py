"""One module per scenario. Each defines its workflows at module level and ``run(url, **params)``,
which launches DBOS on ``url`` (a fresh database), measures, and returns a list of ``Metric``."""
