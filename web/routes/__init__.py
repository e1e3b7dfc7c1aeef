"""The desk's routes, one module per page area; what they share is in web.pages."""
