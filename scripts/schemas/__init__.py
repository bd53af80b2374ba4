"""JSON Schemas of the store (a package only so an installed copy ships them)."""
