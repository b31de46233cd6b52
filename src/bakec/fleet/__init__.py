"""Fleet planning: one combined graph split into shards for many CI runners, and the CI pipelines that run them.

:func:`~bakec.fleet.shards.split` partitions a :class:`~bakec.graph.build.Graph`;
:func:`~bakec.fleet.document.fleet_plan` turns the shards into the plan document
(``bakec plan --shards N --format json``); ``github``, ``gitlab`` and ``tekton`` emit
pipelines that run the plan's shard commands. Nothing here builds: shard execution
and fleet publish belong to the builder.
"""
