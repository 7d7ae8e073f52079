"""Config presets: one module per experiment, each with get_config() -> Config."""
