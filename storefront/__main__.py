"""Runs the demo storefront: .venv/bin/python -m storefront (STOREFRONT_PORT, default 8080;
RASA_PUBLIC_URL: where browsers reach the Rasa server, default http://127.0.0.1:5005)."""
from storefront.app import main

main()
