"""trodden.synthesis: journeys, selection, dedup, test generation, correlation, assertion mining."""
