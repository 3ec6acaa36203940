"""Messaging channels of the assistant: Telegram, WhatsApp (through Twilio), Facebook Messenger and
Slack, as Rasa input channels listed in credentials.yml (see README.md, "Messaging channels")."""
