"""Finding the passages: chunking and its validator, embedding, BM25 / dense / hybrid retrievers,
fusion, reranking, faiss indexes, and the retrieval metrics and evaluation."""
