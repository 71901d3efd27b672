"""Department contracts and table schemas as data (YAML), plus their loader."""
