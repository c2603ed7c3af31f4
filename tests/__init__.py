"""govops tests, laid out like the engine's stage packages."""
