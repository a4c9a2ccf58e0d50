"""Two queries' stored BM25 and dense rankings, shared by the fusion-study and fusion-slider tests."""

from ragft.retrieval import fusion_study as fs

CHUNK_TO_DOC = {"a#0": "a", "a#1": "a", "b#0": "b", "c#0": "c", "d#0": "d"}


def tiny_runs() -> fs.SearchRuns:
    # q1: BM25 finds the gold doc a; dense misses it. q2: dense finds gold c first, BM25 ranks it third.
    return fs.SearchRuns(
        name="tiny",
        split="test",
        query_ids=["q1", "q2"],
        query_texts=["DEFAULT_AUTO_FIELD", "how do I cache pages"],
        qrels={"q1": {"a": 1}, "q2": {"c": 1}},
        sparse=[[("a#1", 12.0), ("a#0", 9.0), ("b#0", 2.0)], [("b#0", 5.0), ("d#0", 4.0), ("c#0", 3.0)]],
        dense=[[("b#0", 0.6), ("d#0", 0.5)], [("c#0", 0.9), ("b#0", 0.4), ("a#0", 0.3)]],
        chunk_to_doc=CHUNK_TO_DOC,
        depth=10,
        documents=10,
    )
