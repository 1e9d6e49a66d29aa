"""The full-text index's rows (forum/search.py keeps them; the engines read them)."""

from django.contrib.postgres.search import SearchVectorField
from django.db import models

from .posts import Post


class SearchEntry(models.Model):
    """What search finds of one published reply: its visible text, tags and
    author, and its facets (forum.search.facet: topic, authorship, ties,
    stances). A hidden reply has none.

    On PostgreSQL `document` and `facet_vector` hold tsvectors under GIN
    indexes; on SQLite an FTS5 table indexes these rows (external content,
    kept by triggers) and both stay empty. Both made by migration 0015.
    """

    post = models.OneToOneField(
        Post, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    body = models.TextField()
    tags = models.TextField()
    author = models.TextField()
    facets = models.TextField()
    document = SearchVectorField(null=True, editable=False)
    facet_vector = SearchVectorField(null=True, editable=False)

    def __str__(self):
        return f"search entry of reply {self.post_id}"
