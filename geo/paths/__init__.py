"""Shortest-path kernels on flat arrays: contraction hierarchies and bucket-queue searches.

- :mod:`.ch`: contraction hierarchies and the bucket many-to-many query;
- :mod:`.dial`: one-to-many searches with a bucket queue (Dial 1969).
"""
