"""pytest, for every path in the repository: tests/, notebooks/ and solutions/ (nbval).

pytest-randomly shuffles the order of the tests. A notebook's cells are the exception: they share one
kernel and must run top to bottom, so they are put back in order after the shuffle. This file sits at
the root so that it applies whichever paths pytest is given (a notebook alone included).
"""

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """After any shuffle, each notebook's cells run contiguously and in their own order."""
    result = yield
    cells: dict[object, list] = {}
    for item in items:
        if hasattr(item, "cell_num"):  # an nbval cell
            cells.setdefault(item.parent, []).append(item)
    if cells:
        ordered, placed = [], set()
        for item in items:
            notebook = item.parent if hasattr(item, "cell_num") else None
            if notebook is None:
                ordered.append(item)
            elif notebook not in placed:
                placed.add(notebook)
                ordered.extend(sorted(cells[notebook], key=lambda cell: cell.cell_num))
        items[:] = ordered
    return result
