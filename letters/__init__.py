"""Directives and the letters derived from them: the rules of DOMAIN.md, independent of storage."""
