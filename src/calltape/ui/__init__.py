"""The recordings web page's files (served by ``calltape.api.ui``)."""
