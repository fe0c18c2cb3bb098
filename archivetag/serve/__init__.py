"""`archivetag serve`: pages, a JSON API and media over the catalogue, read-only.

`app.make_app` wires the parts: `security` (who may ask), `views` (what a request answers,
shared by pages and API), `pages` and `api` (HTML and JSON), `media` (files and transcodes)
and `timeline` (the file page's picture).
"""
