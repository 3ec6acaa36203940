"""The agent console: escalated conversations taken over by people, with live translation."""
