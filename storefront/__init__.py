"""The demo storefront: a shop page with the chat widget embedded the way a shop embeds it."""
