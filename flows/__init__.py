"""Ready-to-run flows; copy and adapt them."""
