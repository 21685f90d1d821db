"""One module per assertion kind; `trodden.assertions.registry` lists them."""
