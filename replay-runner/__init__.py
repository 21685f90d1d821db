"""trodden.replay: HTTP and browser replay, oracles, noise handling, reports."""
