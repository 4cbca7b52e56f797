"""`comity bench`: seeded non-IID partitions of a public dataset into brands, and the same
model trained centralized, local-only, federated and federated with DP in one run, the brands
running the product's own local code (`federation.brand.local`) in Flower's simulation."""
