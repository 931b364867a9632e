"""Pictures of sessions as self-contained SVG (no script, no external font or stylesheet)."""
