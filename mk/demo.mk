# Demo (issue 5): the shop, its simulated users, and the detection benchmark.
#
#   make demo                 the whole loop (defined in the Makefile: `trodden demo`)
#   make shop [SHOP_VERSION=2 SHOP_PORT=8080]   run the demo shop in the foreground
#   make shop-traffic TARGET=http://127.0.0.1:8080   run the simulated users against a shop
#   make bench-detection      bench/detection.py: caught/planted, false alarms over 10 v1 replays, peer ratio

SHOP_VERSION ?= 1
SHOP_PORT ?= 8080

.PHONY: shop shop-traffic bench-detection

shop: venv
	.venv/bin/python -m trodden.shop --version $(SHOP_VERSION) --port $(SHOP_PORT)

shop-traffic: venv
	.venv/bin/python -m trodden.shop.traffic --target $(TARGET)

bench-detection: venv system-deps
	.venv/bin/python bench/detection.py
