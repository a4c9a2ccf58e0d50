"""The hybrid architecture (notebook 07): the reader adapter for behavior, retrieval for knowledge."""
