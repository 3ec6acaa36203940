"""Rasa custom actions: thin adapters from Rasa's tracker to the domain core in bot/."""
from bot import logmask

logmask.install()  # no e-mail address or phone number in the action server's log
