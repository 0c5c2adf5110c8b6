"""Makes this folder a package, so that its test modules may share a name with those of other folders."""
