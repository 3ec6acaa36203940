"""Local servers that speak a third-party protocol, standing in at the network edge for services
these machines cannot reach (see README: Tests)."""
