"""kb — an offline knowledge base and daily digest for AI-alignment research."""

__version__ = "0.1.0"
