"""Custom Rasa NLU components (referenced by config.yml): language detection, a tokenizer for
every script, and an offline multilingual sentence encoder. The logic they wrap lives in bot/."""
