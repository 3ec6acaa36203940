"""Domain core of the after-sales assistant: cases, policy, language, translation, handoff.

Importable and testable without a Rasa server.
"""
