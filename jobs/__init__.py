"""Ray job entrypoints and configs. This package is the runner: the only code that imports Ray."""
