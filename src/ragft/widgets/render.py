"""Showing results in an Output widget: the one helper every widget of the course shares."""

from __future__ import annotations


def render(output, *items) -> None:
    """Replace an Output widget's content in one step: text becomes stdout, anything else a rich display.

    Setting `outputs` syncs as widget state. The alternative, `with output: print(...)`, routes kernel
    messages to the widget by id; Voila's executor sometimes misses one of those and never finishes
    the page (seen here in about 1 load in 20).
    """
    from IPython.core.interactiveshell import InteractiveShell

    formatter = InteractiveShell.instance().display_formatter
    rendered = []
    for item in items:
        if isinstance(item, str):
            rendered.append({"output_type": "stream", "name": "stdout", "text": item + "\n"})
        else:
            data, metadata = formatter.format(item)
            rendered.append({"output_type": "display_data", "data": data, "metadata": metadata})
    output.outputs = tuple(rendered)
