"""The web app: FastAPI, server-rendered Jinja2 pages and the JSON API."""
