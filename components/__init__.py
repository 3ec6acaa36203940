"""Custom Rasa components (referenced by config.yml and endpoints.yml): language detection, a
tokenizer for every script, an offline multilingual sentence encoder, the tracker and lock stores.
The logic they wrap lives in bot/. Importing this package also makes a failing action server
visible to the shopper (components/resilience.py), answers a retried message once
(components/redelivery.py) and removes costs Rasa pays on every message for nothing
(components/speedups.py)."""
from components import redelivery, resilience, speedups  # noqa: F401  (they install themselves)
from bot import logmask

logmask.install()  # no e-mail address or phone number in the Rasa server's log
