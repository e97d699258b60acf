"""Connected components by alternating Large-Star and Small-Star (Kiveris et al. 2014).

Both steps rewrite an edge table (``u < v``) one vertex neighbourhood at a time, so the runner
only has to shuffle edges by vertex between them: no process holds the graph. They
converge in O(log² n) rounds to one star per component centred on its minimum vertex, a
result that depends only on the edge set, never on how it was partitioned. A round that
changes nothing proves convergence: then every vertex has either no smaller neighbour (a
centre) or exactly one and no larger one (a leaf). Each step flags the edges it produced from a
neighbourhood it changed, in ``changed``; a round whose output has none is the last.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

GRAPH_SCHEMA = pa.schema([("u", pa.string()), ("v", pa.string()), ("changed", pa.bool_())])
DIRECTED_SCHEMA = pa.schema([("src", pa.string()), ("dst", pa.string())])


def both_directions(edges: pa.Table) -> pa.Table:
    """(u, v) → (src u, dst v) and (src v, dst u): what Large-Star groups by ``src``."""
    fwd = pa.table({"src": edges["u"], "dst": edges["v"]})
    back = pa.table({"src": edges["v"], "dst": edges["u"]})
    return pa.concat_tables([fwd, back]).cast(DIRECTED_SCHEMA)


def large_star(block: pa.Table) -> pa.Table:
    """For each vertex x with neighbours N(x), m = min(N(x) ∪ {x}): link every larger neighbour to m.

    ``block`` holds rows (src, dst) with all of each src's neighbours."""
    t = block.group_by(["src", "dst"], use_threads=False).aggregate([])
    low = t.group_by("src", use_threads=False).aggregate([("dst", "min")])
    t = t.join(low, "src", use_threads=False)
    t = t.append_column("m", pc.min_element_wise(t["src"], t["dst_min"]))
    up = t.filter(pc.greater(t["dst"], t["src"]))
    return pa.table({"u": up["m"], "v": up["dst"], "changed": pc.less(up["m"], up["src"])}, schema=GRAPH_SCHEMA)


def small_star(block: pa.Table) -> pa.Table:
    """For each vertex x with smaller neighbours S(x), m = min(S(x)): link x and all of S(x) to m.

    ``block`` holds rows (u, v, changed), u < v, with all of each ``v``'s edges."""
    t = block.group_by(["u", "v"], use_threads=False).aggregate([("changed", "any")])
    per = t.group_by("v", use_threads=False).aggregate([("u", "min"), ("u", "count"), ("changed_any", "any")])
    dirty = pc.or_kleene(pc.greater(per["u_count"], 1), pc.fill_null(per["changed_any_any"], False))
    centre = pa.table({"u": per["u_min"], "v": per["v"], "changed": dirty}, schema=GRAPH_SCHEMA)
    t = t.join(pa.table({"v": per["v"], "m": per["u_min"], "dirty": dirty}), "v", use_threads=False)
    others = t.filter(pc.not_equal(t["u"], t["m"]))
    moved = pa.table({"u": others["m"], "v": others["u"], "changed": others["dirty"]}, schema=GRAPH_SCHEMA)
    return pa.concat_tables([centre, moved])


def components_local(edges: pa.Table, max_rounds: int = 100) -> tuple[pa.Table, int]:
    """The same rounds in one process (tests and benchmarks): star edges (u = minimum, v), rounds."""
    t = pa.table({"u": edges["u"], "v": edges["v"]}, schema=GRAPH_SCHEMA.remove(2))
    if not t.num_rows:
        return t, 0
    for rounds in range(1, max_rounds + 1):
        t = small_star(large_star(both_directions(t)))
        if not pc.any(t["changed"]).as_py():
            return distinct(t), rounds
    raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")


def distinct(t: pa.Table) -> pa.Table:
    return t.group_by(["u", "v"], use_threads=False).aggregate([]).sort_by([("u", "ascending"), ("v", "ascending")])
