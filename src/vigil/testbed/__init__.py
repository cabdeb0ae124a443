"""A test bed of vigil nodes, each in its own Linux network namespace.

``netns`` makes the namespaces (a router with one veth link per node, addresses only
inside the namespaces) and removes them again; ``proxy`` is the asyncio TCP proxy in the
router that adds one-way delay, drops connections and holds bytes for silent or one-way
partitions; ``nodes`` starts ``vigil serve`` in a node's namespace. Needs root and ``ip``.
"""
