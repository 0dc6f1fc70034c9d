# SPDX-License-Identifier: MIT
"""Product tables in hardware layout: group codes, code-addressed columns, padded rows.

A group address in hardware is the concatenation of the group's index fields (input 0 in the
least significant bits), so no arithmetic forms it; for ``in_levels`` a power of two this equals
the model's mixed-radix address ``sum(i_j * A**j)``, otherwise the unreachable codes are simply
never produced. Their entries are free: an unrolled layer's lookups hold the entry of the
code with every out-of-range index clamped to ``in_levels - 1`` (:func:`clamped_row`), so a
bit function of the code no longer depends on an index field's low bits wherever its top bit
says "out of range" (with 5 levels, codes 5-7 read as 4), which shrinks the logic a lookup of
several fields maps to; the folded product table keeps 0 there (:func:`code_columns`). The
multiplier baselines replace a table by the products
``a * w_k`` of an activation index and an integer weight per codeword (:func:`slope_weights`).
"""

from ..numeric import index_width

__all__ = ["group_code_table", "clamped_digits", "clamped_row", "code_columns", "dense_groups",
           "padded_table", "slope_weights", "products"]


def group_code_table(table, in_levels, group):
    """``{code: row}``: the table row of each reachable concatenated group code.

    ``code`` packs the ``group`` indices at ``index_width(in_levels)`` bits each (input 0 in
    the least significant bits); ``row`` is the model's mixed-radix address.
    """
    bits = index_width(in_levels)
    codes = {}
    for row in range(in_levels ** group):
        digits = [(row // in_levels ** j) % in_levels for j in range(group)]
        code = sum(digit << (j * bits) for j, digit in enumerate(digits))
        codes[code] = row
    return codes


def clamped_digits(code, in_levels, group):
    """The ``group`` index fields of concatenated group code ``code``, each clamped to
    ``in_levels - 1``: the indices themselves for a reachable code, those whose entry an
    unreachable code holds otherwise (see the module docstring)."""
    bits = index_width(in_levels)
    return [min((code >> (j * bits)) & ((1 << bits) - 1), in_levels - 1)
            for j in range(group)]


def clamped_row(code, in_levels, group):
    """The model's mixed-radix row of :func:`clamped_digits`: the row of a reachable code,
    the entry an unreachable code holds otherwise."""
    return sum(digit * in_levels ** j
               for j, digit in enumerate(clamped_digits(code, in_levels, group)))


def code_columns(table, in_levels, group):
    """``columns[k][code]``: codeword ``k``'s product at every concatenated group code
    (:func:`group_code_table`), 0 at the unreachable ones (the folded product table keeps 0:
    clamped rows saved 0.5 % of the demo's folded iCE40 LUTs, not worth recalibrating the
    folded rows; bench/RESULTS.md). Flattened row by row it is the folded layer's
    product-table memory, addressed by ``Cat(code, codeword)``."""
    codes = group_code_table(table, in_levels, group)
    size = 1 << (group * index_width(in_levels))
    return [[int(table[codes[code]][k]) if code in codes else 0 for code in range(size)]
            for k in range(len(table[0]))]


def dense_groups(n_inputs, group):
    """The input groups of a dense layer: consecutive runs of ``group`` elements."""
    return tuple(tuple(range(g * group, (g + 1) * group)) for g in range(n_inputs // group))


def padded_table(table, in_levels, group):
    """The table over ``in_levels + 1`` levels, where index ``in_levels`` (a padded tap) adds 0.

    Rows are mixed-radix addresses over the extended levels; a row containing the padding
    index is all zeros (only whole groups are ever padded).
    """
    table = tuple(tuple(int(v) for v in row) for row in table)
    levels = in_levels + 1
    rows = []
    for row in range(levels ** group):
        digits = [(row // levels ** j) % levels for j in range(group)]
        if in_levels in digits:
            rows.append((0,) * len(table[0]))
        else:
            rows.append(table[sum(d * in_levels ** j for j, d in enumerate(digits))])
    return tuple(rows)


def slope_weights(table):
    """The integer weight of every codeword: its table column's slope over the activation
    index, ``w_k = round((T[A-1][k] - T[0][k]) / (A-1))``."""
    top = len(table) - 1
    return tuple(int(round((int(table[top][k]) - int(table[0][k])) / top))
                 for k in range(len(table[0])))


def products(weights, in_levels):
    """The table ``T'[a][k] = a * weights[k]`` of a multiplier baseline."""
    return tuple(tuple(a * w for w in weights) for a in range(int(in_levels)))
