"""The policies in force, for storefronts to show."""
