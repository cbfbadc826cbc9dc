"""Configuration: one pydantic-settings object, read from the environment at the edge."""

from config.settings import Account, ConfigError, Settings, load_settings

__all__ = ["Account", "ConfigError", "Settings", "load_settings"]
