"""The web desk (chidao serve): FastAPI routes by page area in routes/, the plumbing they share beside them."""
