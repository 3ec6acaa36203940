"""Rasa custom actions: thin adapters from Rasa's tracker to the domain core in bot/."""
